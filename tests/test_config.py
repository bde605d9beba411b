"""Typed configs from YAML plus dot-list overrides, with one-line errors naming the bad key."""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from data_distill.config import DistillConfig
from deepsport.agent_config import AgentConfig
from deepsport.backends import GenerationConfig
from deepsport.config import ConfigError, load_config
from deepsport.tools import Budget, tool_names
from eval.config import EvalConfig
from rl.config import GRPOJob, SFTJob


@dataclass
class Inner:
    rate: float = 0.5
    names: list[str] = field(default_factory=list)


@dataclass
class Job:
    out: Path = Path("out")
    steps: int = 10
    mode: Literal["fast", "slow"] = "fast"
    url: str | None = None
    inner: Inner = field(default_factory=Inner)
    agent: AgentConfig = field(default_factory=AgentConfig)


def test_yaml_then_overrides_build_nested_typed_dataclasses(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("steps: 3\ninner:\n  rate: 1\n  names: [a, b]\nagent:\n  budget:\n    max_turns: 4\n")
    job = load_config(Job, path, ["inner.rate=0.25", "mode=slow", "url=http://x", "agent.generation.temperature=0.7"])
    assert job.steps == 3 and job.mode == "slow" and job.url == "http://x" and job.out == Path("out")
    assert job.inner == Inner(rate=0.25, names=["a", "b"])
    assert job.agent.budget.max_turns == 4 and job.agent.budget.total_frames == 32
    assert job.agent.generation.temperature == 0.7 and job.agent.sampling == "uniform"


@pytest.mark.parametrize(
    "text, overrides, message",
    [
        ("stpes: 3\n", [], "unknown key 'stpes'; known keys here: out, steps"),
        ("", ["inner.rte=1"], "unknown key 'inner.rte'"),
        ("steps: three\n", [], "steps must be int, got 'three'"),
        ("", ["steps=true"], "steps must be int, got True"),
        ("", ["mode=medium"], "mode must be one of 'fast', 'slow', got 'medium'"),
        ("inner: 3\n", [], "inner must be a mapping"),
        ("", ["inner.names=x"], "inner.names must be a list"),
        ("", ["steps"], "must look like key.sub=value"),
        ("- a\n", [], "must hold a mapping"),
        ("a: [\n", [], "is not valid YAML"),
    ],
)
def test_bad_configs_fail_with_one_line_naming_the_key(tmp_path, text, overrides, message):
    path = tmp_path / "job.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(Job, path, overrides)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Job, tmp_path / "nope.yaml")


def test_the_baseline_preset_is_what_eval_baseline_always_built():
    old_baseline = AgentConfig(initial_frames=16, tools=[], budget=Budget(max_turns=1, total_frames=0))
    assert AgentConfig.preset("baseline") == old_baseline
    rollout = AgentConfig(initial_frames=4, sampling="motion", budget=Budget(frames_per_call=2))
    assert rollout.with_preset("no_tools") == AgentConfig(
        initial_frames=4, sampling="motion", tools=[], budget=Budget(max_turns=1, frames_per_call=2, total_frames=0)
    )


def test_a_preset_gives_starting_values_and_keys_beside_it_win(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("agent:\n  preset: baseline\n  initial_frames: 12\n  budget: {max_turns: 2}\n")
    agent = load_config(Job, path).agent
    assert (agent.initial_frames, agent.tools, agent.budget.max_turns, agent.budget.total_frames) == (12, [], 2, 0)
    path.write_text("agent:\n  initial_frames: 4\n  budget: {max_turns: 3}\n")
    fresh = load_config(Job, path, ["agent.preset=baseline", "agent.generation.max_new_tokens=64"]).agent
    assert fresh == dataclasses.replace(AgentConfig.preset("baseline"), generation=GenerationConfig(64))
    with pytest.raises(ConfigError, match=r"^agent.preset must be one of 'no_tools', 'baseline', got 'fast'$"):
        load_config(Job, None, ["agent.preset=fast"])


def test_a_section_of_a_job_config(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("steps: 3\nagent:\n  initial_frames: 4\n")
    assert load_config(AgentConfig, path, ["sampling=motion"], section="agent") == AgentConfig(
        initial_frames=4, sampling="motion"
    )
    path.write_text("steps: 3\n")
    with pytest.raises(ConfigError, match="has no agent: section"):
        load_config(AgentConfig, path, section="agent")


CONFIGS = Path(__file__).parents[1] / "configs"
JOBS = {"distill.yaml": DistillConfig, "sft.yaml": SFTJob, "grpo.yaml": GRPOJob, "eval.yaml": EvalConfig}
ACCELERATE = ["accelerate/zero2.yaml", "accelerate/zero3.yaml", "accelerate/fsdp2.yaml"]


def test_every_shipped_config_loads_through_its_real_loader():
    assert sorted(p.relative_to(CONFIGS).as_posix() for p in CONFIGS.rglob("*.y*ml")) == sorted([*JOBS, *ACCELERATE])
    jobs = {name: load_config(cls, CONFIGS / name) for name, cls in JOBS.items()}
    agents = [jobs["distill.yaml"].teacher.agent, jobs["grpo.yaml"].agent, jobs["eval.yaml"].agent]
    assert {agent.max_pixels for agent in agents} == {AgentConfig().max_pixels}  # one frame size everywhere
    # GRPO offers the tools the teacher shows in the SFT data, with the budget its trajectories use
    teacher, rollout = jobs["distill.yaml"].teacher.agent, jobs["grpo.yaml"].agent
    assert tool_names(teacher.tools) == tool_names(rollout.tools) and teacher.budget == rollout.budget
    assert {"choose_frames", "spot_actions"} <= set(tool_names(rollout.tools)) and rollout.budget.max_turns >= 3
    cluster = pytest.importorskip("accelerate.commands.config.config_args").ClusterConfig
    for name in ACCELERATE:
        assert cluster.from_yaml_file(CONFIGS / name).num_processes == 8
    fsdp = cluster.from_yaml_file(CONFIGS / "accelerate/fsdp2.yaml").fsdp_config
    assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    from transformers import Qwen3VLForConditionalGeneration  # the layers it wraps are the model's own blocks

    assert fsdp["fsdp_transformer_layer_cls_to_wrap"].split(",") == Qwen3VLForConditionalGeneration._no_split_modules
