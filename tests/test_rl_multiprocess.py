"""SFT and GRPO in two processes on the CPU, started the way a GPU node starts them: DDP over gloo
(``accelerate launch --multi_gpu --num_processes 2 -m rl sft|grpo``; on a machine without GPUs our trainer arguments
pick the CPU, so the two ranks train together rather than each alone), and FSDP2 with full-state-dict checkpoints
(``accelerate launch --config_file configs/accelerate/fsdp2.yaml``, through ``tests/fsdp_on_cpu.py``, which lets
accelerate shard CPU ranks). LoRA runs under DDP only.

What a user checks after a multi-GPU run: one ``final/`` that ``deepsport ask`` loads and that computes what the
trained weights compute, a resolved ``config.yaml`` written once, and a run that resumes from its checkpoint.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
import torch
from datasets import Dataset, DatasetDict
from rl_data import number_datasets
from typer.testing import CliRunner

from deepsport.agent_config import AgentConfig
from deepsport.cli import app
from deepsport.config import load_config
from deepsport.dev.endpoint import LocalEndpoint, scripted
from deepsport.dev.launch import train_command
from deepsport.schemas import QAItem
from deepsport.tools import Budget
from rl.config import SFTJob

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
AGENT = AgentConfig(initial_frames=2, tools=["choose_frames"], budget=Budget(max_turns=3, frames_per_call=2))
COMMON = ["model.dtype=float32", "model.freeze_vision=false", "train.report_to=[none]", "train.logging_steps=1"]
COMMON += ["train.activation_checkpointing=false", "train.gradient_accumulation_steps=1", "train.seed=0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Four number videos and their oracle trajectories, as SFT and RL datasets (two rows per rank)."""
    root = tmp_path_factory.mktemp("mp-data")
    return number_datasets(root, [7, 4, 2, 9], AGENT, ["recognition"] * 4, duration=6.0, shown=2.0)


SHARDING = {"ddp": {}, "fsdp2": {"accelerate_config": "configs/accelerate/fsdp2.yaml", "module": "tests.fsdp_on_cpu"}}


def launch(kind: str, *overrides: str, sharding: str = "ddp") -> subprocess.CompletedProcess:
    """The job on two ranks, as on a GPU node (plain DDP or the shipped FSDP2 config); returns the finished
    process."""
    config = f"configs/{'sft' if kind == 'sft' else 'grpo'}.yaml"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRL_EXPERIMENTAL_SILENCE": "1"}
    command = train_command(kind, config, [*COMMON, *overrides], processes=2, **SHARDING[sharding])
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def logits(model_dir: Path, adapter: Path | None = None) -> torch.Tensor:
    """The model's logits on a fixed text prompt (LoRA adapter applied when given)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
    tokenizer = AutoProcessor.from_pretrained(model_dir).tokenizer
    ids = tokenizer("What number is shown? <think>", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits


def sft_args(data: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return [f"model.name_or_path={model}", f"data.path={data / 'sft'}", f"data.video_root={data}"] + [
        f"train.output_dir={out}",
        "train.per_device_train_batch_size=2",
        "train.learning_rate=3e-3",
        "train.save_steps=2",
        *extra,
    ]


@pytest.mark.parametrize("sharding", ["ddp", "fsdp2"])
def test_two_process_sft_saves_one_final_model_and_resumes(tiny_model_dir, data, tmp_path, counter_video, sharding):
    model = tiny_model_dir("qwen3-vl")
    result = launch("sft", *sft_args(data, model, tmp_path, "train.max_steps=2"), sharding=sharding)
    assert result.stdout.count("Done. Final model") == 1  # printed by the main process only
    state = json.loads((tmp_path / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2 and state["log_history"][0]["loss"] > 0
    # the resolved config is written once and whole: it loads as the job's config
    assert load_config(SFTJob, tmp_path / "config.yaml").train.max_steps == 2
    if sharding == "fsdp2":
        assert_full_fsdp_checkpoint(tmp_path / "checkpoint-2", steps=2)

    launch("sft", *sft_args(data, model, tmp_path, "train.max_steps=4"), sharding=sharding)  # resumes checkpoint-2
    history = json.loads((tmp_path / "checkpoint-4" / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert [entry["step"] for entry in history if "loss" in entry] == [1, 2, 3, 4]  # each step logged once
    assert losses[2] < losses[0] - 0.1  # step 3 started from the trained weights of checkpoint-2, not the base model
    assert all(step == 4 for step in adam_steps(tmp_path / "checkpoint-4"))  # ... and from its optimizer state
    if sharding == "fsdp2":
        assert_full_fsdp_checkpoint(tmp_path / "checkpoint-4", steps=4)
    final = tmp_path / "final"
    assert sorted(p.name for p in final.glob("*.safetensors")) == ["model.safetensors"]
    assert not (final / "adapter").exists() and not (final / "training_args.bin").exists()
    assert not list(final.glob("*fsdp*")) and not list(final.glob("optimizer*"))
    # final/ computes exactly what the trained weights of the last step compute, and not what the start did
    assert torch.equal(logits(final), logits(tmp_path / "checkpoint-4"))
    assert not torch.allclose(logits(final), logits(model))
    ask = CliRunner().invoke(app, ["ask", str(counter_video), "What is shown?", "--model", str(final), "--json"])
    assert ask.exit_code == 0, ask.output
    assert json.loads(ask.stdout[ask.stdout.index("{") :])["model"] == str(final)


def adam_steps(checkpoint: Path) -> list[int]:
    """The optimizer's step count for every parameter it holds (DDP: ``optimizer.pt``, FSDP: ``optimizer.bin``)."""
    name = "optimizer.bin" if (checkpoint / "optimizer.bin").exists() else "optimizer.pt"
    state = torch.load(checkpoint / name, weights_only=False)["state"]
    return [int(entry["step"]) for entry in state.values()]


