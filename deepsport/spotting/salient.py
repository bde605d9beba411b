"""The training-free spotter: salient moments from motion, colour change and loudness, without naming actions.

Each signal (see :mod:`deepsport.spotting.signals`) becomes a cue activity in [0, 1] on the sample grid:
- motion_burst: motion energy, with single-sample spikes (cuts) removed and averaged over ±MOTION_SMOOTH
  seconds, far above its usual level;
- shot_cut: a colour-histogram change much larger than the changes just before and after it (abrupt);
- audio_peak: loudness far above its usual level (crowd roar, whistle, commentary bursts).
"Far above its usual level" is a robust z-score (median and MAD over the video, the MAD floored so that
near-constant signals do not turn noise into events) mapped to [0, 1]. A ``highlight`` is where the cues
agree: each cue is spread over ±HIGHLIGHT_SPREAD seconds, fading linearly, and they are fused by a weighted
noisy-or. Events are local maxima with at least MIN_SCORE, thinned by non-maximum suppression within a
minimum gap per label. The thresholds were set on the synthetic test videos and the real clips in
../shared/clips (cuts there score 0.23 or more on abruptness, motion within a shot 0.10 or less).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from deepsport.spotting.events import Event, pick_peaks, select_events
from deepsport.spotting.signals import Signals, compute_signals
from deepsport.video import Video

LABELS = ("highlight", "shot_cut", "audio_peak", "motion_burst")
MIN_SCORE = 0.2
GAP = {"highlight": 3.0, "shot_cut": 1.0, "audio_peak": 2.0, "motion_burst": 2.0}  # NMS gap in seconds
Z_START, Z_SCALE = 3.0, 4.0  # activity = 1 - exp(-(z - Z_START) / Z_SCALE) above Z_START
MOTION_FLOOR = 0.005  # smallest motion MAD used (about 1.3 grey levels)
MOTION_SMOOTH = 0.2  # seconds either side
LOUDNESS_FLOOR = 3.0  # smallest loudness MAD used, dB
LOUDNESS_GATE = -50.0  # dBFS below which a loudness rise is not a peak
CUT_START, CUT_FULL = 0.12, 0.42  # abrupt colour change (total variation) where a cut starts to count / is certain
HIGHLIGHT_SPREAD = 1.0  # seconds
HIGHLIGHT_WEIGHTS = {"audio_peak": 0.9, "motion_burst": 0.7, "shot_cut": 0.5}


class SalientSpotter:
    """Training-free spotter; computes a video's signals once and keeps them for later calls."""

    labels: tuple[str, ...] = LABELS  # typed as the Spotter protocol declares it
    note = (
        "training-free spotter: these are generic salient moments found from motion, shot cuts and loudness; "
        "it cannot name specific actions such as goals, fouls or serves"
    )

    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}

    def spot(
        self,
        video: str | os.PathLike | Video,
        labels: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        top_k: int | None = None,
    ) -> list[Event]:
        """See :class:`deepsport.spotting.Spotter`. A Video is read again from its file at a tiny pixel budget."""
        path = str(Path(video.info.path if isinstance(video, Video) else video).resolve())
        if path not in self._events:
            self._events[path] = find_events(compute_signals(path))
        return select_events(self._events[path], labels, start, end, top_k)


def find_events(signals: Signals) -> list[Event]:
    """All events of every label in a video's signals, sorted by time."""
    times = signals.times
    cues = cue_activities(signals)
    events = [event for label, activity in cues.items() for event in peaks(label, times, activity)]
    events += peaks("highlight", times, highlight(times, cues))
    return sorted(events, key=lambda event: event.time)


def cue_activities(signals: Signals) -> dict[str, np.ndarray]:
    """Each cue's activity in [0, 1] per sample: how strongly the sample stands out."""
    half = round(MOTION_SMOOTH / _spacing(signals.times))
    motion = np.convolve(np.pad(despike(signals.motion), half), np.ones(2 * half + 1) / (2 * half + 1), "valid")
    cues = {
        "motion_burst": activity(surprise(motion, MOTION_FLOOR)),
        "shot_cut": np.clip((_abruptness(signals.change) - CUT_START) / (CUT_FULL - CUT_START), 0, 1),
    }
    if signals.loudness is not None:
        loud = activity(surprise(signals.loudness, LOUDNESS_FLOOR))
        cues["audio_peak"] = np.where(signals.loudness >= LOUDNESS_GATE, loud, 0.0)
    return cues


def highlight(times: np.ndarray, cues: dict[str, np.ndarray]) -> np.ndarray:
    """Weighted noisy-or of the cues, each spread over ±HIGHLIGHT_SPREAD seconds, so that agreeing cues add up."""
    half = round(HIGHLIGHT_SPREAD / _spacing(times))
    quiet = np.ones(len(times))
    for label, values in cues.items():
        quiet *= 1 - HIGHLIGHT_WEIGHTS[label] * _spread(values, half)
    return 1 - quiet


def surprise(values: np.ndarray, floor: float) -> np.ndarray:
    """Robust z-score: how many MADs (scaled to a normal's sigma, at least `floor`) above the median."""
    median = np.median(values)
    scale = max(1.4826 * float(np.median(np.abs(values - median))), floor)
    return (values - median) / scale


def activity(z: np.ndarray) -> np.ndarray:
    """Map a z-score to [0, 1): 0 up to Z_START, then rising towards 1."""
    return 1 - np.exp(-np.maximum(z - Z_START, 0) / Z_SCALE)


def peaks(label: str, times: np.ndarray, score: np.ndarray) -> list[Event]:
    """Peaks of `score` of at least MIN_SCORE, at least GAP[label] apart."""
    return pick_peaks(label, times, score, MIN_SCORE, GAP[label])


def _spacing(times: np.ndarray) -> float:
    """The usual time between samples."""
    return float(np.median(np.diff(times))) if len(times) > 1 else 1.0


def despike(values: np.ndarray) -> np.ndarray:
    """Running median of three: removes single-sample spikes, keeps anything lasting two samples or more."""
    padded = np.concatenate([values[:1], values, values[-1:]])
    return np.median(sliding_window_view(padded, 3), axis=1)


def _abruptness(change: np.ndarray) -> np.ndarray:
    """How much each change exceeds the larger of its two neighbours: high only for one-sample jumps."""
    padded = np.concatenate([[0.0], change, [0.0]])
    return change - np.maximum(padded[:-2], padded[2:])


def _spread(values: np.ndarray, half: int) -> np.ndarray:
    """Each value spread over ±`half` samples, fading linearly; where spreads overlap the largest wins."""
    padded, count = np.pad(values, half), len(values)
    spread = values.copy()
    for shift in range(1, half + 1):
        neighbours = np.maximum(
            padded[half - shift : half - shift + count], padded[half + shift : half + shift + count]
        )
        spread = np.maximum(spread, (1 - shift / (half + 1)) * neighbours)
    return spread
