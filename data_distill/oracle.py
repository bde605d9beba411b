"""The oracle teacher: a well-formed trajectory written from the annotations, run through the real agent loop.

Without a large model at hand, the oracle plays the model's part with a script built from the item, and uses
each tool where it helps (``oracle_plan``):

- a question about the athlete's technique (its template has ``pose``): ``estimate_pose`` over the evidence
  window, with the skeleton drawn on the frames, then the answer;
- a "when" question on a long video (``LONG_VIDEO_SECONDS``): ``spot_actions`` over the whole video, then
  ``choose_frames`` around the spotted moment nearest the evidence, then the answer. When no spotted moment lies
  near the evidence the script falls back to the next plan, so the data never shows a spot result leading
  somewhere it does not point;
- otherwise: ``choose_frames`` around the evidence span (when there is one and the budget allows), then the answer.

Each turn says what to look for or what was seen; the answer is the reference. The script goes through
``deepsport.agent.Agent`` with the real tools, and a turn that follows a tool call is written from what that
tool returned, so the messages, frames and tool results are exactly those a real model would have produced with
the same turns: valid SFT data that the filter checks like any other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from data_distill.checks import WHOLE_VIDEO_SHARE
from data_distill.questions import TEMPLATES
from deepsport.agent import Agent, AgentConfig
from deepsport.backends.base import Completion, GenerationConfig, Message
from deepsport.schemas import QAItem, Span, Trajectory
from deepsport.tools import tool_names
from deepsport.video import Video

ORACLE_MODEL = "oracle"
CONTEXT_SECONDS = 2.0  # looked at on each side of the evidence span (or of a spotted moment), at least
LONG_VIDEO_SECONDS = 60.0  # a "when" question on a video this long asks spot_actions first
Plan = Literal["pose", "spot", "look", "answer"]
Step = Callable[[str], str]  # writes one model turn from the text of the last tool result ("" before any)
# an event line of spot_actions' result: "12.30s shot_cut (score 0.80)"
EVENT_LINE = re.compile(r"^(\d+(?:\.\d+)?)s\s+\S", re.MULTILINE)


class SpotMissed(Exception):
    """No moment spot_actions returned lies near the evidence: the spot plan gives way to the next one."""


class OracleModel:
    """Plays the model's part: each turn is the next step of the script, written from the last tool result."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.name = ORACLE_MODEL
        self.position = 0

    def chat(self, messages: list[Message], config: GenerationConfig) -> Completion:
        step = self.steps[min(self.position, len(self.steps) - 1)]  # the answer, if the agent asks again
        self.position += 1
        return Completion(text=step(last_tool_text(messages)), prompt_tokens=0, completion_tokens=0)

    def close(self) -> None:
        pass


def oracle_trajectory(item: QAItem, video: Path, config: AgentConfig | None = None) -> Trajectory:
    """Run the agent loop on `video` with a script that answers `item` from its annotations (``oracle_plan``).

    The trajectory carries the item's id and relative video path. Raises VideoError when the video cannot be read.
    """
    config = config or AgentConfig()
    with Video(video) as opened:
        duration = opened.info.duration
    plan = oracle_plan(item, duration, config)
    if plan == "spot":
        try:
            return _run(item, video, config, oracle_steps(item, plan, duration, config))
        except SpotMissed:
            plan = "look" if _window(item, duration, "look") is not None else "answer"
    return _run(item, video, config, oracle_steps(item, plan, duration, config))


def oracle_plan(item: QAItem, duration: float, config: AgentConfig) -> Plan:
    """Which tool the oracle shows for `item` on a video of `duration` seconds, among those `config` offers."""
    offered = tool_names(config.tools)
    budget = config.budget
    frames = min(budget.frames_per_call, budget.total_frames)
    template = TEMPLATES.get(str(item.metadata.get("template")))
    if budget.max_turns < 2 or frames < 1:
        return "answer"
    technique = template is not None and template.pose and _window(item, duration, "pose") is not None
    if technique and frames >= 2 and "estimate_pose" in offered:
        return "pose"
    long_when = item.task_type == "temporal_localisation" and duration >= LONG_VIDEO_SECONDS
    has_window = _window(item, duration, "look") is not None
    if long_when and has_window and budget.max_turns >= 3 and {"spot_actions", "choose_frames"} <= set(offered):
        return "spot"
    return "look" if has_window and "choose_frames" in offered else "answer"


def oracle_steps(item: QAItem, plan: Plan, duration: float, config: AgentConfig) -> list[Step]:
    """The script of `plan`: its tool turns, each written from the previous tool result, then the answer."""
    frames = min(config.budget.frames_per_call, config.budget.total_frames)
    if plan == "answer":
        return [lambda _: answer_turn(item, None)]
    if plan == "pose":
        window = _window(item, duration, plan)
        assert window is not None
        arguments = {"start": window.start, "end": window.end, "num_frames": frames, "overlay": True}
        think = (
            f"{_look_for(item)} This is about how the athlete moves: I will measure the pose from "
            f"{window.start:.1f} to {window.end:.1f} s and look at the skeleton on those frames."
        )
        return [lambda _: call_turn(think, "estimate_pose", arguments), lambda _: answer_turn(item, window, "pose")]
    if plan == "spot":
        think = (
            f"The video is {duration:.0f} s long and its initial frames are far apart. {_look_for(item)} I will "
            "find its salient moments with spot_actions, then look closely around the right one."
        )
        seen: list[Span] = []
        return [
            lambda _: call_turn(think, "spot_actions", {}),
            lambda result: _look_at_spotted(item, result, duration, frames, seen),
            lambda _: answer_turn(item, seen[0]),
        ]
    window = _window(item, duration, plan)
    assert window is not None
    think = (
        f"The initial frames are too far apart to answer this. {_look_for(item)} I will look closely at "
        f"{window.start:.1f}-{window.end:.1f} s."
    )
    arguments = {"start": window.start, "end": window.end, "num_frames": frames}
    return [lambda _: call_turn(think, "choose_frames", arguments), lambda _: answer_turn(item, window)]


