"""Per-sample signals for training-free spotting, from one forward pass over a video at low resolution and rate.

Frames come from :func:`deepsport.video.scan_frames` (about SAMPLE_FPS a second, ANALYSIS_PIXELS each; in videos
of twice that rate or more, the frames no other frame refers to are not decoded at all: most B-frames, which the
sampling would pass over anyway). From consecutive samples come motion energy
(mean grey-level change), the motion of each cell of a GRID x GRID grid (where in the picture things move) and
colour change (distance between colour histograms: cuts, flashes, replay wipes). The soundtrack, when there is one,
is decoded at the same time on another thread, resampled to mono AUDIO_RATE Hz, and gives the loudness and the
spectral flux (how much new sound starts: hits, whistles, shouts) around each sample time. All signals share one
time grid.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import av
import numpy as np

from deepsport.video import scan_frames

SAMPLE_FPS = 10.0  # frames analysed per second (all of them in slower videos)
ANALYSIS_PIXELS = 128 * 72  # pixel budget of an analysed frame
GRID = 8  # cells across and down for local motion
BINS = 8 * 4 * 4  # colour histogram: levels of luma x the two chroma channels
SILENCE_DB = -100.0  # loudness where there is no sound at all
AUDIO_RATE = 16000  # Hz, mono, for loudness and spectral flux
FFT = 512  # samples per spectrum (32 ms)


@dataclass(frozen=True)
class Signals:
    """Per-sample signals of one video; index k describes the sample at ``times[k]``."""

    times: np.ndarray  # seconds from the first frame
    motion: np.ndarray  # mean absolute grey-level change from the previous sample, 0..1 (0 for the first)
    cells: np.ndarray  # (samples, GRID * GRID): the same per cell of the grid
    change: np.ndarray  # colour-histogram distance (total variation) from the previous sample, 0..1
    loudness: np.ndarray | None  # soundtrack RMS level around each sample in dBFS; None without audio
    flux: np.ndarray | None  # the largest spectral flux around each sample (log-magnitude rise); None without audio


def compute_signals(path: str | os.PathLike, fps: float = SAMPLE_FPS, max_pixels: int = ANALYSIS_PIXELS) -> Signals:
    """Decode `path` once and return its signals. Raises VideoError when the video cannot be read."""
    with ThreadPoolExecutor(1, thread_name_prefix="spot-audio") as pool:
        sound = pool.submit(read_audio, path)
        times, motion, cells, change = _video_signals(path, fps, max_pixels)
        audio = sound.result()
    if audio is None or len(times) == 0:
        return Signals(times, motion, cells, change, None, None)
    loud, flux = audio_signals(audio, times)
    return Signals(times, motion, cells, change, loud, flux)


def _video_signals(
    path: str | os.PathLike, fps: float, max_pixels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    times: list[float] = []
    motion: list[float] = []
    cells: list[np.ndarray] = []
    change: list[float] = []
    luma = hist = None
    skip = _frame_rate(path) >= 2 * fps  # sampling passes frames over anyway
    for time, rgb in scan_frames(path, fps, max_pixels, skip_nonref=skip):
        new_luma, new_hist = _features(rgb)
        times.append(time)
        if luma is None or hist is None:
            diff = np.zeros_like(new_luma)
            change.append(0.0)
        else:
            diff = np.abs(new_luma - luma)
            change.append(float(np.abs(new_hist - hist).sum()) / 2)
        motion.append(float(diff.mean()))
        cells.append(_cell_means(diff))
        luma, hist = new_luma, new_hist
    grid = np.array(cells) if cells else np.zeros((0, GRID * GRID))
    return np.array(times), np.array(motion), grid, np.array(change)


def read_audio(path: str | os.PathLike) -> np.ndarray | None:
    """The first audio stream as mono float32 at AUDIO_RATE Hz, aligned so that index 0 is the first video frame
    (padded or cut at the start); None without audio. A soundtrack that stops decoding part way ends there."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        video = container.streams.video[0] if container.streams.video else None
        offset = 0.0
        if video is not None and video.start_time is not None and video.time_base is not None:
            offset = float(video.start_time * video.time_base)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        chunks: list[np.ndarray] = []
        first: float | None = None
        try:
            for frame in container.decode(container.streams.audio[0]):
                if first is None:
                    first = (frame.time or 0.0) - offset
                chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
        except av.error.FFmpegError:
            pass
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    shift = round((first or 0.0) * AUDIO_RATE)
    return np.concatenate([np.zeros(shift, np.float32), samples]) if shift >= 0 else samples[-shift:]


