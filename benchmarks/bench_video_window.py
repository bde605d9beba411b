"""How fast `Video.window` (the `choose_frames` tool) gets 8 frames of a 5 s window, against the alternatives.

Run from the repository root: .venv/bin/python -m benchmarks.bench_video_window [--clip PATH] [--windows N]

Video: 60 s, 1280x720, 30 fps H.264 with x264's default keyframe interval (keyint 250, about 8.3 s) and a
moving fine texture, so that it costs a decoder about what real footage does (benchmarks.common.bench_video,
generated once into ~/.cache/deepsport/bench). The same table is then printed for a short real clip from
../shared/clips, with windows a third of its length.

Every number is the median over random windows, in milliseconds; all frames are scaled to the same 640x360
pixel budget. Compared:
  lower bound     PyAV: open, seek to the keyframe before the window, decode with frame threads, convert
                  only the 8 frames needed (told their timestamps in advance).
  fetch_video     qwen-vl-utils fetch_video with video_start/video_end and nframes=8 (decord inside).
  decord/call     a new decord VideoReader per call + get_batch.
  cold            a new Video per call (open, index, decode) + window; auto (PyAV) and backend="decord".
Then, on one open Video right after a first window [s, s+5] (the agent's usual follow-ups):
  repeat          the same window again.
  zoom            a window inside it, [s+1, s+4]: looking closer at what was just seen.
  forward 50%     the window moved on by half its length, [s+2.5, s+7.5], then [s+5, s+10].
  next            the adjacent window [s+5, s+10]: scanning forward.
A window that shows new footage cannot cost less than decoding that footage right then: the "floor" lines give
that cost from the measured decode rate (PyAV, frame threads, no conversion), and the best ratio it allows.
The agent does not ask back to back, though: the model writes its next turn in between. The "+think" lines
run the same follow-ups on the video the agent's tools open (Episode.open: 5 s of read-ahead) with THINK
seconds of model time before each: the read-ahead uses that time to decode what comes next.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import av
import decord
import numpy as np
from qwen_vl_utils import fetch_video

from benchmarks.common import CLIPS, bench_video, check, decode_seconds, ms
from deepsport.tools.base import CACHE_FRAMES, READAHEAD
from deepsport.video import Video

MAX_PIXELS = 640 * 360
NUM_FRAMES = 8
THINK = 1.0  # seconds of model time before each follow-up (a short turn on a GPU)


def lower_bound(path: Path, times: list[float], fps: float, size: tuple[int, int]) -> None:
    """Seek to the keyframe before the first wanted frame, decode forward, convert only the wanted frames
    (`times`: their exact timestamps, sorted)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = stream.start_time or 0
        container.seek(start + int(times[0] / stream.time_base), stream=stream, backward=True)
        pending = list(times)
        for frame in container.decode(stream):
            if abs((frame.pts - start) * stream.time_base - pending[0]) < 0.5 / fps:
                frame.to_image(width=size[0], height=size[1], interpolation="AREA")
                pending.pop(0)
                if not pending:
                    break


def decode_ms_per_frame(path: Path, count: int = 150) -> float:
    """Decoding cost alone: the first `count` frames with frame threads, nothing converted."""
    seconds, decoded = decode_seconds(path, count)
    return seconds * 1000 / decoded


def decord_per_call(path: Path, indices: list[int], size: tuple[int, int]) -> None:
    decord.VideoReader(str(path), width=size[0], height=size[1]).get_batch(indices).asnumpy()


def fetch(path: Path, start: float, end: float) -> None:
    element = {"video": str(path), "video_start": start, "video_end": end, "nframes": NUM_FRAMES}
    fetch_video({**element, "max_pixels": MAX_PIXELS})


def cold(path: Path, start: float, end: float, backend: str) -> None:
    with Video(path, max_pixels=MAX_PIXELS, backend=backend) as video:
        video.window(start, end, NUM_FRAMES)


def follow_up(path: Path, first: tuple[float, float], then: list[tuple[float, float]], think: float = 0.0) -> float:
    """Time of the windows in `then` (median), on a Video that has just shown `first`; with `think` > 0, the
    Video reads ahead as the agent's does and each window comes `think` seconds after the one before."""
    agents = {"cache_size": CACHE_FRAMES, "readahead": READAHEAD} if think else {}  # as Episode.open's videos
    video = Video(path, max_pixels=MAX_PIXELS, **agents)
    with video:
        video.window(*first, NUM_FRAMES)
        times = []
        for window in then:
            time.sleep(think)
            times.append(ms(lambda w=window: video.window(*w, NUM_FRAMES)))
        return statistics.median(times)


