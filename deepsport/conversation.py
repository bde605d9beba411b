"""Conversions of a chat conversation: to JSON for traces, back from a trace, and to/from the OpenAI format.

In memory, an image block is ``{"type": "image", "image": PIL.Image, "time": seconds}``. In a trace the
pixels are dropped and the time kept, so a trajectory can be replayed by reading those frames again.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

from PIL import Image

from deepsport.hermes import call_id, native_assistant
from deepsport.prompts import split_tools

Message = dict[str, Any]


def to_json(messages: list[Message]) -> list[Message]:
    """A JSON-serialisable copy: image blocks keep their timestamp, not their pixels."""
    return [_map_blocks(m, lambda b: {"type": "image", "time": b.get("time")} if _is_image(b) else b) for m in messages]


def restore_images(messages: list[Message], load: Callable[[float], Image.Image]) -> list[Message]:
    """The inverse of ``to_json``: ``load(time)`` gives the frame shown at that time (e.g. via Video)."""
    return [_map_blocks(m, lambda b: {**b, "image": load(b["time"])} if _is_image(b) else b) for m in messages]


def to_openai(messages: list[Message], jpeg_quality: int = 90) -> list[Message]:
    """OpenAI chat format: images as base64 JPEG data URLs, tool results as user turns.

    A run of ``tool`` messages becomes one user message wrapped in ``<tool_response>`` tags, which the Qwen
    chat templates render to exactly the text they render for ``tool`` messages; hosted APIs, which accept
    no images in tool messages, take it too.
    """
    out: list[Message] = []
    previous_tool = False
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "tool":
            parts = [_text("<tool_response>\n"), *_openai_parts(_blocks(content), jpeg_quality)]
            parts.append(_text("\n</tool_response>"))
            if previous_tool:
                out[-1]["content"] = _merge_text([*out[-1]["content"], _text("\n"), *parts])
            else:
                out.append({"role": "user", "content": _merge_text(parts)})
        elif isinstance(content, str):
            out.append({"role": role, "content": content})
        else:
            out.append({"role": role, "content": _merge_text(_openai_parts(content, jpeg_quality))})
        previous_tool = role == "tool"
    return out


def to_openai_native(
    messages: list[Message], tool_images: str = "user", jpeg_quality: int = 90
) -> tuple[list[Message], list[dict[str, Any]]]:
    """OpenAI chat format with native tool calling: the messages and the ``tools`` taken out of the system text.

    Assistant turns become ``deepsport.hermes.native_assistant`` messages (no earlier thoughts, ``tool_calls`` with
    ids); each tool result becomes a ``tool`` message answering the next id. With ``tool_images="user"`` (OpenAI
    refuses images in tool messages) a tool message keeps the text and the frames follow, with their time labels,
    in one user message after the run of results; with ``"tool"`` (vLLM, SGLang) they stay in the tool message.
    """
    out: list[Message] = []
    tools: list[dict[str, Any]] = []
    ids: list[str] = []
    frames: list[dict] = []
    turn = 0
    for message in messages:
        role, content = message["role"], message["content"]
        if role != "tool" and frames:
            out.append({"role": "user", "content": _merge_text(frames)})
            frames = []
        if role == "system" and isinstance(content, str):
            prompt, tools = split_tools(content)
            out.append({"role": "system", "content": prompt})
        elif role == "assistant":
            native, ids = native_assistant(content if isinstance(content, str) else "", turn)
            out.append(native)
            turn += 1
        elif role == "tool":
            answers = ids.pop(0) if ids else call_id(turn - 1, 0)
            blocks = _blocks(content)
            parts: str | list[dict]
            if tool_images == "tool":
                parts = _merge_text(_openai_parts(blocks, jpeg_quality))
            else:
                parts, shown = _split_frames(blocks)
                if shown:
                    frames += [_text(f"\nFrames returned by {answers}:"), *_openai_parts(shown, jpeg_quality)]
            out.append({"role": "tool", "tool_call_id": answers, "content": parts})
        elif isinstance(content, str):
            out.append({"role": role, "content": content})
        else:
            out.append({"role": role, "content": _merge_text(_openai_parts(content, jpeg_quality))})
    if frames:
        out.append({"role": "user", "content": _merge_text(frames)})
    return out, tools


def from_openai(messages: list[Message]) -> list[Message]:
    """OpenAI chat format back to in-memory blocks (data URLs decoded to PIL images)."""
    out = []
    for message in messages:
        content = message.get("content") or ""
        if not isinstance(content, str):
            content = [_from_openai_part(part) for part in content]
        out.append({"role": message["role"], "content": content})
    return out


def image_to_data_url(image: Image.Image, quality: int = 90) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def data_url_to_image(url: str) -> Image.Image:
    if not url.startswith("data:"):
        raise ValueError("only data: URLs are accepted for images (base64-encoded JPEG or PNG)")
    _, _, payload = url.partition(",")
    return Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB")


def _split_frames(blocks: list[dict]) -> tuple[str, list[dict]]:
    """A tool result's text, and its frames each with the time label written just before it."""
    text, frames = [], []
    for n, block in enumerate(blocks):
        labels_next = block.get("type") == "text" and n + 1 < len(blocks) and _is_image(blocks[n + 1])
        if _is_image(block) or labels_next:
            frames.append(block)
        else:
            text.append(block["text"])
    return "".join(text), frames


def _is_image(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "image"


def _map_blocks(message: Message, fn: Callable[[dict], dict]) -> Message:
    content = message["content"]
    if isinstance(content, str):
        return dict(message)
    return {**message, "content": [fn(block) for block in content]}


def _blocks(content: str | list[dict]) -> list[dict]:
    return [_text(content)] if isinstance(content, str) else content


def _text(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def _openai_parts(blocks: list[dict], jpeg_quality: int) -> list[dict]:
    parts: list[dict] = []
    for block in blocks:
        if _is_image(block):
            url = image_to_data_url(block["image"], jpeg_quality)
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            parts.append(_text(block["text"]))
    return parts


def _merge_text(parts: list[dict]) -> list[dict]:
    """Join neighbouring text parts (templates concatenate them anyway) and drop empty ones."""
    merged: list[dict] = []
    for part in parts:
        if part["type"] == "text":
            if not part["text"]:
                continue
            if merged and merged[-1]["type"] == "text":
                merged[-1] = _text(merged[-1]["text"] + part["text"])
                continue
        merged.append(part)
    return merged


def _from_openai_part(part: dict) -> dict:
    if part.get("type") == "image_url":
        url = part["image_url"]["url"] if isinstance(part["image_url"], dict) else part["image_url"]
        return {"type": "image", "image": data_url_to_image(url)}
    if part.get("type") == "text":
        return _text(part["text"])
    raise ValueError(f"unsupported content part type {part.get('type')!r}: send text and image_url parts")
