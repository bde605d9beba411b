"""Loading the policy for training: processor with a tool-capable template, model, LoRA, checkpoints."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor, PreTrainedModel, ProcessorMixin, Trainer
from transformers.trainer import TRAINING_ARGS_NAME
from transformers.trainer_utils import get_last_checkpoint

from deepsport.console import console
from deepsport.hf import attention_implementation, with_tool_template
from deepsport.prompts import chat_template
from rl.config import GRPOJob, ModelSettings, SFTJob, write_resolved

if TYPE_CHECKING:
    from peft import PeftModel

VISION_PREFIXES = ("visual", "model.visual")


def load_processor(name_or_path: str) -> ProcessorMixin:
    """The processor, with the tool template and response parser a Qwen2.5-VL checkpoint lacks.

    Qwen2.5-VL's own template cannot render tool responses: it gets the one ``deepsport ask`` installs, and its
    tokenizer gets TRL's Qwen3 response parser (the two templates write tool calls the same way).
    """
    looks_local = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") != 1
    if looks_local and not Path(name_or_path).expanduser().exists():
        raise OSError(f"model {name_or_path} not found: give a checkpoint directory or a hub id (org/name)")
    processor = with_tool_template(AutoProcessor.from_pretrained(name_or_path))
    tokenizer = processor.tokenizer
    if processor.chat_template == chat_template("qwen2_5_vl_tools") and tokenizer.response_template is None:
        from trl.chat_template_utils import qwen3_template

        tokenizer.response_template = qwen3_template  # TRL knows Qwen3-VL's own template, not ours
    return processor


def load_model(settings: ModelSettings) -> PreTrainedModel | PeftModel:
    """The model in the configured dtype and attention kernel (logged), LoRA-wrapped or with a frozen vision tower
    as configured."""
    attention = attention_implementation(settings.attn_implementation)
    if is_main_process():
        console.print(f"Loading {settings.name_or_path} ({settings.dtype}, attention: {attention})")
    model = AutoModelForImageTextToText.from_pretrained(
        settings.name_or_path, dtype=getattr(torch, settings.dtype), attn_implementation=attention
    )
    if settings.lora.enabled:
        from peft import LoraConfig, get_peft_model

        lora = settings.lora
        config = LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
            exclude_modules=r".*visual.*",
            task_type="CAUSAL_LM",
        )
        return get_peft_model(model, config)
    if settings.freeze_vision:
        for name, parameter in model.named_parameters():
            if name.startswith(VISION_PREFIXES):
                parameter.requires_grad_(False)
    return model


def is_main_process() -> bool:
    """Whether this is the first process of a run (torchrun, accelerate and deepspeed launchers set RANK)."""
    return os.environ.get("RANK", "0") == "0"


def device_args(settings: ModelSettings) -> dict[str, Any]:
    """Trainer arguments every job shares: mixed precision from the model dtype, and the CPU when there is no GPU
    (so that two processes started by torchrun or ``accelerate launch`` train together over gloo, not alone)."""
    return {
        "bf16": settings.dtype == "bfloat16",
        "fp16": settings.dtype == "float16",
        "use_cpu": not torch.cuda.is_available(),
    }


def train_and_save(config: SFTJob | GRPOJob, build_trainer: Callable[[Any], Trainer]) -> Path:
    """Write the resolved config (main process), train (from the last checkpoint when resuming) and save the final
    model to ``<output_dir>/final``, which ``deepsport ask --model`` loads; return that path."""
    output_dir = Path(config.train.output_dir)
    trainer = build_trainer(config)
    if trainer.accelerator.is_main_process:
        write_resolved(config, output_dir)
    last = get_last_checkpoint(str(output_dir)) if config.resume and output_dir.is_dir() else None
    trainer.train(resume_from_checkpoint=last)
    return save_final(trainer, config.model, output_dir / "final")


def save_final(trainer: Trainer, settings: ModelSettings, out: str | Path) -> Path:
    """Save a checkpoint ``deepsport ask --model`` loads, once, from the full weights.

    The trainer gathers sharded weights (ZeRO-3 with ``zero3_save_16bit_model``, FSDP with a full state dict) and
    writes on the main process only. LoRA adapters are saved the same way, then merged by the main process into
    the base weights read afresh from ``model.name_or_path``: a sharded model cannot be merged in place.
    """
    out = Path(out)
    accelerator = trainer.accelerator
    if not settings.lora.enabled:
        trainer.save_model(str(out))
    else:
        adapter = out / "adapter"
        trainer.save_model(str(adapter))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            from peft import PeftModel

            dtype = getattr(torch, settings.dtype)
            base = AutoModelForImageTextToText.from_pretrained(settings.name_or_path, dtype=dtype)
            PeftModel.from_pretrained(base, adapter).merge_and_unload().save_pretrained(out)
            if trainer.processing_class is not None:
                trainer.processing_class.save_pretrained(out)
            shutil.rmtree(adapter)
    if accelerator.is_main_process:
        (out / TRAINING_ARGS_NAME).unlink(missing_ok=True)  # the run's arguments stay in checkpoint-N/
    accelerator.wait_for_everyone()
    return out
