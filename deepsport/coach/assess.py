"""``deepsport coach``: the agent assesses an attempt, then the library's clips are ranked for what it found.

The agent (any ``ChatModel``, the usual tools) watches the attempt and names the likely mistakes in words; the
words and the user's question rank the narration, and the attempt's pose signature ranks the movement. With
nobody visible in the attempt the clips are ranked by text alone, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepsport.agent import Agent, Observer
from deepsport.agent_config import AgentConfig
from deepsport.backends.base import ChatModel
from deepsport.coach.library import LibraryError, Signature
from deepsport.coach.ranking import Index, Match
from deepsport.schemas import Trajectory

NO_PERSON = "no person visible in the attempt: ranked by text only"


def coach_question(sport: str | None, question: str | None) -> str:
    """What the agent is asked about the attempt."""
    what = f"this {sport} attempt" if sport else "this attempt"
    ask = f' The athlete asks: "{question}"' if question else ""
    return (
        f"You are a coach. Watch {what} closely (look at frames and measure the pose where it helps).{ask} "
        "What is the athlete doing wrong? Name the likely mistakes in one or two sentences, the way a coach would: "
        "the body part, the movement phase and what goes wrong."
    )


def assess(
    video: Path,
    model: ChatModel,
    config: AgentConfig,
    sport: str | None,
    question: str | None,
    backend: str = "",
    observer: Observer | None = None,
) -> Trajectory:
    """The agent's run on the attempt; its answer states the mistakes. Raises VideoError."""
    return Agent(model, config, backend=backend).run(video, coach_question(sport, question), observer)


def attempt_signature(video: Path, start: float | None, end: float | None) -> Signature | None:
    """The attempt's pose signature over [start, end] (the whole video by default); None when nobody is visible.
    Raises PoseUnavailable without MediaPipe, VideoError on a bad video."""
    from deepsport.coach.signature import signatures
    from deepsport.pose.estimator import PoseEstimator

    estimator = PoseEstimator()
    try:
        return next(signatures(str(video), [(start or 0.0, end if end is not None else float("inf"))], estimator))
    finally:
        estimator.close()


@dataclass
class Coaching:
    """What ``deepsport coach`` found: the mistakes, the ranked clips and notes about how they were ranked."""

    video: str
    start: float | None
    end: float | None
    sport: str | None
    question: str | None
    mistakes: str | None
    matches: list[Match]
    notes: list[str] = field(default_factory=list)
    trajectory: Trajectory | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "start": self.start,
            "end": self.end,
            "sport": self.sport,
            "question": self.question,
            "mistakes": self.mistakes,
            "notes": self.notes,
            "clips": [m.to_json() for m in self.matches],
            "trajectory": None if self.trajectory is None else self.trajectory.model_dump(mode="json"),
        }


def recommend(
    index: Index,
    video: Path,
    sport: str | None,
    question: str | None,
    mistakes: str | None,
    signature: Signature | None,
    top_k: int = 5,
    start: float | None = None,
    end: float | None = None,
) -> Coaching:
    """Rank the library for the attempt; LibraryError when there is nothing to rank by."""
    notes = [] if signature is not None else [NO_PERSON]
    text = " ".join(t for t in (question, mistakes) if t) or None
    if text is None and signature is None:
        raise LibraryError("nothing to rank by: no person visible in the attempt and no mistake named; add --question")
    if sport and sport.lower() not in set(index.sports.tolist()):
        known = ", ".join(sorted(set(index.sports.tolist())))
        notes.append(f"the library has no clips for sport '{sport}' (it has: {known}); searched every sport")
        sport = None
    matches = index.search(text, signature, sport, top_k)
    if index.warning:
        notes.append(index.warning)
    return Coaching(str(video), start, end, sport, question, mistakes, matches, notes)
