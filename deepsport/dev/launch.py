"""The command that starts a training job the way a GPU node does, for tests and benchmarks on the CPU."""

from __future__ import annotations

import os
import sys


def train_command(
    kind: str,
    config: str,
    overrides: list[str],
    processes: int = 1,
    accelerate_config: str | None = None,
    module: str = "rl",
) -> list[str]:
    """``deepsport train KIND`` in this interpreter, or with ``processes`` > 1 ``accelerate launch`` of
    ``python -m rl KIND`` on that many ranks (on a machine without GPUs they train together over gloo): plain DDP
    (``--multi_gpu``), or as ``accelerate_config`` (e.g. ``configs/accelerate/fsdp2.yaml``) sets it up. ``module``
    replaces ``rl`` by a wrapper that runs it."""
    if processes == 1:
        return [sys.executable, "-m", "deepsport", "train", kind, "--config", config, *overrides]
    launch = [sys.executable, "-m", "accelerate.commands.launch"]
    launch += ["--multi_gpu"] if accelerate_config is None else ["--config_file", accelerate_config]
    launch += [f"--num_processes={processes}", "--num_machines=1", "--mixed_precision=no", "--dynamo_backend=no"]
    launch += [f"--main_process_port={29500 + os.getpid() % 1000}"]
    return [*launch, "-m", module, "sft" if kind == "sft" else "grpo", "--config", config, *overrides]
