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

With the shared clips present, the same is measured on a long broadcast-like video: the nine clips joined at
1280x720, 30 fps (x264 veryfast), each followed by QUIET still, silent seconds, played twice (the second pass
stands in for replays): 10.8 minutes, built once into the benchmark cache (about 20 minutes on 2 busy cores). Its
report adds what spotting found there: the joins (a shot cut within 0.5 s of every part's start), the hand-labelled
events of tests/data/events.csv inside each part, and the moments in the still stretches (there should be none).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchmarks.common import CACHE, CLIPS, EVENTS, bench_video, check, decode_seconds
from deepsport.dev.long_video import Part, join_clips
from deepsport.spotting import Event
from deepsport.spotting.labelled import read_events
from deepsport.spotting.salient import SalientSpotter
from deepsport.spotting.signals import read_audio
from deepsport.video import Video

TARGET_REALTIME = 15.0
TARGET_RATIO = 1.3
QUIET, PASSES = 20.0, 2
LABELS = Path(__file__).resolve().parents[1] / "tests" / "data" / "events.csv"


def measure(path: Path, repeats: int) -> tuple[dict[str, tuple[float, float]], list[Event]]:
    """Median (wall, CPU) seconds of decoding alone, spotting, and the soundtrack part, and the events found."""
    found: list[Event] = []
    events: list[Event] = []
    runs = {
        "decode alone": lambda: decode_seconds(path),
        "spotting": lambda: found.extend(SalientSpotter().spot(path)),
        "soundtrack": lambda: read_audio(path),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            found.clear()  # the spotting run fills it
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            if name == "spotting":
                events = list(found)
    medians = {
        name: (statistics.median(wall for wall, _ in values), statistics.median(cpu for _, cpu in values))
        for name, values in times.items()
    }
    return medians, events


def report(path: Path, repeats: int, injected: list[float] | None = None) -> list[Event]:
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
    return events


def long_video() -> tuple[Path, list[Part]]:
    """The joined shared clips (built once into the cache) and their parts."""
    clips = sorted(CLIPS.glob("*.mp4"))
    path = CACHE / f"joined_1280x720_30fps_{PASSES}x_quiet{QUIET:g}.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} (about 20 minutes) ...", file=sys.stderr)
        partial = path.with_suffix(".partial.mp4")
        join_clips(clips, partial, quiet=QUIET, passes=PASSES)
        partial.rename(path)
    starts, parts = 0.0, []
    for clip in clips * PASSES:  # the parts as join_clips lays them out, without encoding again
        with Video(clip) as video:
            duration = round(video.info.duration * 30) / 30
        parts.append(Part(clip.name, starts, duration, QUIET))
        starts += duration + QUIET
    return path, parts


def report_long(path: Path, parts: list[Part], events: list[Event]) -> None:
    """What spotting found on the joined video: joins, labelled events per part, moments in still stretches."""
    labelled = read_events(LABELS)
    joins = [p.start for p in parts[1:]]
    found = [t for t in joins if any(e.label == "shot_cut" and abs(e.time - t) <= 0.5 for e in events)]
    print(f"  joins found as shot cuts within 0.5 s: {len(found)} of {len(joins)}")
    hits = {0.5: 0, 1.0: 0}
    total = 0
    for part in parts:
        for event in (e for e in labelled if e.video == part.clip):
            total += 1
            for tolerance in hits:
                hits[tolerance] += any(abs(m.time - (part.start + event.time)) <= tolerance for m in events)
    if total:
        print(
            f"  labelled events found: {hits[0.5] / total:.2f} within 0.5 s, {hits[1.0] / total:.2f} within 1 s "
            f"({total} events in {len(parts)} parts)"
        )
    acting = sum(any(p.start <= m.time < p.start + p.duration for m in events) for p in parts)
    print(f"  parts with a moment inside the clip: {acting} of {len(parts)}")
    still = [m for p in parts for m in events if p.start + p.duration + 1.0 < m.time < p.end - 0.1]
    print(f"  moments in the still stretches: {len(still)} ({QUIET * len(parts):.0f} s of still footage)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIPS / "badminton_olympics2012.mp4", help="a real clip")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each measurement (the median is shown)")
    parser.add_argument("--long-repeats", type=int, default=2, help="runs on the long video (0: skip it)")
    args = parser.parse_args()
    injected = [t for t, _ in EVENTS["colors"]] + EVENTS["flashes"] + EVENTS["objects"] + EVENTS["beeps"]
    report(bench_video(), args.repeats, injected)
    if args.clip.exists():
        report(args.clip, args.repeats)
    else:
        print(f"\n(no real clip at {args.clip}; skipped)")
    if args.long_repeats and CLIPS.is_dir():
        path, parts = long_video()
        report_long(path, parts, report(path, args.long_repeats))


if __name__ == "__main__":
    main()