def assert_full_fsdp_checkpoint(checkpoint: Path, steps: int) -> None:
    """An FSDP checkpoint with the full state dict: accelerate's gathered model and optimizer files, whole tensors
    for every parameter of the model (not one rank's shard), the model file equal to ``model.safetensors``."""
    from safetensors.torch import load_file

    weights = load_file(checkpoint / "model.safetensors")
    gathered = torch.load(checkpoint / "pytorch_model_fsdp.bin", weights_only=True)
    assert gathered.keys() == weights.keys() and all(torch.equal(gathered[k], weights[k]) for k in weights)
    optimizer = torch.load(checkpoint / "optimizer.bin", weights_only=False)["state"]
    assert optimizer.keys() == weights.keys()
    assert all(optimizer[k]["exp_avg"].shape == weights[k].shape for k in weights)
    assert all(int(entry["step"]) == steps for entry in optimizer.values())


def test_two_process_lora_sft_merges_once(tiny_model_dir, data, tmp_path):
    model = tiny_model_dir("qwen3-vl")
    lora = ["model.lora.enabled=true", "model.lora.r=4", "model.lora.alpha=8", "train.max_steps=2"]
    launch("sft", *sft_args(data, model, tmp_path, *lora))
    final = tmp_path / "final"
    assert not (final / "adapter").exists() and not (final / "adapter_config.json").exists()
    merged = logits(final)
    assert torch.allclose(merged, logits(model, adapter=tmp_path / "checkpoint-2"), atol=1e-5)
    assert not torch.allclose(merged, logits(model))


@pytest.mark.parametrize("sharding", ["ddp", "fsdp2"])
def test_two_process_grpo_writes_one_final_model_and_shares_the_judge_cache(tiny_model_dir, data, tmp_path, sharding):
    """Both ranks score open-text rollouts with the judge; its verdict cache stays one sound SQLite file."""
    rows = Dataset.load_from_disk(str(data / "rl" / "train")).to_list()
    for row in rows[:2]:  # two open-text questions per step, one on each rank
        row["qa"] = QAItem.model_validate_json(row["qa"]).model_copy(update={"answer_type": "text"}).model_dump_json()
    DatasetDict(train=Dataset.from_list(rows)).save_to_disk(str(tmp_path / "rl"))
    model = tiny_model_dir("qwen3-vl")
    with LocalEndpoint(scripted(lambda messages: '{"score": 0.0, "rationale": "different"}')) as judge:
        overrides = [f"model.name_or_path={model}", f"data.path={tmp_path / 'rl'}", f"data.video_root={data}"]
        overrides += [f"train.output_dir={tmp_path / 'run'}", "vllm.mode=disabled", "train.max_steps=1"]
        overrides += ["train.save_steps=1", "train.per_device_train_batch_size=2", "train.num_generations=4"]
        overrides += ["train.max_completion_length=64", "agent.initial_frames=2", "agent.tools=[choose_frames]"]
        overrides += ["agent.budget.max_turns=2", "train.learning_rate=1e-3", "train.log_completions=false"]
        overrides += ["reward.judge.model=judge", f"reward.judge.base_url={judge.url}"]
        result = launch("rl", *overrides, sharding=sharding)
        judged = {json.dumps(r.body["messages"], sort_keys=True) for r in judge.requests}
    run = tmp_path / "run"
    assert result.stdout.count("Done. Final model") == 1
    assert torch.equal(logits(run / "final"), logits(run / "checkpoint-1"))
    if sharding == "fsdp2":
        assert_full_fsdp_checkpoint(run / "checkpoint-1", steps=1)
    assert "reward/total" in json.loads((run / "checkpoint-1" / "trainer_state.json").read_text())["log_history"][0]
    cache = sqlite3.connect(run / "judge_cache.sqlite")
    assert cache.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert judged and cache.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == len(judged)
