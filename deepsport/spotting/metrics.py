"""Action spotting metrics: SoccerNet's average-mAP and the interval IoU of temporal grounding.

Average-mAP follows the official evaluation (``SoccerNet/Evaluation/ActionSpotting.py`` in the ``SoccerNet``
package, v0.2.0) step by step, per class:

1. Times are binned at ``framerate`` (2) per second: bin = int(framerate * milliseconds / 1000). A class has at
   most one true event and one prediction per bin and video (we keep the highest-scoring prediction; the
   official code keeps whichever comes last in its file). Predictions with a negative score are dropped.
2. For a tolerance δ seconds, in each video (each half), true events are taken in time order and each is
   matched to the highest-scoring unmatched prediction at most δ/2 seconds (δ·framerate/2 bins) away.
3. Over all videos, precision and recall are computed at 200 score thresholds evenly spaced in [0, 1]
   (score >= threshold), and AP is the 11-point interpolated average precision.
4. mAP at δ is the mean AP over the label vocabulary (a class with no true event scores 0, as officially);
   average-mAP is the trapezoidal mean of mAP over the δ's (endpoints weigh half), and the same per class.

Tight average-mAP uses δ = 1..5 s, loose δ = 5..60 s in steps of 5. Unlike the official code, times past
2 hours are not clipped and the visible / not-shown split is not computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from deepsport.schemas import Span

TIGHT_DELTAS = (1, 2, 3, 4, 5)
LOOSE_DELTAS = tuple(range(5, 65, 5))
FRAMERATE = 2
_THRESHOLDS = np.linspace(0, 1, 200)
_RECALL_POINTS = np.arange(11) / 10


class Marked(Protocol):
    """A true event: a label at a time in seconds from the start of its video."""

    @property
    def label(self) -> str: ...

    @property
    def time(self) -> float: ...


class Scored(Marked, Protocol):
    """A predicted event: label, time and a confidence in [0, 1]."""

    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class AverageMAP:
    value: float  # average-mAP over the deltas
    per_class: dict[str, float]  # average AP of each label over the deltas
    per_delta: dict[float, float]  # mAP at each delta


def average_map(
    truth: Sequence[Sequence[Marked]],
    predictions: Sequence[Sequence[Scored]],
    labels: Sequence[str],
    deltas: Sequence[float] = TIGHT_DELTAS,
    framerate: float = FRAMERATE,
) -> AverageMAP:
    """Average-mAP of ``predictions`` against ``truth``, both one list of events per video (per half), over the
    label vocabulary ``labels``; events with other labels are ignored. See the module docstring."""
    if len(truth) != len(predictions):
        raise ValueError(f"truth covers {len(truth)} videos but predictions cover {len(predictions)}")
    if not deltas or not labels:
        raise ValueError("average-mAP needs at least one delta and one label")
    true_bins = [[_true_bins(video, label, framerate) for video in truth] for label in labels]
    predicted_bins = [[_predicted_bins(video, label, framerate) for video in predictions] for label in labels]
    aps = np.array(
        [
            [_class_ap(true_bins[c], predicted_bins[c], delta * framerate / 2) for c in range(len(labels))]
            for delta in deltas
        ]
    )  # (delta, class)
    per_delta = aps.mean(axis=1)
    return AverageMAP(
        value=_trapezoid_mean(per_delta),
        per_class={label: _trapezoid_mean(aps[:, c]) for c, label in enumerate(labels)},
        per_delta={float(d): float(m) for d, m in zip(deltas, per_delta, strict=True)},
    )


def interval_iou(predicted: Sequence[tuple[float, float]], truth: Sequence[tuple[float, float]]) -> float:
    """Mean over the true intervals of the best IoU any predicted interval reaches with it.

    A true interval no prediction overlaps counts 0; predictions that overlap nothing cost nothing (this scores
    localisation, not precision). Intervals are (start, end) in seconds. Raises ValueError without truth."""
    if not truth:
        raise ValueError("interval IoU needs at least one true interval")
    return float(np.mean(best_ious(predicted, truth)))


def event_interval_iou(
    truth: Sequence[Sequence[Marked]],
    predictions: Sequence[Sequence[Scored]],
    width: float = 2.0,
    min_score: float = 0.5,
) -> float:
    """Interval IoU of point actions: every action becomes the interval of ``width`` seconds centred on it, and
    each true action scores its best IoU with the predictions of its label and video scoring at least
    ``min_score``; returns the mean over all true actions (nan when there are none)."""
    if len(truth) != len(predictions):
        raise ValueError(f"truth covers {len(truth)} videos but predictions cover {len(predictions)}")
    scores: list[float] = []
    for true, predicted in zip(truth, predictions, strict=True):
        for label in {e.label for e in true}:
            kept = [
                (p.time - width / 2, p.time + width / 2) for p in predicted if p.label == label and p.score >= min_score
            ]
            scores += best_ious(kept, [(t.time - width / 2, t.time + width / 2) for t in true if t.label == label])
    return float(np.mean(scores)) if scores else math.nan


def best_ious(predicted: Sequence[tuple[float, float]], truth: Sequence[tuple[float, float]]) -> list[float]:
    """For each true interval, the best IoU any predicted interval reaches with it (0 when there is none)."""
    spans = [Span(start=s, end=e) for s, e in predicted]
    return [max((Span(start=s, end=e).iou(p) for p in spans), default=0.0) for s, e in truth]


def _bin(time: float, framerate: float) -> int:
    return int(framerate * (round(time * 1000) / 1000))


def _true_bins(events: Sequence[Marked], label: str, framerate: float) -> np.ndarray:
    return np.unique([_bin(e.time, framerate) for e in events if e.label == label]).astype(np.int64)


def _predicted_bins(events: Sequence[Scored], label: str, framerate: float) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique bins and the best score in each."""
    best: dict[int, float] = {}
    for e in events:
        if e.label == label and e.score >= 0:
            frame = _bin(e.time, framerate)
            best[frame] = max(best.get(frame, e.score), e.score)
    frames = np.array(sorted(best), dtype=np.int64)
    return frames, np.array([best[f] for f in frames], dtype=np.float64)