def audio_signals(samples: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Loudness (dBFS of the samples nearer each time than its neighbours) and the largest spectral flux among the
    spectra in the same span, per time."""
    hop = FFT // 2
    count = max(0, (len(samples) - FFT) // hop + 1)
    centres = (np.arange(count) * hop + FFT / 2) / AUDIO_RATE
    half = float(np.median(np.diff(times))) / 2 if len(times) > 1 else 0.5
    edges = np.concatenate([[times[0] - half], (times[1:] + times[:-1]) / 2, [times[-1] + half]])
    slot = np.searchsorted(edges, centres) - 1
    inside = (slot >= 0) & (slot < len(times))
    loud = np.full(len(times), SILENCE_DB)
    flux = np.zeros(len(times))
    if count == 0 or not inside.any():
        return loud, flux
    frames = np.lib.stride_tricks.sliding_window_view(samples, FFT)[::hop][:count]
    power = np.mean(frames.astype(np.float64) ** 2, axis=1)
    spectrum = np.log1p(100 * np.abs(np.fft.rfft(frames * np.hanning(FFT).astype(np.float32), axis=1)))
    rise = np.zeros(count)
    rise[1:] = np.maximum(np.diff(spectrum, axis=0), 0).mean(axis=1)
    energy = np.bincount(slot[inside], power[inside], minlength=len(times))
    spans = np.bincount(slot[inside], minlength=len(times))
    with np.errstate(divide="ignore", invalid="ignore"):
        level = 10 * np.log10(energy / spans)
    loud = np.where(spans > 0, np.maximum(np.nan_to_num(level, nan=SILENCE_DB, neginf=SILENCE_DB), SILENCE_DB), loud)
    np.maximum.at(flux, slot[inside], rise[inside])
    return loud, flux


def _frame_rate(path: str | os.PathLike) -> float:
    """The video stream's average frame rate (0 when unknown)."""
    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate if container.streams.video else None
            return float(rate) if rate else 0.0
    except (av.error.FFmpegError, OSError):
        return 0.0  # scan_frames reports the problem


def _cell_means(diff: np.ndarray) -> np.ndarray:
    """Mean of `diff` over each cell of a GRID x GRID grid (edge rows and columns that do not fit are left out)."""
    height, width = diff.shape
    rows, cols = height // GRID, width // GRID
    if rows == 0 or cols == 0:
        return np.full(GRID * GRID, float(diff.mean()))
    block = diff[: rows * GRID, : cols * GRID].reshape(GRID, rows, GRID, cols)
    return block.mean(axis=(1, 3)).reshape(-1)


def _features(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Luma in 0..1 and the normalised joint YCbCr histogram (8 luma x 4 x 4 chroma levels) of a small RGB array.

    Luma is binned finer than chroma: on the test clips this separates cuts between shots of similar colours
    (green field to green field) from motion within a shot better than RGB histograms do."""
    r, g, b = (rgb[..., k].astype(np.float32) for k in range(3))
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    cb = np.clip(128 - 0.168736 * r - 0.331264 * g + 0.5 * b, 0, 255).astype(np.uint8)
    cr = np.clip(128 + 0.5 * r - 0.418688 * g - 0.081312 * b, 0, 255).astype(np.uint8)
    codes = (luma.astype(np.uint8) >> 5) << 4 | (cb >> 6) << 2 | cr >> 6
    return luma / 255, np.bincount(codes.ravel(), minlength=BINS) / codes.size
