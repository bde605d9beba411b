"""Reading a model turn: ``<think>``, ``<tool_call>{json}</tool_call>`` and ``<answer>`` tags.

Never raises: whatever the model wrote comes back as a ``ParsedTurn`` whose ``errors`` say, in words the
model can act on, what could not be understood.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)
CALL_FORMAT = '<tool_call>\n{"name": <tool-name>, "arguments": {...}}\n</tool_call>'


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class ParsedTurn:
    think: str | None = None
    answer: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rest: str = ""  # text outside every tag
    requests: list[ToolCall | str] = field(default_factory=list)  # each <tool_call> in order: a call or its error

    @property
    def tagged(self) -> bool:
        return self.answer is not None or bool(self.tool_calls) or bool(self.errors)


def parse_turn(text: str) -> ParsedTurn:
    """Split one model output into thought, tool calls, answer and left-over text."""
    turn = ParsedTurn()
    body = text
    if "</think>" in body and "<think>" not in body:  # the template may have opened the thought for the model
        body = "<think>" + body
    if match := _THINK.search(body):
        turn.think = match.group(1).strip()
        body = body[: match.start()] + body[match.end() :]
    for match in _TOOL_CALL.finditer(body):
        call, error = parse_tool_call(match.group(1))
        if call is not None:
            turn.tool_calls.append(call)
        else:
            turn.errors.append(error)
        turn.requests.append(call or error)
    body = _TOOL_CALL.sub("", body)
    if match := _ANSWER.search(body):
        turn.answer = match.group(1).strip()
        body = body[: match.start()] + body[match.end() :]
    turn.rest = body.strip()
    return turn


def parse_tool_call(payload: str) -> tuple[ToolCall | None, str]:
    """One ``<tool_call>`` body into a ToolCall, or None and the reason it could not be read."""
    payload = payload.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    start = payload.find("{")
    if start < 0:
        return None, f"the tool call holds no JSON object. Write it as {CALL_FORMAT}"
    try:
        obj, _ = json.JSONDecoder().raw_decode(payload[start:])
    except json.JSONDecodeError as err:
        return None, f"the tool call is not valid JSON ({err.msg} at character {err.pos}). Write it as {CALL_FORMAT}"
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None, f'the tool call needs a "name" string. Write it as {CALL_FORMAT}'
    arguments = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(arguments, str):  # some models encode the arguments object as a string
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            return None, f"the arguments of {obj['name']} are not a JSON object. Write it as {CALL_FORMAT}"
    if not isinstance(arguments, dict):
        return None, f"the arguments of {obj['name']} must be a JSON object. Write it as {CALL_FORMAT}"
    return ToolCall(name=obj["name"], arguments=arguments), ""
