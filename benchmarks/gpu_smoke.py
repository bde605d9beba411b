"""GPU smoke run: SFT and GRPO steps with tool calls on a tiny and a ~1B-parameter random Qwen3-VL, in bf16.

For a lent GPU (one prepared run, a few minutes; ``benchmarks/gpu_smoke.sh`` installs the carried wheels first):
per model size, a few SFT steps on oracle trajectories, then a few GRPO steps whose rollouts call ``choose_frames``
(transformers generation, no vLLM), each through the real trainers (``rl.sft`` / ``rl.grpo`` ``build_trainer``).
Printed per stage: seconds per step, tokens per second, peak GPU memory, the attention kernel, and for GRPO the
tool-call frequency. On a machine without a GPU it runs the tiny model in float32 (a check of the script itself).

    .venv/bin/python -m benchmarks.gpu_smoke [--work DIR] [--sizes tiny,1b] [--sft-steps 6] [--rl-steps 3]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

from benchmarks.learn_tool_use import AGENT_OVERRIDES, make_items, rows, save
from deepsport.config import load_config
from deepsport.dev.tiny_model import build_tiny_model
from deepsport.hf import attention_implementation
from rl.config import GRPOJob, SFTJob


def measure(trainer, steps: int) -> dict:
    """Train ``steps`` steps; seconds per step (first step apart: it compiles and warms up), tokens/s, memory."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    logs = {k: v for entry in trainer.state.log_history for k, v in entry.items()}
    tokens = logs.get("num_tokens", 0)
    return {
        "steps": trainer.state.global_step,
        "seconds_per_step": seconds / max(1, trainer.state.global_step),
        "tokens_per_second": tokens / seconds if tokens else None,
        "peak_gpu_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "loss": logs.get("loss"),
        "tool_call_frequency": logs.get("tools/call_frequency"),
        "frames_per_rollout": logs.get("rollout/frames"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/gpu_smoke"))
    parser.add_argument("--sizes", default="tiny,1b")
    parser.add_argument("--sft-steps", type=int, default=6)
    parser.add_argument("--rl-steps", type=int, default=3)
    args = parser.parse_args()
    from rl.grpo import build_trainer as grpo_trainer
    from rl.sft import build_trainer as sft_trainer

    cuda = torch.cuda.is_available()
    dtype = "bfloat16" if cuda else "float32"
    sizes = args.sizes.split(",") if cuda else ["tiny"]
    videos = args.work / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    sft_data = save(args.work / "sft_data", rows(make_items(videos, "sft", 12, rng), videos, with_trajectories=True))
    rl_data = save(args.work / "rl_data", rows(make_items(videos, "rl", 8, rng), videos, with_trajectories=False))
    common = [f"model.dtype={dtype}", "model.freeze_vision=false", "train.report_to=[none]", "train.logging_steps=1"]
    common += ["train.save_steps=100000", "train.warmup_steps=0", "train.lr_scheduler_type=constant", "resume=false"]
    results = {"device": torch.cuda.get_device_name() if cuda else "cpu", "attention": attention_implementation(None)}
    for size in sizes:
        model = args.work / f"model-{size}"
        if not model.exists():
            build_tiny_model(model, large=size == "1b")
        sft = load_config(
            SFTJob,
            "configs/sft.yaml",
            [*common, f"model.name_or_path={model}", f"data.path={sft_data}", f"data.video_root={videos}"]
            + [f"train.output_dir={args.work / f'sft-{size}'}", f"train.max_steps={args.sft_steps}"]
            + ["train.per_device_train_batch_size=4", "train.gradient_accumulation_steps=1", "train.learning_rate=3e-3"]
            + ["data.curriculum.enabled=false"],
        )
        trainer = sft_trainer(sft)
        results[f"sft-{size}"] = measure(trainer, args.sft_steps)
        trainer.save_model(str(args.work / f"sft-{size}" / "final"))
        del trainer
        grpo = load_config(
            GRPOJob,
            "configs/grpo.yaml",
            [*common, *AGENT_OVERRIDES, f"model.name_or_path={args.work / f'sft-{size}' / 'final'}"]
            + [f"data.path={rl_data}", f"data.video_root={videos}", f"train.output_dir={args.work / f'grpo-{size}'}"]
            + [f"train.max_steps={args.rl_steps}", "train.per_device_train_batch_size=8", "train.num_generations=8"]
            + ["train.max_completion_length=512", "train.learning_rate=1e-5", "vllm.mode=disabled"]
            + ["train.log_completions=false"],
        )
        trainer = grpo_trainer(grpo)
        results[f"grpo-{size}"] = measure(trainer, args.rl_steps)
        del trainer
        if cuda:
            torch.cuda.empty_cache()
        print(json.dumps({k: v for k, v in results.items() if k.endswith(size)}, indent=2), flush=True)
    (args.work / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
