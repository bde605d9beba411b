"""What the benchmarks share: the synthetic 720p test video, the real clips, timing and target checks."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import av

from deepsport.dev.synthetic import make_video

CACHE = Path.home() / ".cache" / "deepsport" / "bench"
CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "clips"
# events in the test video, in seconds: make_video arguments
EVENTS = {
    "colors": [(20.0, (40, 150, 60)), (40.0, (60, 60, 170))],
    "flashes": [10.0],
    "objects": [30.0],
    "beeps": [15.0, 50.0],
}


def bench_video() -> Path:
    """The 60 s test video, generated once (about a minute): 1280x720, 30 fps H.264 with x264's default keyframe
    interval (keyint 250, about 8.3 s), a moving fine texture so that it costs a decoder about what real footage
    does, an AAC soundtrack, and the EVENTS."""
    path = CACHE / "h264_1280x720_30fps_60s_keyint250_events.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ...", file=sys.stderr)
        partial = path.with_suffix(".partial.mp4")
        make_video(partial, duration=60.0, fps=30.0, size=(1280, 720), texture=True, **EVENTS)
        partial.rename(path)
    return path


def decode_seconds(path: Path, count: int | None = None) -> tuple[float, int]:
    """Decoding alone: seconds to decode the first `count` frames (all: None) with frame threads, nothing
    converted, and how many frames that was."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = time.perf_counter()
        decoded = 0
        for _ in container.decode(stream):
            decoded += 1
            if decoded == count:
                break
        return time.perf_counter() - start, decoded


def ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def check(value: float, op: str, target: float) -> str:
    """PASS or MISS for `value` `op` `target`, op being "<=" or ">="."""
    passed = value <= target if op == "<=" else value >= target
    return "PASS" if passed else "MISS"
