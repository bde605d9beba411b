"""A ChatModel wrapper that answers a request it has seen before from an on-disk cache, so a re-run costs nothing.

The key is the request itself: model name, generation settings and every message, images by a hash of their
pixels (the frames sent, not the times they were taken at, so two videos never share a key), plus how the client
puts them on the wire (`wire`, e.g. the tool protocol: a native-protocol run must not reuse Hermes-mode answers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from typing import Any

from deepsport.backends.base import ChatModel, Completion, GenerationConfig, Message
from deepsport.cache import DiskCache, cache_key


class CachingChatModel:
    """Looks a request up in `cache` before asking `model`; stores every answer it gets."""

    def __init__(self, model: ChatModel, cache: DiskCache, wire: tuple[str, ...] = ()) -> None:
        self.model = model
        self.cache = cache
        self.wire = wire
        self.name = model.name
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def chat(self, messages: list[Message], config: GenerationConfig) -> Completion:
        key = request_key(self.name, messages, config, self.wire)
        if (hit := self.cache.get(key)) is not None:
            with self._lock:
                self.hits += 1
            return Completion(**hit)
        completion = self.model.chat(messages, config)
        self.cache.put(key, dataclasses.asdict(completion))
        with self._lock:
            self.misses += 1
        return completion

    def close(self) -> None:
        self.model.close()


def request_key(model: str, messages: list[Message], config: GenerationConfig, wire: tuple[str, ...] = ()) -> str:
    return cache_key("chat", model, *wire, dataclasses.asdict(config), [_hashed(m) for m in messages])


def _hashed(message: Message) -> Message:
    content = message["content"]
    if isinstance(content, str):
        return message
    return {**message, "content": [_block(b) for b in content]}


def _block(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") != "image":
        return block
    image = block["image"]
    digest = hashlib.sha256(image.tobytes()).hexdigest()
    return {"type": "image", "size": list(image.size), "sha256": digest}
