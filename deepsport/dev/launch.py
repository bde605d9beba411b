"""The command that starts a training job the way a GPU node does, for tests and benchmarks on the CPU."""

from __future__ import annotations

import os
import sys


def train_command(kind: str, config: str, overrides: list[str], processes: int = 1) -> list[str]:
    """``deepsport train KIND`` in this interpreter, or with ``processes`` > 1 ``accelerate launch`` of
    ``python -m rl KIND`` on that many ranks (on a machine without GPUs they train together over gloo)."""
    if processes == 1:
        return [sys.executable, "-m", "deepsport", "train", kind, "--config", config, *overrides]
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", f"--num_processes={processes}"]
    launch += ["--num_machines=1", "--mixed_precision=no", "--dynamo_backend=no"]
    launch += [f"--main_process_port={29500 + os.getpid() % 1000}"]
    return [*launch, "-m", "rl", "sft" if kind == "sft" else "grpo", "--config", config, *overrides]