def measure(path: Path, length: float, num_windows: int, seed: int) -> dict[str, float]:
    """Median milliseconds of every approach over random windows of `length` seconds."""
    with Video(path, max_pixels=MAX_PIXELS) as probe:
        duration, fps, times = probe.info.duration, probe.info.fps, probe.frame_times()
        size = probe.frames_at([0.0])[0].image.size
    starts = np.random.default_rng(seed).uniform(0, max(duration - 2 * length, 0), num_windows)
    results: dict[str, list[float]] = {}
    for start in starts:
        for name, value in measure_window(path, float(start), start + length, fps, times, size).items():
            results.setdefault(name, []).append(value)
    medians = {name: statistics.median(values) for name, values in results.items()}
    medians["decode/frame"] = statistics.median(decode_ms_per_frame(path) for _ in range(3))
    medians["fps"], medians["length"] = fps, length
    return medians


def measure_window(
    path: Path, s: float, e: float, fps: float, times: np.ndarray, size: tuple[int, int]
) -> dict[str, float]:
    """Milliseconds of every approach for the window [s, e] and its follow-ups."""
    wanted = sorted({int(np.abs(times - t).argmin()) for t in np.linspace(s, e, NUM_FRAMES)})
    half, fifth = (e - s) / 2, (e - s) / 5
    follow_ups = {
        "zoom": [(s + fifth, e - fifth)],
        "forward 50%": [(s + half, e + half), (s + 2 * half, e + 2 * half)],
        "next": [(e, 2 * e - s)],
    }
    return {
        "lower bound": ms(lambda: lower_bound(path, [float(times[i]) for i in wanted], fps, size)),
        "fetch_video": ms(lambda: fetch(path, s, e)),
        "decord/call": ms(lambda: decord_per_call(path, wanted, size)),
        "cold": ms(lambda: cold(path, s, e, "auto")),
        "cold decord": ms(lambda: cold(path, s, e, "decord")),
        "repeat": follow_up(path, (s, e), [(s, e)]),
        **{name: follow_up(path, (s, e), then) for name, then in follow_ups.items()},
        **{f"{name} +think": follow_up(path, (s, e), then, THINK) for name, then in follow_ups.items()},
    }


def report(title: str, m: dict[str, float]) -> None:
    print(f"\n{title}")
    approaches = ["lower bound", "fetch_video", "decord/call", "cold", "cold decord"]
    follow_ups = ["repeat", "zoom", "forward 50%", "next", "zoom +think", "forward 50% +think", "next +think"]
    for name in [*approaches, *follow_ups]:
        print(f"  {name:<19}{m[name]:>8.1f} ms")
    cold_ms = m["cold"]
    checks = [
        ("cold / lower bound", cold_ms / m["lower bound"], "<=", 1.15),
        ("fetch_video / cold", m["fetch_video"] / cold_ms, ">=", 1.4),
        ("decord/call / cold", m["decord/call"] / cold_ms, ">=", None),
        ("cold decord / lower bound", m["cold decord"] / m["lower bound"], "<=", None),
        *((f"cold / {name}", cold_ms / m[name], ">=", 10.0) for name in follow_ups),
    ]
    for name, value, op, target in checks:
        line = f"  {name:<33}{value:>7.2f}"
        if target is not None:
            line += f"  target {op} {target:<5} {check(value, op, target)}"
        print(line)
    per_frame, new_frames = m["decode/frame"], m["length"] / 2 * m["fps"]
    print(f"  decoding alone: {per_frame:.2f} ms/frame")
    for name, frames in (("forward 50%", new_frames), ("next", 2 * new_frames)):
        floor = frames * per_frame
        print(f"  floor {name:<12} {frames:>4.0f} new frames {floor:6.1f} ms: cold / {name} <= {cold_ms / floor:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIPS / "cricket_odi_shot.mp4", help="a short real clip")
    parser.add_argument("--windows", type=int, default=9, help="random windows per measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    decord.logging.set_level(decord.logging.QUIET)
    path = bench_video()
    report(f"{path.name}: 5 s windows, {NUM_FRAMES} frames", measure(path, 5.0, args.windows, args.seed))
    if args.clip.exists():
        with Video(args.clip) as clip:
            length = clip.info.duration / 3
            title = f"{args.clip.name} ({clip.info.width}x{clip.info.height}, {clip.info.fps:.2f} fps)"
        report(f"{title}: {length:.2f} s windows", measure(args.clip, length, args.windows, args.seed))
    else:
        print(f"\n(no real clip at {args.clip}; skipped)")


if __name__ == "__main__":
    main()
