"""The one stored form of a model turn, the Hermes text the Qwen chat templates render and SFT trains on:
``<think>thought</think>`` then the text (``<answer>`` included), then one ``<tool_call>{"name", "arguments"}
</tool_call>`` per call. ``write_turn`` writes an endpoint's native reply (a separate thought, native tool calls)
into it; ``native_assistant`` reads a stored turn back into the native message an endpoint expects in the history.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from deepsport.parsing import parse_tool_call

_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)
_THINK = re.compile(r"^.*?</think>|<think>.*?(?:</think>|$)", re.S)


def write_turn(content: str, thought: str | None = None, calls: Sequence[dict[str, Any]] = ()) -> str:
    """One turn in Hermes form: the thought (unless `content` already holds one), the content, then the calls.

    A call is ``{"name": str | None, "arguments": dict | str}`` as the endpoint sent it: a missing name or
    arguments that are not JSON are written as they came, so the parser shows the model its mistake."""
    parts = []
    if thought and thought.strip() and "</think>" not in content:
        parts.append(f"<think>\n{thought.strip()}\n</think>")
    if content.strip():
        parts.append(content.strip())
    for call in calls:
        body = {"name": call["name"]} if call.get("name") is not None else {}
        body["arguments"] = call.get("arguments", {})
        parts.append(f"<tool_call>\n{json.dumps(body, ensure_ascii=False)}\n</tool_call>")
    return "\n\n".join(parts)


def read_native_calls(tool_calls: Any) -> list[dict[str, Any]]:
    """The calls of a native ``message.tool_calls`` (``[{"id", "type", "function": {"name", "arguments"}}]``,
    arguments a JSON string) as ``write_turn`` takes them; raises ValueError when it is not a list."""
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise ValueError(f"tool_calls must be a list, got {type(tool_calls).__name__}")
    calls = []
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        function = function if isinstance(function, dict) else {}
        name = function.get("name") if isinstance(function.get("name"), str) and function.get("name") else None
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):  # kept as the string it is when not JSON: the model reads that it is not
            with contextlib.suppress(json.JSONDecodeError):
                arguments = json.loads(arguments) if arguments.strip() else {}
        calls.append({"name": name, "arguments": arguments})
    return calls


def call_id(turn: int, k: int) -> str:
    """The id of the k-th call of assistant turn `turn` when a conversation is sent natively."""
    return f"call_{turn}_{k}"


def native_assistant(text: str, turn: int) -> tuple[dict[str, Any], list[str]]:
    """A stored assistant turn as a native message: its text without the thought (Thinking templates drop earlier
    thoughts) or the ``<tool_call>`` blocks, which become ``tool_calls`` with ids ``call_<turn>_<k>``; and the ids.
    A block that does not parse is sent as a call with no arguments (servers reject arguments that are not JSON)."""
    calls = []
    for k, match in enumerate(_TOOL_CALL.finditer(text)):
        call, _ = parse_tool_call(match.group(1))
        name, arguments = (call.name, call.arguments) if call else ("invalid_tool_call", {})
        function = {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}
        calls.append({"id": call_id(turn, k), "type": "function", "function": function})
    content = _TOOL_CALL.sub("", _THINK.sub("", text, count=1)).strip()
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    return message, [call_id(turn, k) for k in range(len(calls))]


def native_reply(text: str, reasoning_field: str | None = None, tools: bool = False) -> dict[str, Any]:
    """The reply message a vLLM server sends for a model's turn `text`: with a reasoning parser the thought goes to
    `reasoning_field` (``reasoning_content`` up to vLLM 0.10, ``reasoning`` since 0.11); with the hermes tool parser
    (`tools`) the calls go to ``tool_calls`` (ids ``chatcmpl-tool-<hex>``), unless one does not parse, when the text
    stays as it was. ``content`` is None when nothing is left."""
    message: dict[str, Any] = {"role": "assistant"}
    content = text
    if reasoning_field is not None:
        if match := _THINK.search(content):
            thought = match.group(0).replace("<think>", "").replace("</think>", "").strip()
            message[reasoning_field] = thought or None
            content = content[: match.start()] + content[match.end() :]
        else:
            message[reasoning_field] = None
    calls = [parse_tool_call(m.group(1))[0] for m in _TOOL_CALL.finditer(content)] if tools else []
    if calls and all(calls):
        message["tool_calls"] = [
            {
                "id": f"chatcmpl-tool-{uuid.uuid4().hex}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
            }
            for call in calls
            if call is not None
        ]
        content = _TOOL_CALL.sub("", content)
    message["content"] = content.strip() or None
    return message
