"""The training-free spotter: salient moments from local and global motion, shot cuts and sound, without naming
actions.

Each signal (see :mod:`deepsport.spotting.signals`) becomes a cue activity in [0, 1] on the sample grid:
- impact: a burst of motion in a few cells of the grid (their motion minus its mean over the IMPACT_PAST seconds
  before), measured against each cell's usual level after taking out what moves everywhere (camera motion): hits,
  contacts, jumps, dives, a ball struck; cells whose bursts repeat at a steady period (a clock) do not count;
- motion_burst: motion energy over the whole picture, with single-sample spikes (cuts) removed and averaged over
  ±MOTION_SMOOTH seconds, far above its usual level;
- shot_cut: a colour-histogram change much larger than the changes just before and after it (abrupt);
- audio_onset: the spectral flux (new sound: a racket, a ball, a whistle) far above its usual level;
- audio_peak: loudness far above its usual level (crowd roar, whistle, commentary bursts).
"Far above its usual level" is a robust z-score (median and MAD, over the whole video when it is short and over
BASELINE-second blocks of longer ones, the MAD floored so that near-constant signals do not turn noise into
events) mapped to [0, 1]. A moment's score is where the cues agree: the weighted noisy-or of every cue's activity
within ±AGREE seconds. Moments are the peaks of each cue (at least CUE_MIN) whose own activity or score reaches
MIN_SCORE, de-duplicated across cues within DEDUP seconds (the best-scoring one stays, labelled with its cue).
When nothing reaches MIN_SCORE but something moves, the strongest motion peaks are returned with their (low)
scores, so a call is never empty. Constants were tuned on four of the labelled clips in tests/data/events.csv
(badminton, goalkeeper, weightlifting, tennis_coach) and checked on the other three.
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

LABELS = ("shot_cut", "impact", "audio_onset", "audio_peak", "motion_burst")
MIN_SCORE = 0.4  # a moment's score where the cues agree
CUE_MIN = 0.2  # a cue's own activity at a peak
DEDUP = 0.5  # seconds: moments of different cues closer than this are one moment
GAP = {"shot_cut": 1.0, "impact": 0.6, "audio_onset": 0.6, "audio_peak": 2.0, "motion_burst": 2.0}  # NMS, seconds
WEIGHTS = {"shot_cut": 1.0, "impact": 0.8, "audio_onset": 0.6, "audio_peak": 0.5, "motion_burst": 0.5}
AGREE = 0.15  # seconds either side over which cues add up
Z_START, Z_SCALE = 3.0, 4.0  # activity = 1 - exp(-(z - Z_START) / Z_SCALE) above Z_START
ONSET_START, ONSET_SCALE = 1.5, 1.0  # the same for spectral flux, which a rally's sound keeps busy
BASELINE = 60.0  # seconds per block of the usual level in long videos
MOTION_FLOOR = 0.005  # smallest motion MAD used (about 1.3 grey levels)
CELL_FLOOR = 0.006  # smallest per-cell motion MAD used
IMPACT_PAST = 0.2  # seconds before a sample that its motion is compared with
TICK_CORRELATION = 0.5  # see ticking()
IMPACT_CELLS = 3  # an impact's strength: the mean of this many most surprising cells
MOTION_SMOOTH = 0.2  # seconds either side
LOUDNESS_FLOOR = 3.0  # smallest loudness MAD used, dB
FLUX_FLOOR = 0.02  # smallest spectral-flux MAD used
LOUDNESS_GATE = -50.0  # dBFS below which sound does not count
CUT_START, CUT_FULL = 0.12, 0.42  # abrupt colour change (total variation) where a cut starts to count / is certain
FALLBACK_EVERY = 10.0  # seconds of video per fallback moment when nothing stands out


class SalientSpotter:
    """Training-free spotter; computes a video's signals once and keeps them for later calls."""

    labels: tuple[str, ...] = LABELS  # typed as the Spotter protocol declares it
    note = (
        "training-free spotter: salient moments found from local motion (impacts), shot cuts and sound; "
        "it cannot name specific actions such as goals, fouls or serves"
    )

    def __init__(self) -> None:
        self._signals: dict[str, Signals] = {}

    def signals(self, video: str | os.PathLike | Video) -> Signals:
        """The video's signals, computed on the first call. A Video is read again from its file."""
        path = str(Path(video.info.path if isinstance(video, Video) else video).resolve())
        if path not in self._signals:
            self._signals[path] = compute_signals(path)
        return self._signals[path]

    def spot(
        self,
        video: str | os.PathLike | Video,
        labels: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        top_k: int | None = None,
    ) -> list[Event]:
        """See :class:`deepsport.spotting.Spotter`."""
        return select_events(find_events(self.signals(video), labels), None, start, end, top_k)


def find_events(signals: Signals, labels: Sequence[str] | None = None) -> list[Event]:
    """The de-duplicated moments of the given cues (all: None) in a video's signals, sorted by time."""
    times = signals.times
    if len(times) == 0:
        return []
    cues = cue_activities(signals)
    fused = agreement(times, cues)
    peaks = [
        peak
        for label, activity in cues.items()
        if labels is None or label in labels
        for peak in pick_peaks(label, times, activity, CUE_MIN, GAP[label])
    ]
    candidates = [
        Event(peak.label, peak.time, score)
        for peak in peaks
        if max(peak.score, score := float(fused[int(np.searchsorted(times, peak.time))])) >= MIN_SCORE
    ]
    moments = deduplicate(candidates)
    if not moments and (labels is None or "motion_burst" in labels):
        moments = fallback(times, signals.motion)
    return sorted(moments, key=lambda event: event.time)


