"""What loading a Qwen-VL checkpoint with transformers needs beyond ``from_pretrained``, in one place for the
in-process backend and training: the tool-capable chat template and the attention kernel."""

from __future__ import annotations

import importlib.util
import logging

import torch
from transformers import ProcessorMixin

from deepsport.prompts import chat_template

log = logging.getLogger(__name__)

ATTENTION = ("auto", "flash_attention_2", "sdpa", "eager")


def with_tool_template(processor: ProcessorMixin) -> ProcessorMixin:
    """Give a processor whose template cannot render tool responses (Qwen2.5-VL's own) the one ``deepsport ask``
    uses; returns the processor. The two templates write tool calls the same way."""
    if "tool_response" not in (processor.chat_template or ""):
        processor.chat_template = chat_template("qwen2_5_vl_tools")
    return processor


def attention_implementation(name: str | None, device: torch.device | str | None = None) -> str:
    """The attention kernel to load with: ``auto`` (or None) picks flash_attention_2 when the flash-attn package
    is installed and a CUDA device is used, else sdpa. An explicit flash_attention_2 without flash-attn is refused
    with a one-line reason instead of failing deep inside ``from_pretrained``."""
    has_flash = importlib.util.find_spec("flash_attn") is not None
    on_cuda = torch.device(device).type == "cuda" if device is not None else torch.cuda.is_available()
    if name in (None, "auto"):
        chosen = "flash_attention_2" if has_flash and on_cuda else "sdpa"
        log.info("attention: %s (flash-attn %s)", chosen, "installed" if has_flash else "not installed")
        return chosen
    if name not in ATTENTION:
        raise ValueError(f"unknown attention implementation {name!r}; choose one of {', '.join(ATTENTION)}")
    if name == "flash_attention_2" and not has_flash:
        raise ValueError("attn_implementation flash_attention_2 needs the flash-attn package; use auto or sdpa")
    return name
