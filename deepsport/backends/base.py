"""The one interface every model backend implements: continue a conversation.

A conversation is a list of chat messages in the Hugging Face format the Qwen-VL chat templates render:
``{"role": "system" | "user" | "assistant" | "tool", "content": str | list[block]}`` where a block is
``{"type": "text", "text": str}`` or ``{"type": "image", "image": PIL.Image.Image}``. Assistant messages hold
the model's raw text (``<think>``, ``<tool_call>`` and ``<answer>`` tags included), so re-rendering a
conversation reproduces exactly the tokens the model produced. Tools are listed in the system message text,
never passed to the template separately, so every backend renders the same prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Message = dict[str, Any]


class BackendError(RuntimeError):
    """A model could not be loaded or could not answer; the message is one line a user can act on."""


@dataclass
class GenerationConfig:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    seed: int | None = None


@dataclass
class Completion:
    text: str  # the new assistant text, without the end-of-turn token
    prompt_tokens: int  # tokens in the whole prompt of this turn
    completion_tokens: int
    cached_tokens: int = 0  # prompt tokens reused from a previous turn (not prefilled again)
    seconds: float = 0.0
    finish_reason: str = "stop"  # "stop" or "length"


class ChatModel(Protocol):
    """Continues a conversation with one assistant message."""

    name: str

    def chat(self, messages: list[Message], config: GenerationConfig) -> Completion: ...

    def close(self) -> None: ...
