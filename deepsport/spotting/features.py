"""Per-frame features for the trainable spotter: cheap, colour and motion, sampled at a fixed rate.

Row k describes the frame nearest to time k / fps (the default, 2 per second, is SoccerNet's rate). Frames are
read through :class:`deepsport.video.Video` at a tiny pixel budget and reduced to a grid of cells:

- colour: the mean RGB of every cell, in [0, 1] (grid 8 x 4: 96 values);
- motion: the mean absolute change of every cell's grey level (the mean of R, G and B) since the previous
  sample, in [0, 1] (32 values; 0 for the first row).

Features are cached as ``.npy`` files in a cache directory, keyed by the video's resolved path, size and
modification time and by the feature settings, so training epochs, evaluation and repeated tool calls decode a
video once.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from deepsport.video import Video

CACHE_ENV = "DEEPSPORT_CACHE"
_VERSION = 1  # bump when the features computed for the same settings change
_CHUNK = 64  # sample times requested from the decoder at once


@dataclass(frozen=True)
class FeatureConfig:
    fps: float = 2.0
    grid: tuple[int, int] = (8, 4)  # cells across, cells down
    max_pixels: int = 96 * 54  # decoding budget per frame

    @property
    def dim(self) -> int:
        return 4 * self.grid[0] * self.grid[1]

    def times(self, duration: float) -> np.ndarray:
        """Sample times in seconds for a video of ``duration`` seconds (at least one)."""
        return np.arange(max(1, int(duration * self.fps))) / self.fps


def extract(video: Video, config: FeatureConfig) -> np.ndarray:
    """Features of every sample time of an open video: float32 array (samples, config.dim)."""
    times = config.times(video.info.duration)
    cells = np.empty((len(times), config.grid[1], config.grid[0], 3), dtype=np.float32)
    for start in range(0, len(times), _CHUNK):
        chunk = times[start : start + _CHUNK]
        frames = video.frames_at(chunk.tolist())
        frame_times = np.array([f.time for f in frames])
        for k, time in enumerate(chunk, start):
            image = frames[int(np.argmin(np.abs(frame_times - time)))].image
            cells[k] = np.asarray(image.resize(config.grid, Image.Resampling.BOX), dtype=np.float32) / 255
    grey = cells.mean(axis=-1)
    motion = np.zeros_like(grey)
    motion[1:] = np.abs(np.diff(grey, axis=0))
    return np.concatenate([cells.reshape(len(times), -1), motion.reshape(len(times), -1)], axis=1)


def load_features(
    path: str | os.PathLike, config: FeatureConfig, cache_dir: str | os.PathLike | None = None
) -> np.ndarray:
    """Features of the video at ``path``, from the cache when there, else extracted and cached.

    cache_dir: defaults to ``$DEEPSPORT_CACHE/features``, else ``~/.cache/deepsport/features``."""
    path = Path(path).resolve()
    if path.is_file() and _cache_path(path, config, cache_dir).is_file():
        return np.load(_cache_path(path, config, cache_dir))
    with Video(path, max_pixels=config.max_pixels) as video:  # a clear VideoError for a missing or bad file
        features = extract(video, config)
    cached = _cache_path(path, config, cache_dir)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npy")
    np.save(partial, features)
    os.replace(partial, cached)  # atomic: a concurrent reader never sees half a file
    return features


def _cache_path(path: Path, config: FeatureConfig, cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is None:
        root = os.environ.get(CACHE_ENV)
        cache_dir = Path(root) / "features" if root else Path.home() / ".cache" / "deepsport" / "features"
    stat = path.stat()
    key = json.dumps([str(path), stat.st_size, stat.st_mtime_ns, asdict(config), _VERSION])
    return Path(cache_dir) / f"{path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npy"
