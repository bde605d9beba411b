"""How fast training-free spotting (the first ``spot_actions`` call on a video) runs, against decoding alone.

Run from the repository root: .venv/bin/python -m benchmarks.bench_spotting [--clip PATH] [--repeats N]

Targets: on the 60 s 1280x720 30 fps H.264 test video with a soundtrack (benchmarks.common.bench_video), on
2 cores, spotting runs at 15x real time or faster, and takes at most 1.3x as long as decoding the video alone
(PyAV, frame threads, every frame decoded, nothing converted: the floor, since H.264 frames cannot be decoded
without their references). Both are measured in the same run, alternating, and the medians of the repeats are
compared. "Spotting" is everything a first call costs: opening and indexing the video, decoding it, converting
the sampled frames at a tiny size, computing the signals, decoding the soundtrack and finding the events; the
soundtrack's share is timed on its own too. Next to wall-clock seconds the table gives the process's CPU
seconds (all threads), which vary less when other work shares the machine. The test video holds events at known
times (benchmarks.common.EVENTS) and the report says how many were found within 1 s. The same table is then
printed for a real clip.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks.common import CLIPS, EVENTS, bench_video, check, decode_seconds
from deepsport.spotting import Event
from deepsport.spotting.salient import SalientSpotter
from deepsport.spotting.signals import compute_signals, loudness
from deepsport.video import Video

TARGET_REALTIME = 15.0
TARGET_RATIO = 1.3


def measure(path: Path, repeats: int) -> tuple[dict[str, tuple[float, float]], list[Event]]:
    """Median (wall, CPU) seconds of decoding alone, spotting, and the soundtrack part, and the events found."""
    grid = compute_signals(path).times
    runs = {
        "decode alone": lambda: decode_seconds(path),
        "spotting": lambda: SalientSpotter().spot(path),
        "soundtrack": lambda: loudness(path, grid),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    medians = {
        name: (statistics.median(wall for wall, _ in values), statistics.median(cpu for _, cpu in values))
        for name, values in times.items()
    }
    return medians, SalientSpotter().spot(path)


def report(path: Path, repeats: int, injected: list[float] | None = None) -> None:
    with Video(path) as video:
        info = video.info
    seconds, events = measure(path, repeats)
    print(f"\n{path.name}: {info.duration:.1f} s, {info.width}x{info.height}, {info.fps:.2f} fps, median of {repeats}")
    print(f"  {'':<20}{'seconds':>8}{'x real time':>13}{'CPU s':>8}")
    for name, (wall, cpu) in seconds.items():
        print(f"  {name:<20}{wall:>8.2f}{info.duration / wall:>13.1f}{cpu:>8.2f}")
    (spot, spot_cpu), (decode, decode_cpu) = seconds["spotting"], seconds["decode alone"]
    realtime, ratio = info.duration / spot, spot / decode
    for name, value, op, target in (
        ("spotting x real time", realtime, ">=", TARGET_REALTIME),
        ("spotting / decode alone", ratio, "<=", TARGET_RATIO),
    ):
        print(f"  {name:<27}{value:>6.2f}  target {op} {target:<4} {check(value, op, target)}")
    print(f"  {'(in CPU seconds)':<27}{spot_cpu / decode_cpu:>6.2f}")
    counts = ", ".join(f"{sum(e.label == label for e in events)} {label}" for label in SalientSpotter.labels)
    print(f"  events: {counts}")
    if injected:
        found = [t for t in injected if any(abs(e.time - t) <= 1.0 for e in events)]
        print(f"  injected events found within 1 s: {len(found)} of {len(injected)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIPS / "badminton_olympics2012.mp4", help="a real clip")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each measurement (the median is shown)")
    args = parser.parse_args()
    injected = [t for t, _ in EVENTS["colors"]] + EVENTS["flashes"] + EVENTS["objects"] + EVENTS["beeps"]
    report(bench_video(), args.repeats, injected)
    if args.clip.exists():
        report(args.clip, args.repeats)
    else:
        print(f"\n(no real clip at {args.clip}; skipped)")


if __name__ == "__main__":
    main()
