"""What makes a teacher trajectory usable training data: well-formed, grounded in the evidence, not a repeat."""

from __future__ import annotations

from deepsport.schemas import QAItem, Span, Trajectory
from deepsport.scoring import normalize_text


def format_problems(trajectory: Trajectory, think: bool = True) -> list[str]:
    """Why a trajectory is not well-formed SFT data ([] when it is): every turn thinks (when the teacher was asked
    to), parses cleanly and is not cut; every tool call succeeds; the run ends with a tagged, non-empty answer."""
    problems = []
    if trajectory.stop_reason != "answer":
        problems.append(f"no <answer> tag (stopped: {trajectory.stop_reason}{_detail(trajectory.error)})")
    elif not (trajectory.answer or "").strip():
        problems.append("empty answer")
    for turn in trajectory.turns:
        if turn.parse_errors:
            problems.append(f"turn {turn.index}: {turn.parse_errors[0]}")
        if think and not (turn.think or "").strip():
            problems.append(f"turn {turn.index}: no <think>")
        if turn.finish_reason == "length":
            problems.append(f"turn {turn.index}: cut at the token limit")
    problems += [f"tool call {c.name} failed: {c.result}" for c in trajectory.tool_calls if not c.ok]
    return problems


WHOLE_VIDEO_SHARE = 0.8  # evidence covering this much of the video is seen in the initial frames already


def overlaps_evidence(trajectory: Trajectory, evidence: Span | None) -> bool:
    """True when some tool window covers part of the evidence (or a moment of it): frames chosen there, or a pose
    measured there; always True without one or when the evidence covers most of the video (the initial frames,
    spread over the whole video, show it)."""
    if evidence is None or evidence.length >= WHOLE_VIDEO_SHARE * trajectory.video_duration:
        return True
    measured = [call.window for call in trajectory.tool_calls if call.ok and call.window is not None]
    return any(w.start <= evidence.end and evidence.start <= w.end for w in [*trajectory.windows, *measured])


def question_tokens(item: QAItem) -> frozenset[str]:
    return frozenset(normalize_text(item.question).split())


def near_duplicate(tokens: frozenset[str], seen: list[frozenset[str]], threshold: float) -> bool:
    """True when the question's words overlap one already kept (same video and answer) this much (Jaccard)."""
    return any(len(tokens & other) / max(1, len(tokens | other)) >= threshold for other in seen)


def _detail(error: str | None) -> str:
    return f": {error}" if error else ""
