"""A small benchmark built from synthetic videos, with scripted model replies whose scores are known in advance.

The scripted model (served by ``serve`` on a real local OpenAI-compatible endpoint) reads the question from the
conversation and plays that question's agent turns, or its baseline answer when the system prompt lists no
tools; the same server also plays the judge, scoring each candidate answer as scripted. Replies depend on the
conversation only, so they stay right whatever order concurrent requests arrive in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepsport.dev.endpoint import LocalEndpoint, message_text, scripted
from deepsport.dev.synthetic import make_video
from deepsport.schemas import QAItem


def frames_call(start: float, end: float, n: int) -> str:
    call = json.dumps({"name": "choose_frames", "arguments": {"start": start, "end": end, "num_frames": n}})
    return f"<think>Look closer.</think>\n<tool_call>\n{call}\n</tool_call>"


# id: (video, question, answer type, answer, options, sport, dimension, agent turns, baseline answer)
ITEMS = {
    "n1": ("number.mp4", "What number is shown?", "number", "7", None, "soccer", "recognition",
           [frames_call(1.0, 3.0, 4), "<think>It is 7.</think><answer>7</answer>"], "<answer>3</answer>"),
    "n2": ("color.mp4", "What colour is the background at the end?", "choice", "C", ["grey", "red", "blue"], "tennis",
           "recognition", ["<answer>B</answer>"], "<answer>C</answer>"),
    "n3": ("number.mp4", "When is the number shown?", "time_span", "1.0-3.0", None, "soccer", "rules",
           ["<answer>1.0-2.0</answer>"], "<answer>0-4</answer>"),
    "n4": ("number.mp4", "What did the referee decide?", "text", "a penalty kick", None, "basketball", "commentary",
           ["<answer>a penalty</answer>"], "<answer>a penalty</answer>"),
    "n5": ("color.mp4", "Which card was shown?", "text", "a yellow card", None, "tennis", "assessment",
           ["<answer>a red card</answer>"], "<answer>a yellow card</answer>"),
    "n6": ("color.mp4", "Which side serves?", "choice", "A", ["near", "far"], "tennis", "rules",
           [frames_call(0.0, 1.0, 2), "<answer>(A) near</answer>"], "<answer>B</answer>"),
    "n7": ("corrupt.mp4", "Which number is displayed?", "number", "7", None, "soccer", "recognition",
           ["<answer>7</answer>"], "<answer>7</answer>"),
    "n8": ("color.mp4", "How many times does the colour change?", "number", "1", None, "soccer", "assessment",
           ["<answer>one</answer>"], "<answer>1</answer>"),
}  # fmt: skip
VERDICTS = {"a penalty": '{"score": 1, "rationale": "same"}', "a red card": '{"score": 0, "rationale": "wrong card"}'}

# Known in advance: n7's video is corrupt (an error row), every other item is scored.
AGENT_SCORES = {"n1": 1.0, "n2": 0.0, "n3": 0.5, "n4": 1.0, "n5": 0.0, "n6": 1.0, "n8": 1.0}
BASELINE_SCORES = {"n1": 0.0, "n2": 1.0, "n3": 0.5, "n4": 1.0, "n5": 1.0, "n6": 0.0, "n8": 1.0}


def build_benchmark(root: Path) -> Path:
    """Write the synthetic videos and ``bench.jsonl`` for ``ITEMS`` under ``root``; returns the benchmark path."""
    make_video(root / "number.mp4", duration=4.0, fps=10.0, size=(160, 120), show_number=(7, 1.0, 3.0))
    make_video(root / "color.mp4", duration=4.0, fps=10.0, size=(160, 120), colors=[(2.0, (0, 0, 255))])
    (root / "corrupt.mp4").write_text("not a video\n")
    return write_benchmark(root / "bench.jsonl", ITEMS)


def write_benchmark(path: Path, items: dict[str, tuple]) -> Path:
    """One QAItem line per entry of an ``ITEMS``-like table."""
    lines = []
    for item_id, (video, question, kind, answer, options, sport, dimension, *_) in items.items():
        item = QAItem(
            id=item_id,
            video=video,
            question=question,
            answer=answer,
            answer_type=kind,
            options=options,
            sport=sport,
            dimension=dimension,
        )
        lines.append(item.model_dump_json())
    path.write_text("\n".join(lines) + "\n")
    return path


def scripted_model(
    failing: set[str] | frozenset[str] = frozenset(),
    items: dict[str, tuple] = ITEMS,
    verdicts: dict[str, str] = VERDICTS,
) -> Callable[[list[dict]], str | None]:
    """The replies of the model and judge for ``items``; the items in ``failing`` (which the caller may change)
    get a 500."""
    questions = {fields[1]: item_id for item_id, fields in items.items()}

    def reply(messages: list[dict]) -> str | None:
        system = message_text(messages[0])
        if system.startswith("You grade answers"):
            return verdicts.get(message_text(messages[-1]).split("Candidate answer: ")[-1])
        item_id = questions[message_text(messages[1]).split("Question: ")[-1]]
        if item_id in failing:
            return None
        if "# Tools" not in system:
            return items[item_id][8]
        turn = sum(m["role"] == "assistant" for m in messages)
        return items[item_id][7][turn]

    return reply


def serve(delay: float = 0.0, **script: Any) -> LocalEndpoint:
    """The scripted model and judge (``scripted_model(**script)``) on a local endpoint that answers one request
    at a time, each after ``delay`` seconds."""
    return LocalEndpoint(scripted(scripted_model(**script)), latency=delay, slots=1)
