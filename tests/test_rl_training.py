"""``deepsport train sft`` and ``deepsport train rl`` end to end on tiny offline Qwen3-VL and Qwen2.5-VL models
(Qwen2.5-VL with the tool template ``deepsport ask`` gives it) and synthetic videos.

The SFT data are oracle trajectories (the real agent loop with scripted turns) whose frames are read back from
the videos; the loss mask is checked token by token. The SFT-fitted model then drives GRPO rollouts that call
``choose_frames`` through the tool environment, and the frames it returns must reach the training forward.
"""

import json
import os
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from rl_data import number_datasets
from typer.testing import CliRunner

from deepsport.agent_config import AgentConfig
from deepsport.cli import app
from deepsport.config import ConfigError, load_config
from deepsport.schemas import Trajectory
from deepsport.tools import Budget
from rl.batching import AssistantOnlyCollator
from rl.config import GRPOJob, SFTJob
from rl.data import load_split, sft_transform, trajectory_messages
from rl.models import load_processor

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
AGENT = AgentConfig(initial_frames=2, tools=["choose_frames"], budget=Budget(max_turns=3, frames_per_call=2))
AGENT_OVERRIDES = [
    "agent.initial_frames=2",
    "agent.tools=[choose_frames]",
    "agent.budget.max_turns=3",
    "agent.budget.frames_per_call=2",
]
TINY = ["model.dtype=float32", "model.freeze_vision=false", "train.report_to=[none]"]
FAMILIES = ["qwen3-vl", "qwen2.5-vl"]
SMALL = ["train.activation_checkpointing=false", "train.gradient_accumulation_steps=1", "train.logging_steps=1"]


@pytest.fixture(scope="session")
def sft_data(tmp_path_factory):
    """Two number videos (8 s, the digit shown 3-4 s), their oracle trajectories, as SFT and RL datasets."""
    root = tmp_path_factory.mktemp("rl-data")
    return number_datasets(root, [7, 4], AGENT, ["counting", "recognition"], duration=8.0, shown=3.0)


def train(kind, *overrides):
    config = "configs/sft.yaml" if kind == "sft" else "configs/grpo.yaml"
    return CliRunner().invoke(app, ["train", kind, "--config", config, *map(str, overrides)])


@pytest.fixture(scope="session", params=FAMILIES)
def sft_model(request, tiny_model_dir, sft_data, tmp_path_factory):
    """Each family's tiny model fitted by ``deepsport train sft`` to the oracle trajectories (they call the tool)."""
    out = tmp_path_factory.mktemp(f"sft-run-{request.param}")
    result = train(
        "sft",
        *TINY,
        *SMALL,
        f"model.name_or_path={tiny_model_dir(request.param)}",
        f"data.path={sft_data / 'sft'}",
        f"data.video_root={sft_data}",
        f"train.output_dir={out}",
        "train.max_steps=60",
        "train.learning_rate=3e-3",
        "train.lr_scheduler_type=constant",
        "train.warmup_steps=0",
        "train.per_device_train_batch_size=2",
        "train.save_steps=1000",
    )
    assert result.exit_code == 0, result.output
    return out


