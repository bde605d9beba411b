"""``python -m rl ...`` with accelerate's FSDP switched on although the ranks are CPU processes (tests only).

``accelerate launch --config_file configs/accelerate/fsdp2.yaml`` sets ``ACCELERATE_USE_FSDP`` on every rank and the
Accelerator builds its FSDP plugin from it, but ``AcceleratorState`` takes the FSDP branch only when the ranks are
accelerator ranks (``MULTI_GPU``, ``MULTI_NPU``, ...); on a machine without GPUs our trainer arguments pick the CPU,
the ranks are ``MULTI_CPU`` and the plugin is silently dropped (plain DDP). PyTorch's FSDP2 (``fully_shard``)
itself shards, trains and gathers over gloo on CPU ranks, so this wrapper changes that one decision and nothing
else: when the state has just been made with an FSDP plugin on ``MULTI_CPU`` ranks, it becomes ``FSDP`` with that
plugin, as the branch would have made it on GPUs. Everything after (wrapping, sharded optimizer, full-state-dict
checkpoints, resume, ``final/``) is accelerate's, transformers' and TRL's own code, as a user runs it:

    accelerate launch --config_file configs/accelerate/fsdp2.yaml --num_processes 2 -m tests.fsdp_on_cpu sft ...
"""

from __future__ import annotations

import runpy
from typing import Any

from accelerate.state import AcceleratorState, PartialState
from accelerate.utils import DistributedType

_make_state = AcceleratorState.__init__


def _make_state_with_fsdp_on_cpu(self: AcceleratorState, *args: Any, **kwargs: Any) -> None:
    _make_state(self, *args, **kwargs)
    plugin = kwargs.get("fsdp_plugin")
    if plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
        self.distributed_type = DistributedType.FSDP
        self.fsdp_plugin = plugin
        PartialState._shared_state["distributed_type"] = DistributedType.FSDP


AcceleratorState.__init__ = _make_state_with_fsdp_on_cpu  # type: ignore[method-assign]

if __name__ == "__main__":
    runpy.run_module("rl", run_name="__main__", alter_sys=True)
