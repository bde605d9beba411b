"""Pose signatures (joint-angle curves over a span, from ``deepsport.pose``) and how two are compared.

A signature samples the span at SIGNATURE_FPS (at most MAX_FRAMES frames) and keeps the ANGLES of each frame
where a person was found; it exists when a person is found in at least half the frames. Two signatures are
compared by subsequence DTW: the attempt is aligned to the part of the clip it matches best (free start and end
in the clip), the cost of a frame pair is the mean absolute difference of the angles seen in both (degrees), and
the distance is the cost along the path divided by the attempt's frames. The attempt is also compared mirrored
(left and right swapped), so a left-handed attempt matches a right-handed demonstration.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from deepsport.coach.library import Segment, Signature
from deepsport.pose.kinematics import ANGLES
from deepsport.video import Video, VideoError

SIGNATURE_FPS = 8.0
MAX_FRAMES = 32
MIN_FRAMES = 4
UNSEEN_COST = 90.0  # degrees: a frame pair without a joint seen in both
MIRROR = [ANGLES.index(n.replace("left", "@").replace("right", "left").replace("@", "right")) for n in ANGLES]
LEAN = ANGLES.index("trunk_lean")


def frame_count(start: float, end: float) -> int:
    return int(min(MAX_FRAMES, max(MIN_FRAMES, round((end - start) * SIGNATURE_FPS) + 1)))


def signatures(video_path: str, spans: list[tuple[float, float]], estimator: object) -> Iterator[Signature | None]:
    """The signature of each span of one video (None where nobody is visible), one at a time."""
    with Video(video_path) as video:
        for start, end in spans:
            end = min(end, video.info.duration)
            if end <= start:
                yield None
                continue
            frames = video.window(start, end, frame_count(start, end))
            yield from_poses(estimator.estimate(frames))  # type: ignore[attr-defined]


def from_poses(poses: list) -> Signature | None:
    """A signature from PoseFrames, or None when a person is found in fewer than half (or MIN_FRAMES - 1)."""
    found = [p for p in poses if p.found]
    if len(found) < max(MIN_FRAMES - 1, len(poses) / 2):
        return None
    angles = np.array([[p.angles[name] for name in ANGLES] for p in found], dtype=np.float64)
    return Signature.from_array([p.time for p in found], angles)


def segment_measure(estimator: object, warn: Callable[[str], None]) -> Callable[[str, list[Segment]], Iterator]:
    """A ``Library.add`` measure: the signatures of a video's segments with `estimator`; a video that cannot be
    read gets no signatures and a warning."""

    def measure(video: str, segments: list[Segment]) -> Iterator[Signature | None]:
        done = 0
        try:
            for signature in signatures(video, [(s.start, s.end) for s in segments], estimator):
                done += 1
                yield signature
        except VideoError as err:
            warn(f"{video}: {err}; its segments have no pose signature")
            yield from [None] * (len(segments) - done)

    return measure


def stack(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Curves of different lengths as one (N, longest, joints) array padded with NaN, and their lengths."""
    lengths = np.array([len(c) for c in curves], dtype=np.int64)
    out = np.full((len(curves), int(lengths.max(initial=1)), len(ANGLES)), np.nan, dtype=np.float32)
    for k, curve in enumerate(curves):
        out[k, : len(curve)] = curve
    return out, lengths


