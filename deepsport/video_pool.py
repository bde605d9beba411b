"""Open videos shared by the episodes of one process.

GRPO runs the rollouts of one question side by side on each rank (8 with the shipped config), each an episode of
its own on the same video (``rl.env.ROLLOUT_VIDEOS``). Episodes of a pool that open the same file at the same frame
size share one open :class:`~deepsport.video.Video`: its index, its decoder, its frame
cache and its read-ahead, so a window is decoded once however many episodes look at it. A video that no episode
holds stays open for the next one (the next question is often on the same video) until the frames cached by idle
videos exceed the pool's byte budget; then the least recently used idle videos are closed first. A video in use
is bounded by its own cache size.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from deepsport.video import MAX_PIXELS, Video

Key = tuple[str, int, int, int]  # resolved path, size, mtime, max_pixels


@dataclass
class _Entry:
    video: Video
    users: int = 0


class VideoPool:
    """Shared open videos; ``acquire`` one per episode and ``release`` it when the episode ends.

    max_idle_bytes: cached frames that videos no episode holds may keep in memory (least recently used closed
    first). keep_before: while several episodes hold a video, the frames its decoder passes on the way to a window
    are kept from this many seconds before the window: the other episodes' windows, near but not equal, start
    there, and would otherwise seek back and decode the same stretch again (GRPO's rollouts of one question; off by
    default: episodes on unrelated windows of one video would convert frames nobody asks for).
    video_options: passed to every :class:`Video` the pool opens (cache_size, readahead, backend).
    """

    def __init__(self, max_idle_bytes: int = 512 * 2**20, keep_before: float = 0.0, **video_options: object) -> None:
        self.max_idle_bytes = max_idle_bytes
        self.keep_before = keep_before
        self.video_options = video_options
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.opened = 0  # videos opened so far (each one indexed and decoded on its own)

    def acquire(self, path: str | os.PathLike, max_pixels: int | None = None) -> Video:
        """The open video for `path` at `max_pixels` (the video module's default when None), opening it if no
        episode holds it. Raises VideoError as :class:`Video` does."""
        pixels = MAX_PIXELS if max_pixels is None else max_pixels
        key = _key(Path(path), pixels)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = _Entry(Video(path, max_pixels=pixels, **self.video_options))  # type: ignore[arg-type]
                self._entries[key] = entry
                self.opened += 1
            self._use(entry, +1)
            self._entries.move_to_end(key)
            return entry.video

    def release(self, video: Video) -> None:
        """One episode is done with `video`; idle videos past the byte budget are closed."""
        with self._lock:
            for entry in self._entries.values():
                if entry.video is video:
                    self._use(entry, -1)
                    break
            else:
                raise ValueError(f"{video.info.path} was not acquired from this pool")
            self._trim()

    def cached_bytes(self) -> int:
        """Bytes of the frames cached by every video of the pool, held or idle."""
        return sum(e.video.cached_bytes() for e in self._entries.values())

    def idle_bytes(self) -> int:
        """Bytes of the frames cached by videos no episode holds."""
        return sum(e.video.cached_bytes() for e in self._entries.values() if e.users == 0)

    def close(self) -> None:
        """Close every video (those still held too): for the end of a process or a test."""
        with self._lock:
            for entry in self._entries.values():
                entry.video.close()
            self._entries.clear()

    def _use(self, entry: _Entry, change: int) -> None:
        """Count an episode more or less on `entry`; frames passed on the way are kept while several share it."""
        entry.users += change
        entry.video.keep_before = self.keep_before if entry.users > 1 else 0.0

    def _trim(self) -> None:
        idle = [key for key, entry in self._entries.items() if entry.users == 0]  # least recently used first
        total = self.idle_bytes()
        for key in idle:
            if total <= self.max_idle_bytes:
                return
            entry = self._entries.pop(key)
            total -= entry.video.cached_bytes()
            entry.video.close()


def _key(path: Path, max_pixels: int) -> Key:
    """The same file, unchanged since it was opened, at the same frame size."""
    try:
        stat = path.stat()
        return str(path.resolve()), stat.st_size, stat.st_mtime_ns, max_pixels
    except OSError:
        return str(path), -1, -1, max_pixels  # Video reports what is wrong with it
