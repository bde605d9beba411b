"""Per-frame signals for training-free spotting, from one pass over a video at low resolution and low rate.

Frames are read through :class:`deepsport.video.Video` with a tiny pixel budget: the decoder decodes every
frame (inter-coded video needs it) but converts only the ~SAMPLE_FPS frames per second asked for, a few
thousand pixels each. From consecutive samples come motion energy (mean grey-level change) and colour change
(distance between colour histograms: cuts, flashes, replay wipes). The soundtrack, when there is one, is
decoded with PyAV into loudness around each sample time. All signals share one time grid.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

from deepsport.video import Video

SAMPLE_FPS = 10.0  # frames analysed per second (all of them in slower videos)
ANALYSIS_PIXELS = 96 * 54  # pixel budget of an analysed frame
CHUNK = 64  # frames converted per read, so memory stays flat on long videos
BINS = 8 * 4 * 4  # colour histogram: levels of luma x the two chroma channels
SILENCE_DB = -100.0  # loudness where there is no sound at all


@dataclass(frozen=True)
class Signals:
    """Per-sample signals of one video; index k describes the sample at ``times[k]``."""

    times: np.ndarray  # seconds from the first frame
    motion: np.ndarray  # mean absolute grey-level change from the previous sample, 0..1 (0 for the first)
    change: np.ndarray  # colour-histogram distance (total variation) from the previous sample, 0..1
    loudness: np.ndarray | None  # soundtrack RMS level around each sample in dBFS; None without audio


def compute_signals(path: str | os.PathLike, fps: float = SAMPLE_FPS, max_pixels: int = ANALYSIS_PIXELS) -> Signals:
    """Decode `path` once and return its signals. Raises VideoError when the video cannot be read."""
    times, motion, change = [], [], []
    luma, hist = None, None
    with Video(path, max_pixels=max_pixels, cache_size=0) as video:
        wanted = np.arange(0.0, video.info.duration, 1.0 / fps)
        last = -1
        for start in range(0, len(wanted), CHUNK):
            for frame in video.frames_at(wanted[start : start + CHUNK]):
                if frame.index <= last:  # a slow video maps neighbouring sample times to the same frame
                    continue
                last = frame.index
                new_luma, new_hist = _features(frame.image)
                times.append(frame.time)
                motion.append(0.0 if luma is None else float(np.abs(new_luma - luma).mean()) / 255)
                change.append(0.0 if hist is None else float(np.abs(new_hist - hist).sum()) / 2)
                luma, hist = new_luma, new_hist
    grid = np.array(times)
    return Signals(grid, np.array(motion), np.array(change), loudness(path, grid))


def loudness(path: str | os.PathLike, times: np.ndarray) -> np.ndarray | None:
    """RMS level in dBFS of the first audio stream (power averaged over channels) around each of `times` (seconds
    from the first video frame): each sample time collects the audio frames (a few tens of milliseconds each)
    centred closer to it than to its neighbours. None when the file has no audio stream; a soundtrack that
    stops decoding part way counts as silent from there."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        half = float(np.median(np.diff(times))) / 2 if len(times) > 1 else 0.5
        edges = np.concatenate([[times[0] - half], (times[1:] + times[:-1]) / 2, [times[-1] + half]])
        energy, count = np.zeros(len(times)), np.zeros(len(times))
        for centre, squares, samples in _audio_frames(container):
            k = int(np.searchsorted(edges, centre)) - 1
            if 0 <= k < len(times):
                energy[k] += squares
                count[k] += samples
    with np.errstate(divide="ignore", invalid="ignore"):
        level = 10 * np.log10(energy / count)
    return np.where(count > 0, np.maximum(level, SILENCE_DB), SILENCE_DB)


def _audio_frames(container: av.container.InputContainer) -> Iterator[tuple[float, float, int]]:
    """Each frame of the first audio stream as (centre time in seconds from the first video frame, sum of squared
    samples averaged over channels with full scale 1, number of samples); stops at the first frame that does not
    decode."""
    video = container.streams.video[0]
    start, base = video.start_time, video.time_base
    offset = float(start * base) if start is not None and base is not None else 0.0
    position = None  # time of the next sample: the first frame's timestamp, then counted
    try:
        for frame in container.decode(container.streams.audio[0]):
            if position is None:
                position = (frame.time or 0.0) - offset
            length = frame.samples / frame.sample_rate
            yield position + length / 2, _power(frame), frame.samples
            position += length
    except av.error.FFmpegError:
        return


def _power(frame: av.AudioFrame) -> float:
    """Sum of squared samples of an audio frame, averaged over channels, with full scale 1 (any sample format)."""
    samples = frame.to_ndarray()
    full_scale = 1.0
    if samples.dtype.kind == "u":  # 8-bit unsigned, centred on 128
        samples, full_scale = samples.astype(np.float64) - 128, 128.0
    elif samples.dtype.kind == "i":
        full_scale = 2.0 ** (8 * samples.dtype.itemsize - 1)
    samples = samples.astype(np.float64, copy=False)
    return float(np.vdot(samples, samples)) / full_scale**2 / len(frame.layout.channels)


def _features(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Luma and the normalised joint YCbCr histogram (8 luma x 4 x 4 chroma levels) of a small RGB image.

    Luma is binned finer than chroma: on the test clips this separates cuts between shots of similar colours
    (green field to green field) from motion within a shot better than RGB histograms do."""
    ycc = np.asarray(image.convert("YCbCr"))
    luma, cb, cr = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    codes = (luma >> 5) << 4 | (cb >> 6) << 2 | cr >> 6
    return luma.astype(np.int16), np.bincount(codes.ravel(), minlength=BINS) / codes.size