def local_costs(query: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """(N, n, m) mean absolute angle difference between each query frame and each reference frame (degrees),
    over the angles seen in both; UNSEEN_COST where none is."""
    seen_query, seen_refs = ~np.isnan(query), ~np.isnan(refs)
    counts = np.einsum("ij,nkj->nik", seen_query.astype(np.float32), seen_refs.astype(np.float32))
    diff = query.astype(np.float32)[None, :, None, :] - refs.astype(np.float32)[:, None, :, :]
    np.abs(diff, out=diff)
    lean = diff[..., LEAN]
    np.minimum(lean, 360 - lean, out=lean)
    np.copyto(diff, 0.0, where=np.isnan(diff))
    total = diff.sum(axis=-1)
    return np.where(counts > 0, total / np.maximum(counts, 1), UNSEEN_COST)


def envelope(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each curve's (N, joints) lowest and highest angle over its frames (NaN for a joint never seen)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN joints stay NaN
        return np.nanmin(padded, axis=1), np.nanmax(padded, axis=1)


def envelope_costs(query: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(N,) per query frame, the mean over joints of how far the angle lies outside each curve's [low, high]
    range: no frame of that curve is nearer, so this never exceeds the DTW distance (the lean's wrap aside)."""
    gap = np.maximum(np.maximum(low[:, None, :] - query[None], query[None] - high[:, None, :]), 0.0)
    seen = ~np.isnan(gap)
    counts = seen.sum(axis=-1)
    total = np.where(seen, gap, 0.0).sum(axis=-1)
    return np.where(counts > 0, total / np.maximum(counts, 1), UNSEEN_COST).mean(axis=1)


def subsequence_dtw(query: np.ndarray, refs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Subsequence DTW of one query curve (n, joints) against N padded reference curves: the accumulated cost
    matrices (N, n, m), computed one anti-diagonal at a time (every cell of one depends only on the two before)."""
    cost = local_costs(query, refs)
    n_refs, n, m = cost.shape
    cost = np.where(np.arange(m)[None, None, :] >= lengths[:, None, None], np.inf, cost)  # padding
    acc = np.full((n_refs, n + 1, m + 1), np.inf)
    acc[:, 0, :] = 0.0  # free start anywhere in the reference
    for d in range(n + m - 1):
        i = np.arange(max(0, d - m + 1), min(n - 1, d) + 1)
        j = d - i
        before = np.minimum(np.minimum(acc[:, i, j + 1], acc[:, i + 1, j]), acc[:, i, j])
        acc[:, i + 1, j + 1] = cost[:, i, j] + before
    return acc[:, 1:, 1:]


def distances(acc: np.ndarray) -> np.ndarray:
    """Each reference's DTW distance: the best end in the reference (free end), per query frame."""
    return acc[:, -1].min(axis=1) / acc.shape[1]


@dataclass(frozen=True)
class Deviation:
    """Where an attempt differs most from the clip it was aligned to."""

    time: float  # seconds in the attempt
    clip_time: float  # seconds in the clip
    joint: str
    degrees: float  # attempt minus clip


def compare(query: np.ndarray, refs: list[np.ndarray] | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The DTW distance (mean degrees per attempt frame) from the attempt curve `query` to each reference curve
    (a list, or already ``stack``ed with their lengths), the better of as-is and mirrored."""
    padded, lengths = stack(refs) if isinstance(refs, list) else refs
    return np.minimum(*(distances(subsequence_dtw(q, padded, lengths)) for q in (query, mirrored(query))))


def deviation(query: Signature, ref: Signature) -> Deviation | None:
    """Where along the best alignment (as-is or mirrored) the attempt differs most from the clip in one joint."""
    curve, clip = query.array(), ref.array()
    lengths = np.array([len(clip)])
    runs = [(q, subsequence_dtw(q, clip[None], lengths)[0]) for q in (curve, mirrored(curve))]
    attempt, acc = min(runs, key=lambda run: run[1][-1].min())
    return _deviation(attempt, clip, acc, query.times, ref.times)


def mirrored(curve: np.ndarray) -> np.ndarray:
    """Left and right swapped (the trunk lean changes sign)."""
    out = curve[:, MIRROR].copy()
    out[:, LEAN] = -out[:, LEAN]
    return out


def _deviation(
    attempt: np.ndarray, ref: np.ndarray, acc: np.ndarray, times: list[float], ref_times: list[float]
) -> Deviation | None:
    """Backtrack the best path and find the largest single-joint difference along it."""
    i, j = len(attempt) - 1, int(np.argmin(acc[-1]))
    best: Deviation | None = None
    while True:
        diff = attempt[i] - ref[j]
        diff[LEAN] = (diff[LEAN] + 180) % 360 - 180
        if not np.isnan(diff).all():
            k = int(np.nanargmax(np.abs(diff)))
            if best is None or abs(diff[k]) > abs(best.degrees):
                best = Deviation(times[i], ref_times[j], ANGLES[k], float(diff[k]))
        if i == 0:
            return best
        moves = [(i - 1, j - 1), (i - 1, j), (i, j - 1)] if j > 0 else [(i - 1, j)]
        i, j = min(moves, key=lambda ij: acc[ij])