def cue_activities(signals: Signals) -> dict[str, np.ndarray]:
    """Each cue's activity in [0, 1] per sample: how strongly the sample stands out."""
    times = signals.times
    half = round(MOTION_SMOOTH / _spacing(times))
    motion = np.convolve(np.pad(despike(signals.motion), half), np.ones(2 * half + 1) / (2 * half + 1), "valid")
    cues = {
        "shot_cut": np.clip((_abruptness(signals.change) - CUT_START) / (CUT_FULL - CUT_START), 0, 1),
        "impact": activity(impact(times, signals.cells)),
        "motion_burst": activity(surprise(times, motion, MOTION_FLOOR)),
    }
    if signals.loudness is not None and signals.flux is not None:
        audible = signals.loudness >= LOUDNESS_GATE
        onset = activity(surprise(times, signals.flux, FLUX_FLOOR), ONSET_START, ONSET_SCALE)
        cues["audio_onset"] = np.where(audible, onset, 0.0)
        cues["audio_peak"] = np.where(audible, activity(surprise(times, signals.loudness, LOUDNESS_FLOOR)), 0.0)
    return cues


def impact(times: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """How surprising the most surprising cells' motion is per sample, after taking out the picture's median motion
    (what moves everywhere) and each cell's usual level; a cut (everything changes) is not an impact."""
    local = np.maximum(cells - np.median(cells, axis=1, keepdims=True), 0)
    past = max(1, round(IMPACT_PAST / _spacing(times)))
    padded = np.concatenate([np.repeat(local[:1], past, axis=0), local])
    before = sliding_window_view(padded[:-1], past, axis=0).mean(axis=-1)
    local = local - before
    z = np.column_stack([surprise(times, local[:, c], CELL_FLOOR) for c in range(local.shape[1])])
    z[:, ticking(z)] = 0.0
    return np.sort(z, axis=1)[:, -IMPACT_CELLS:].mean(axis=1)


def ticking(z: np.ndarray) -> np.ndarray:
    """Which cells' bursts repeat at a steady period (a clock, a counter, a blinking logo): the samples where they
    rise above Z_START coincide with themselves shifted by some lag for at least TICK_CORRELATION of them."""
    spikes = (z > Z_START).astype(np.float64)
    count = len(spikes)
    if count < 8:
        return np.zeros(z.shape[1], dtype=bool)
    spectrum = np.fft.rfft(spikes, n=2 * count, axis=0)
    correlation = np.fft.irfft(np.abs(spectrum) ** 2, axis=0)[: count // 3]
    energy = correlation[0]
    repeated = correlation[2:].max(axis=0) if len(correlation) > 2 else np.zeros(z.shape[1])
    return (energy > 0) & (repeated >= TICK_CORRELATION * energy) & (energy >= 3)


def agreement(times: np.ndarray, cues: dict[str, np.ndarray]) -> np.ndarray:
    """Weighted noisy-or of the cues, each taken as its largest value within ±AGREE seconds."""
    half = round(AGREE / _spacing(times))
    quiet = np.ones(len(times))
    for label, values in cues.items():
        quiet *= 1 - WEIGHTS[label] * _running_max(values, half)
    return 1 - quiet


def deduplicate(events: list[Event]) -> list[Event]:
    """Best first, dropping any event within DEDUP seconds of one already kept."""
    kept: list[Event] = []
    for event in sorted(events, key=lambda e: (-e.score, LABELS.index(e.label))):
        if all(abs(event.time - other.time) >= DEDUP for other in kept):
            kept.append(event)
    return kept


def fallback(times: np.ndarray, motion: np.ndarray) -> list[Event]:
    """The strongest motion peaks when no cue stands out: one per FALLBACK_EVERY seconds (at least one), scored by
    their height relative to the largest motion, at most MIN_SCORE / 2; none when nothing moves."""
    top = float(motion.max()) if len(motion) else 0.0
    if top <= 0:
        return []
    duration = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    count = max(1, int(duration / FALLBACK_EVERY))
    score = motion / top * MIN_SCORE / 2
    return sorted(pick_peaks("motion_burst", times, score, 1e-9, GAP["motion_burst"]), key=lambda e: -e.score)[:count]


def surprise(times: np.ndarray, values: np.ndarray, floor: float) -> np.ndarray:
    """Robust z-score: how many MADs (scaled to a normal's sigma, at least `floor`) above the median, the median
    and MAD taken over the whole video when it is shorter than 2 x BASELINE seconds, else per BASELINE-second
    block (interpolated between block centres)."""
    if len(values) == 0:
        return values
    duration = float(times[-1] - times[0])
    blocks = max(1, int(duration / BASELINE) if duration >= 2 * BASELINE else 1)
    bounds = np.linspace(0, len(values), blocks + 1).astype(int)
    medians, scales, centres = [], [], []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        part = values[lo:hi]
        median = float(np.median(part))
        medians.append(median)
        scales.append(max(1.4826 * float(np.median(np.abs(part - median))), floor))
        centres.append(float(times[(lo + hi - 1) // 2]))
    median_at = np.interp(times, centres, medians)
    scale_at = np.interp(times, centres, scales)
    return (values - median_at) / scale_at


def activity(z: np.ndarray, start: float = Z_START, scale: float = Z_SCALE) -> np.ndarray:
    """Map a z-score to [0, 1): 0 up to `start`, then rising towards 1 (1 - 1/e at `start` + `scale`)."""
    return 1 - np.exp(-np.maximum(z - start, 0) / scale)


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


def _running_max(values: np.ndarray, half: int) -> np.ndarray:
    """The largest value within ±`half` samples."""
    if half <= 0:
        return values
    padded = np.pad(values, half)
    return sliding_window_view(padded, 2 * half + 1).max(axis=1)
