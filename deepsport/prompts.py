"""Every piece of prompt text the agent shows a model: one place, so all backends and stages agree."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from deepsport.video import Frame

SYSTEM_PROMPT = (
    "You are DeepSport, an expert sports video analyst. You see a few frames of a video, each labelled "
    "with its time in seconds from the start. Think inside <think></think>. To look closer, call a tool; "
    "its frames or numbers come back to you. Put your final answer inside <answer></answer>."
)

FINAL_PROMPT = "Your tool budget is spent. Give your final answer now inside <answer></answer>."

NUDGE_PROMPT = "Call a tool, or give your final answer inside <answer></answer>."

CUT_PROMPT = (
    "Your reply was cut at the token limit before it called a tool or answered. Think more briefly, then call a "
    "tool or give your final answer inside <answer></answer>."
)


def chat_template(name: str) -> str:
    """A chat template shipped in ``deepsport/templates``: "qwen3_vl" or "qwen2_5_vl_tools" (see its README)."""
    return resources.files("deepsport").joinpath(f"templates/{name}.jinja").read_text(encoding="utf-8")


def tools_block(tool_schemas: Sequence[dict[str, Any]]) -> str:
    """The tool list exactly as the Qwen3-VL (Hermes) chat template renders it after the system text.

    Writing it into the system message ourselves means every backend (in-process, vLLM, hosted APIs)
    renders the same prompt, whatever its server does with an OpenAI ``tools`` field.
    """
    signatures = "".join("\n" + json.dumps(schema, ensure_ascii=False) for schema in tool_schemas)
    return (
        "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
        f"{signatures}\n</tools>\n\nFor each function call, return a json object with function name and "
        'arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
        '"arguments": <args-json-object>}\n</tool_call>'
    )


def split_tools(system: str) -> tuple[str, list[dict[str, Any]]]:
    """The inverse of ``system_message``: the prompt and the tool schemas of a system text (none if it lists none),
    for endpoints that take tools as an OpenAI ``tools`` field and render them into the prompt themselves."""
    prompt, marker, rest = system.partition("\n\n# Tools\n\n")
    if not marker or "<tools>" not in rest:
        return system, []
    listed = rest.rsplit("</tools>", 1)[0].rsplit("<tools>", 1)[1]  # the list, after "<tools></tools> XML tags"
    return prompt, [json.loads(line) for line in listed.splitlines() if line.strip()]


def system_message(tool_schemas: Sequence[dict[str, Any]], prompt: str = SYSTEM_PROMPT) -> dict[str, Any]:
    content = prompt + tools_block(tool_schemas) if tool_schemas else prompt
    return {"role": "system", "content": content}


def time_label(seconds: float) -> str:
    return f"{seconds:.2f}s"


def frame_blocks(frames: Sequence[Frame]) -> list[dict[str, Any]]:
    """Each frame as a timestamp label followed by its image."""
    blocks: list[dict[str, Any]] = []
    for frame in frames:
        blocks.append({"type": "text", "text": f"\n{time_label(frame.time)}: "})
        blocks.append({"type": "image", "image": frame.image, "time": frame.time})
    return blocks


def question_message(frames: Sequence[Frame], duration: float, question: str) -> dict[str, Any]:
    """The first user turn: the initial frames over the whole video, then the question."""
    intro = f"A video of {duration:.1f} s. {len(frames)} frames from across it:"
    content = [{"type": "text", "text": intro}, *frame_blocks(frames)]
    content.append({"type": "text", "text": f"\nQuestion: {question}"})
    return {"role": "user", "content": content}


def text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}