def _look_at_spotted(item: QAItem, result: str, duration: float, frames: int, seen: list[Span]) -> str:
    """The turn after spot_actions: choose_frames around the returned moment nearest the evidence (SpotMissed when
    none is within CONTEXT_SECONDS of it)."""
    evidence = item.evidence
    assert evidence is not None  # the spot plan needs a window, hence evidence
    times = [float(match) for match in EVENT_LINE.findall(result)]
    near = [t for t in times if evidence.start - CONTEXT_SECONDS <= t <= evidence.end + CONTEXT_SECONDS]
    if not near:
        raise SpotMissed(item.id)
    moment = min(near, key=lambda t: max(evidence.start - t, t - evidence.end, 0.0))
    window = Span(
        start=round(max(0.0, moment - CONTEXT_SECONDS), 2), end=round(min(duration, moment + CONTEXT_SECONDS), 2)
    )
    seen.append(window)
    think = (
        f"The spotter returns {len(times)} events; the one at {moment:.2f} s is where to look. I will look closely "
        f"at {window.start:.1f}-{window.end:.1f} s."
    )
    return call_turn(think, "choose_frames", {"start": window.start, "end": window.end, "num_frames": frames})


def call_turn(think: str, name: str, arguments: dict[str, Any]) -> str:
    """A turn that thinks, then calls one tool."""
    call = json.dumps({"name": name, "arguments": arguments})
    return f"<think>{think}</think>\n<tool_call>\n{call}\n</tool_call>"


def answer_turn(item: QAItem, window: Span | None, tool: str = "frames") -> str:
    """The final turn: what was seen in `window` (by `tool`), why the reference answer follows, the answer."""
    return f"<think>{_rationale(item, window, tool)}</think>\n<answer>{item.answer}</answer>"


def last_tool_text(messages: list[Message]) -> str:
    """The text of the last message when a tool wrote it ("" otherwise)."""
    if not messages or messages[-1]["role"] != "tool":
        return ""
    content = messages[-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(block["text"] for block in content if block.get("type") == "text")


def evidence_window(evidence: Span | None, duration: float) -> Span | None:
    """The window to look at: the evidence span with some context (or without, when that would cover most of the
    video), inside the video; None when there is no evidence, it lies outside the video, or it covers most of
    the video anyway (the initial frames show it)."""
    if evidence is None or evidence.start >= duration or evidence.end < 0:
        return None
    pad = max(CONTEXT_SECONDS, 0.25 * evidence.length)
    start = round(max(0.0, evidence.start - pad), 2)
    end = round(min(duration, evidence.end + pad), 2)
    if end - start <= WHOLE_VIDEO_SHARE * duration:
        return Span(start=start, end=end)
    start, end = max(0.0, evidence.start), min(duration, evidence.end)
    return Span(start=start, end=end) if end - start < WHOLE_VIDEO_SHARE * duration else None


def _window(item: QAItem, duration: float, plan: Plan) -> Span | None:
    """Where the plan's tool looks: the evidence window; for pose, the whole video when the evidence covers most
    of it (the pose is measured over the movement however long it is)."""
    window = evidence_window(item.evidence, duration)
    evidence = item.evidence
    if window is None and plan == "pose" and evidence is not None and evidence.start < duration and evidence.end >= 0:
        return Span(start=0.0, end=round(duration, 2))
    return window


def _run(item: QAItem, video: Path, config: AgentConfig, steps: list[Step]) -> Trajectory:
    trajectory = Agent(OracleModel(steps), config, backend=ORACLE_MODEL).run(video, item.question)
    return trajectory.model_copy(update={"id": item.id, "video": item.video})


def _look_for(item: QAItem) -> str:
    label = item.metadata.get("label")
    if item.answer_type == "time_span":
        return f"I need to find when {label or 'it'} happens."
    if label:
        return f"I need to see the {label} clearly."
    return "I need to see the moment the question is about."


def _rationale(item: QAItem, window: Span | None, tool: str) -> str:
    """What was seen, then why the answer follows: the drafted rationale when the text step wrote one."""
    if window is None:
        seen = "The frames across the video show what the question is about."
    elif tool == "pose":
        seen = f"The pose and the frames from {window.start:.1f} s to {window.end:.1f} s show how the athlete moves."
    else:
        seen = f"The frames from {window.start:.1f} s to {window.end:.1f} s show the moment in question."
    drafted = item.metadata.get("rationale")
    if drafted:
        return f"{seen} {drafted}"
    if item.answer_type == "choice" and item.options:
        index = ord(item.answer.strip().upper()[:1] or "?") - ord("A")
        if 0 <= index < len(item.options):
            return f"{seen} That matches option {item.answer}: {item.options[index]}."
    if item.answer_type == "time_span":
        return f"{seen} It happens at {item.answer} s."
    return f"{seen} The answer is {item.answer}."
