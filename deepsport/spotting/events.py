"""Spotted events and what every spotter shares: the Event record, the Spotter protocol, peak picking and
the filters of ``Spotter.spot``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from deepsport.video import Video


@dataclass(frozen=True)
class Event:
    label: str
    time: float  # seconds from video start
    score: float  # confidence in [0, 1]


class Spotter(Protocol):
    """What the ``spot_actions`` tool needs from a spotter, training-free or trained.

    labels: the vocabulary it can name. note: one line shown to the model with every result, saying what the
    events are (and what the spotter cannot tell). spot: events over the whole video, or only those whose label
    is in `labels`, with start <= time <= end, the `top_k` highest-scoring; sorted by time (see select_events).
    Raises VideoError when the video cannot be read.
    """

    labels: tuple[str, ...]
    note: str

    def spot(
        self,
        video: str | os.PathLike | Video,
        labels: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        top_k: int | None = None,
    ) -> list[Event]: ...


def select_events(
    events: Iterable[Event],
    labels: Sequence[str] | None = None,
    start: float | None = None,
    end: float | None = None,
    top_k: int | None = None,
) -> list[Event]:
    """The events matching the filters of :meth:`Spotter.spot`, the `top_k` best of them, sorted by time."""
    kept = [
        event
        for event in events
        if (labels is None or event.label in labels)
        and (start is None or event.time >= start)
        and (end is None or event.time <= end)
    ]
    if top_k is not None:
        kept = sorted(kept, key=lambda event: -event.score)[:top_k]
    return sorted(kept, key=lambda event: (event.time, -event.score))


def pick_peaks(label: str, times: np.ndarray, score: np.ndarray, min_score: float, gap: float) -> list[Event]:
    """Local maxima of ``score`` of at least ``min_score``, kept best-first at least ``gap`` seconds apart."""
    padded = np.concatenate([[-np.inf], score, [-np.inf]])
    candidates = np.flatnonzero((score >= min_score) & (score >= padded[:-2]) & (score > padded[2:]))
    kept: list[int] = []
    for index in candidates[np.argsort(-score[candidates], kind="stable")]:
        if all(abs(times[index] - times[other]) >= gap for other in kept):
            kept.append(int(index))
    return [Event(label, float(times[i]), float(score[i])) for i in kept]