def sft_settings(data, model_dir, out, *extra):
    return load_config(
        SFTJob,
        "configs/sft.yaml",
        [*TINY, *SMALL, f"model.name_or_path={model_dir}", f"data.path={data / 'sft'}", f"data.video_root={data}"]
        + [f"train.output_dir={out}", *extra],
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_is_on_assistant_tokens_only(tiny_model_dir, sft_data, tmp_path, family):
    config = sft_settings(sft_data, tiny_model_dir(family), tmp_path)
    dataset = load_split(config.data, ("video", "trajectory")).with_transform(sft_transform(sft_data))
    processor = load_processor(config.model.name_or_path)
    batch = AssistantOnlyCollator(processor)([dataset[0], dataset[1]])
    tokenizer = processor.tokenizer
    image_pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    merge = processor.image_processor.merge_size
    assert (batch["input_ids"] == image_pad).sum() == batch["image_grid_thw"].prod(-1).sum() // merge**2
    for row in range(2):
        trajectory = Trajectory.model_validate_json(dataset.with_format(None)[row]["trajectory"])
        ids, labels = batch["input_ids"][row], batch["labels"][row]
        trained = ids[labels != -100]
        expected = "".join(turn.text + "<|im_end|>" for turn in trajectory.turns)
        assert tokenizer.decode(trained) == expected  # thoughts, tool calls, answers and each turn's end
        assert len(trajectory.turns) == 2 and trajectory.tool_calls  # the tool was called, its frames came back
        assert image_pad not in trained.tolist()
        assert (labels[ids == image_pad] == -100).all()
        masked = tokenizer.decode(ids[(labels == -100) & (batch["attention_mask"][row] == 1)])
        assert "<tool_response>" in masked and trajectory.tool_calls[0].result in masked
        assert (labels[labels != -100] == ids[labels != -100]).all()


def test_sft_frames_are_the_trajectory_frames(sft_data):
    row = Dataset.load_from_disk(str(sft_data / "sft" / "train"))[0]
    trajectory = Trajectory.model_validate_json(row["trajectory"])
    messages = trajectory_messages(trajectory, sft_data / row["video"])
    images = [b for m in messages if isinstance(m["content"], list) for b in m["content"] if b["type"] == "image"]
    assert [b["time"] for b in images] == trajectory.frame_times
    assert all(b["image"].size == (96, 64) for b in images)


def test_curriculum_orders_by_task_type_then_length(sft_data):
    config = load_config(
        SFTJob,
        None,
        [f"data.path={sft_data / 'sft'}", "data.curriculum.enabled=true", "data.curriculum.task_types=[recognition]"],
    )
    assert load_split(config.data, ())["task_type"] == ["recognition", "counting"]


def test_an_unknown_curriculum_task_type_is_a_one_line_error():
    with pytest.raises(ConfigError) as err:
        load_config(SFTJob, None, ["data.curriculum.task_types=[recognition, localization]"])
    message = str(err.value)
    assert "unknown task type 'localization'" in message and "temporal_localisation" in message
    assert "\n" not in message


@pytest.mark.slow
def test_sft_writes_resolved_config_and_resumes(tiny_model_dir, sft_data, tmp_path):
    args = [*TINY, *SMALL, f"model.name_or_path={tiny_model_dir('qwen3-vl')}", f"data.path={sft_data / 'sft'}"]
    args += [f"data.video_root={sft_data}", f"train.output_dir={tmp_path}", "train.save_steps=1"]
    assert train("sft", *args, "train.max_steps=2").exit_code == 0
    resolved = load_config(SFTJob, tmp_path / "config.yaml")
    assert resolved.train.max_steps == 2 and resolved.model.name_or_path == str(tiny_model_dir("qwen3-vl"))
    state_path = tmp_path / "checkpoint-2" / "trainer_state.json"
    state = json.loads(state_path.read_text())
    state["log_history"][0]["marker"] = "from the first run"
    state_path.write_text(json.dumps(state))
    result = train("sft", *args, "train.max_steps=3")
    assert result.exit_code == 0, result.output
    history = json.loads((tmp_path / "checkpoint-3" / "trainer_state.json").read_text())["log_history"]
    assert history[0].get("marker") == "from the first run"  # the second run continued the first
    assert (tmp_path / "final" / "model.safetensors").exists()


def test_bad_config_is_one_line_error(sft_data, tmp_path):
    result = train("sft", "train.lr=1")
    assert result.exit_code == 1 and "unknown key 'train.lr'" in result.stderr and "Traceback" not in result.output
    result = train("rl", f"data.path={tmp_path / 'missing'}")
    assert result.exit_code == 1 and f"dataset {tmp_path / 'missing'} not found" in result.stderr
    result = train("rl", f"data.path={sft_data / 'rl'}", f"model.name_or_path={tmp_path / 'nowhere'}")
    assert result.exit_code == 1 and "nowhere not found" in result.stderr


def grpo_config(sft_model, sft_data, out, *extra):
    return load_config(
        GRPOJob,
        "configs/grpo.yaml",
        [*TINY, *SMALL, *AGENT_OVERRIDES, f"model.name_or_path={sft_model / 'final'}", f"data.path={sft_data / 'rl'}"]
        + [f"data.video_root={sft_data}", f"train.output_dir={out}", "vllm.mode=disabled", "train.save_steps=1000"]
        + ["train.per_device_train_batch_size=4", "train.num_generations=4", "train.max_completion_length=512"]
        + ["train.learning_rate=1e-3", "train.temperature=0.3", "train.log_completions=false", *extra],
    )


def test_rollout_prompt_is_the_agent_prompt(sft_model, sft_data, tmp_path):
    """What the policy sees in GRPO is token for token what ``deepsport ask`` shows it."""
    from rl.grpo import build_trainer

    trainer = build_trainer(grpo_config(sft_model, sft_data, tmp_path))
    row = trainer.train_dataset[0]
    observation = trainer.environment_factories[None]().reset(**row)
    prompt = [row["prompt"][0], {"role": "user", "content": [{"type": "text", "text": ""}, *observation]}]
    trainer._batch_environments = [None]
    [ids], _, _ = trainer._tokenize_prompts([prompt])
    trajectory = Trajectory.model_validate_json(
        Dataset.load_from_disk(str(sft_data / "sft" / "train"))[0]["trajectory"]
    )
    agent_messages = trajectory_messages(trajectory, sft_data / "n0.mp4")[:2]
    rendered = trainer.processing_class.apply_chat_template(agent_messages, add_generation_prompt=True, tokenize=True)
    assert list(ids) == list(rendered[0])


@pytest.mark.slow
def test_grpo_rollouts_call_the_tool_and_its_frames_reach_the_forward(sft_model, sft_data, tmp_path):
    from rl.grpo import build_trainer

    config = grpo_config(sft_model, sft_data, tmp_path, "train.max_steps=2")
    trainer = build_trainer(config)
    image_pad = trainer.processing_class.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    merge = trainer.processing_class.image_processor.merge_size
    seen = []  # (image tokens, vision features, images, sequences) of each training forward

    def record(module, args, kwargs):
        if not torch.is_grad_enabled():  # generation and scoring passes: only training forwards build the loss
            return
        ids, grid = kwargs["input_ids"], kwargs.get("image_grid_thw")
        features = int(grid.prod(-1).sum()) // merge**2 if grid is not None else 0
        seen.append((int((ids == image_pad).sum()), features, len(grid) if grid is not None else 0, len(ids)))

    trainer.model.register_forward_pre_hook(record, with_kwargs=True)
    trainer.train()
    logs = {key: value for entry in trainer.state.log_history for key, value in entry.items()}
    assert logs["tools/call_frequency"] > 0 and logs["rollout/tool_call_rate"] > 0
    for name in ("accuracy", "format", "tool", "total"):
        assert f"reward/{name}" in logs
    assert logs["rollout/turns"] > 1 and logs["rollout/frames"] > config.agent.initial_frames
    assert seen, "no training forward was seen"
    for tokens, features, _, _ in seen:
        assert tokens == features > 0  # every image token has its frame: none were dropped
    # more frames than the initial ones reached a training forward: the tool's frames
    assert max(images / sequences for _, _, images, sequences in seen) > config.agent.initial_frames
    assert torch.isfinite(torch.tensor([entry.get("loss", 0.0) for entry in trainer.state.log_history])).all()


def test_video_paths_may_not_escape_the_root(tmp_path):
    from rl.data import DataError, video_path

    with pytest.raises(DataError, match="outside the video root"):
        video_path(tmp_path, "../elsewhere.mp4")
    assert video_path(tmp_path, "a/b.mp4") == (tmp_path / "a" / "b.mp4").resolve()


def test_resolved_config_round_trips(tmp_path):
    from rl.config import write_resolved

    config = load_config(GRPOJob, "configs/grpo.yaml", ["reward.gate=need", "train.learning_rate=2e-6"])
    assert load_config(GRPOJob, write_resolved(config, tmp_path)) == config
    assert Path("configs/accelerate/zero3.yaml").exists() and Path("configs/accelerate/zero2.yaml").exists()
