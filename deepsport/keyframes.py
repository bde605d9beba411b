"""Choosing the agent's first frames: uniformly, or where the motion is (the SV3.3B idea).

Motion sampling splits the video's cumulative motion (mean grey-level change between low-resolution samples,
from the spotting signals, above its median level so steady camera or compression noise does not count) into
equal parts and takes one frame in each: bursts of action get many frames, still stretches few. A floor of
``floor`` × the mean motion keeps still stretches from vanishing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from deepsport.spotting.salient import despike
from deepsport.spotting.signals import compute_signals
from deepsport.video import Frame, Video

Sampling = Literal["uniform", "motion"]
SAMPLINGS: tuple[str, ...] = ("uniform", "motion")


def motion_times(times: np.ndarray, motion: np.ndarray, k: int, floor: float = 0.5) -> list[float]:
    """``k`` times (fewer where samples coincide) at equal quantiles of the cumulative motion."""
    excess = np.maximum(despike(motion) - np.median(motion), 0.0)
    weight = excess + floor * max(float(excess.mean()), 1e-9)
    cumulative = np.cumsum(weight) / weight.sum()
    picks = np.searchsorted(cumulative, (np.arange(k) + 0.5) / k)
    return [float(times[i]) for i in np.unique(np.minimum(picks, len(times) - 1))]


def initial_frames(video: Video, k: int, sampling: Sampling = "uniform") -> list[Frame]:
    """The frames shown with the question."""
    if sampling == "uniform":
        return video.uniform(k)
    if sampling == "motion":
        signals = compute_signals(video.info.path)
        return video.frames_at(motion_times(signals.times, signals.motion, k))
    raise ValueError(f"unknown sampling '{sampling}'; choose one of {SAMPLINGS}")
