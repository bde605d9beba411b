"""The oracle teacher: a well-formed trajectory written from the annotations, run through the real agent loop.

Without a large model at hand, the oracle plays the model's part with a script built from the item: look at
the initial frames, say what to look for, call ``choose_frames`` around the evidence span (when there is one
and the budget allows), say what was seen, answer with the reference. The script goes through
``deepsport.agent.Agent`` with the real tools, so the messages, frames and tool results are exactly those a
real model would have produced with the same turns: valid SFT data that the filter checks like any other.
"""

from __future__ import annotations

import json
from pathlib import Path

from data_distill.checks import WHOLE_VIDEO_SHARE
from deepsport.agent import Agent, AgentConfig
from deepsport.backends.replay import ReplayChatModel
from deepsport.schemas import QAItem, Span, Trajectory
from deepsport.video import Video

ORACLE_MODEL = "oracle"
CONTEXT_SECONDS = 2.0  # looked at on each side of the evidence span, at least


def oracle_trajectory(item: QAItem, video: Path, config: AgentConfig | None = None) -> Trajectory:
    """Run the agent loop on `video` with a script that answers `item` from its annotations.

    The trajectory carries the item's id and relative video path. Raises VideoError when the video cannot be read.
    """
    config = config or AgentConfig()
    with Video(video) as opened:
        duration = opened.info.duration
    window = evidence_window(item.evidence, duration) if _can_call_tool(config) else None
    frames = min(config.budget.frames_per_call, config.budget.total_frames)
    texts = oracle_turns(item, window, frames)
    agent = Agent(ReplayChatModel(texts, name=ORACLE_MODEL), config, backend=ORACLE_MODEL)
    trajectory = agent.run(video, item.question)
    return trajectory.model_copy(update={"id": item.id, "video": item.video})


def oracle_turns(item: QAItem, window: Span | None, num_frames: int) -> list[str]:
    """The scripted model turns: a look closer at `window` (if any), then the reference answer."""
    answer = f"<think>{_rationale(item, window)}</think>\n<answer>{item.answer}</answer>"
    if window is None:
        return [answer]
    call = {"name": "choose_frames", "arguments": {"start": window.start, "end": window.end, "num_frames": num_frames}}
    look = (
        f"<think>The initial frames are too far apart to answer this. {_look_for(item)} I will look closely at "
        f"{window.start:.1f}-{window.end:.1f} s.</think>\n<tool_call>\n{json.dumps(call)}\n</tool_call>"
    )
    return [look, answer]


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


def _can_call_tool(config: AgentConfig) -> bool:
    budget = config.budget
    allowed = config.tools is None or "choose_frames" in config.tools
    return allowed and budget.max_turns >= 2 and min(budget.frames_per_call, budget.total_frames) > 0


def _look_for(item: QAItem) -> str:
    label = item.metadata.get("label")
    if item.answer_type == "time_span":
        return f"I need to find when {label or 'it'} happens."
    if label:
        return f"I need to see the {label} clearly."
    return "I need to see the moment the question is about."


def _rationale(item: QAItem, window: Span | None) -> str:
    """What was seen, then why the answer follows: the drafted rationale when the text step wrote one."""
    seen = (
        f"The frames from {window.start:.1f} s to {window.end:.1f} s show the moment in question."
        if window is not None
        else "The frames across the video show what the question is about."
    )
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