def _match(true: np.ndarray, frames: np.ndarray, scores: np.ndarray, tolerance: float) -> np.ndarray:
    """Which predictions are true positives: each true event, in time order, takes the highest-scoring unmatched
    prediction within ``tolerance`` bins (the earliest on ties)."""
    matched = np.zeros(len(frames), dtype=bool)
    for frame in true:
        candidates = np.flatnonzero((np.abs(frames - frame) <= tolerance) & ~matched)
        if len(candidates):
            matched[candidates[np.argmax(scores[candidates])]] = True
    return matched


def _class_ap(true: list[np.ndarray], predicted: list[tuple[np.ndarray, np.ndarray]], tolerance: float) -> float:
    """11-point interpolated AP of one class over all videos, at 200 score thresholds."""
    scores = np.concatenate([s for _, s in predicted])
    hits = np.concatenate([_match(t, f, s, tolerance) for t, (f, s) in zip(true, predicted, strict=True)])
    num_true = sum(len(t) for t in true)
    selected = scores[None, :] >= _THRESHOLDS[:, None]  # (threshold, prediction)
    count = selected.sum(axis=1)
    tp = (selected & hits[None, :]).sum(axis=1).astype(np.float64)
    precision = np.divide(tp, count, out=np.zeros_like(tp), where=count > 0)
    recall = tp / num_true if num_true else np.zeros_like(tp)
    return float(np.mean([precision[recall >= r].max(initial=0.0) for r in _RECALL_POINTS]))


def _trapezoid_mean(values: np.ndarray) -> float:
    """Mean of a curve sampled at the deltas by the trapezoidal rule (endpoints weigh half), as officially."""
    if len(values) == 1:
        return float(values[0])
    return float(sum((values[i] + values[i + 1]) / 2 for i in range(len(values) - 1)) / (len(values) - 1))
