"""How fast pose estimation runs on 640 px frames, against decoding those frames alone.

Run from the repository root: .venv/bin/python -m benchmarks.bench_pose [--frames N] [--repeats N] [--clip PATH]

Target: MediaPipe Pose (model_complexity=1) at 30 frames/s or more on 640 px frames on 2 cores, with the per-frame
latency (median and p90). Inputs: the single-athlete real clips in ../shared/clips when present (else the synthetic
720p test video of benchmarks.common, where nobody is in view), N consecutive frames from the start, decoded and
scaled to 640 px by deepsport.video.Video exactly as the tools get them. In the same run:
- decode alone: reading those frames through Video (decode, scale to 640 px, convert), from a fresh Video;
- pose, tracked: PoseEstimator on the consecutive frames, as the tool and `deepsport pose` run windows whose frames
  are close together (MediaPipe's tracking mode: the detector runs only when the person is lost);
- pose, static: the same frames one call each, as the tool runs frames far apart (static_image_mode: the detector
  runs on every frame).
Frames per second are the medians over the repeats; latencies are over every frame of every repeat. CPU seconds
(all threads of the process) show how much of the 2 cores each part uses.

Broadcast (every athlete in the shot, deepsport.pose.people): on tennis_rally_montecarlo (1920x1080) and
soccer_broadcast_wide (848x478), frames decoded at up to full HD (POSE_PIXELS) as estimate_pose decodes them.
- sampled as the tool samples: --sampled frames spread over the clip, each with the frame MOTION_FRAMES before it;
  frames with someone, people per frame (median), posed per frame, ms per frame, against decoding those frames;
- consecutive: --frames consecutive frames (each compared with the one before), frames/s against decode alone.
Target: a person in >= 70% of the sampled frames, >= 2 people per frame on soccer, >= 10 frames/s at 1080p.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.common import CLIPS, bench_video, check
from deepsport.pose.estimator import PoseEstimator
from deepsport.pose.people import PeopleEstimator
from deepsport.tools.pose import MOTION_FRAMES, POSE_PIXELS
from deepsport.video import Frame, Video

TARGET_FPS = 30.0
BROADCAST_FPS = 10.0
BROADCAST = ["tennis_rally_montecarlo", "soccer_broadcast_wide"]
SINGLE_ATHLETE = ["squash_rally_portrait", "goalkeeper_dive_save", "tennis_coach_talking", "weightlifting_snatch"]


def decode(path: Path, count: int) -> list[Frame]:
    with Video(path, max_pixels=640 * 360, cache_size=count) as video:
        return video.frames_at(video.frame_times()[:count].tolist())


def timed_pose(frames: list[Frame], tracked: bool) -> tuple[float, float, list[float], int]:
    """Wall and CPU seconds for the frames, each frame's latency, and how many frames had a person."""
    estimator = PoseEstimator()
    estimator.estimate(frames[:2] if tracked else frames[:1])  # build the graph outside the timing
    latencies, found = [], 0
    wall, cpu = time.perf_counter(), time.process_time()
    if tracked:
        last = time.perf_counter()
        for pose in estimator.stream(frames):
            now = time.perf_counter()
            latencies.append(now - last)
            last, found = now, found + pose.found
    else:
        for frame in frames:
            started = time.perf_counter()
            found += estimator.estimate([frame])[0].found
            latencies.append(time.perf_counter() - started)
    result = time.perf_counter() - wall, time.process_time() - cpu, latencies, found
    estimator.close()
    return result


def report(path: Path, count: int, repeats: int) -> float:
    """Print the table for one video; returns the tracked pose frames per second."""
    frames = decode(path, count)
    width, height = frames[0].image.size
    rows: dict[str, list[tuple[float, float]]] = {"decode alone": [], "pose, tracked": [], "pose, static": []}
    latencies: dict[str, list[float]] = {"pose, tracked": [], "pose, static": []}
    found: dict[str, int] = {}
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        decode(path, count)
        rows["decode alone"].append((time.perf_counter() - wall, time.process_time() - cpu))
        for name, tracked in (("pose, tracked", True), ("pose, static", False)):
            seconds, cpu_seconds, each, found[name] = timed_pose(frames, tracked)
            rows[name].append((seconds, cpu_seconds))
            latencies[name] += each
    n = len(frames)
    print(f"\n{path.name}: {n} consecutive frames at {width}x{height}, median of {repeats}")
    print(f"  {'':<16}{'frames/s':>9}{'median ms':>11}{'p90 ms':>8}{'CPU ms/frame':>14}{'person in':>11}")
    fps = {}
    for name, runs in rows.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        fps[name] = n / wall
        if name in latencies:
            ms = np.array(latencies[name]) * 1000
            timing = f"{np.median(ms):>11.1f}{np.percentile(ms, 90):>8.1f}"
            person = f"{found[name]:>6}/{n}"
        else:
            timing, person = f"{wall / n * 1000:>11.1f}{'':>8}", ""
        print(f"  {name:<16}{fps[name]:>9.1f}{timing}{cpu / n * 1000:>14.1f}{person:>11}")
    tracked = fps["pose, tracked"]
    print(f"  pose (tracked) / decode alone, time per frame: {fps['decode alone'] / tracked:.2f}x")
    print(f"  pose (static) / pose (tracked), time per frame: {tracked / fps['pose, static']:.2f}x")
    both = 1 / (1 / fps["decode alone"] + 1 / tracked)
    print(f"  decode + pose, one after the other: {both:.1f} frames/s")
    print(f"  pose, tracked >= {TARGET_FPS:g} frames/s: {tracked:.1f}  {check(tracked, '>=', TARGET_FPS)}")
    return tracked


def sampled(path: Path, count: int) -> tuple[list[Frame], list[Frame]]:
    """`count` frames spread over the clip at up to POSE_PIXELS, and the frames MOTION_FRAMES before them."""
    with Video(path, max_pixels=POSE_PIXELS, cache_size=4 * count) as video:
        frames = video.window(0.2, video.info.duration - 0.1, count)
        step = MOTION_FRAMES / video.info.fps
        return frames, video.frames_at([f.time - step for f in frames])


def consecutive(path: Path, count: int) -> list[Frame]:
    with Video(path, max_pixels=POSE_PIXELS, cache_size=count) as video:
        return video.frames_at(video.frame_times()[:count].tolist())


def broadcast(path: Path, count: int, samples: int) -> None:
    """Print the broadcast table for one clip: people found as the tool samples, and speed on consecutive frames."""
    wall = time.perf_counter()
    frames, references = sampled(path, samples)
    decode_sampled = (time.perf_counter() - wall) / samples
    estimator = PeopleEstimator()
    estimator.estimate(frames[:1])  # build the graphs outside the timing
    wall = time.perf_counter()
    people = estimator.estimate(frames, references)
    pose_sampled = (time.perf_counter() - wall) / samples
    estimator.close()
    counts = [len(found) for found in people]
    posed = [sum(p.pose.found for p in found) for found in people]
    wall, cpu = time.perf_counter(), time.process_time()
    run = consecutive(path, count)
    decode_wall, decode_cpu = time.perf_counter() - wall, time.process_time() - cpu
    estimator = PeopleEstimator()
    estimator.estimate(run[:2])
    latencies, seen = [], []
    wall, cpu = time.perf_counter(), time.process_time()
    last = wall
    for found in estimator.stream(run):
        now = time.perf_counter()
        latencies.append(now - last)
        last = now
        seen.append((len(found), sum(p.pose.found for p in found)))
    pose_wall, pose_cpu = time.perf_counter() - wall, time.process_time() - cpu
    estimator.close()
    width, height = frames[0].image.size
    fps = len(run) / pose_wall
    ms = np.array(latencies) * 1000
    print(f"\n{path.name} at {width}x{height}, people (deepsport.pose.people)")
    print(
        f"  sampled: someone in {sum(c > 0 for c in counts)}/{samples} frames, people per frame {counts} "
        f"(median {statistics.median(counts):g}), posed {posed}"
    )
    print(f"  sampled: {pose_sampled * 1000:.0f} ms per frame, decode alone {decode_sampled * 1000:.0f} ms per frame")
    print(
        f"  consecutive ({len(run)} frames): pose {fps:.1f} frames/s (median {np.median(ms):.0f} ms, p90 "
        f"{np.percentile(ms, 90):.0f} ms, CPU {pose_cpu / len(run) * 1000:.0f} ms/frame); decode alone "
        f"{len(run) / decode_wall:.1f} frames/s ({decode_wall / len(run) * 1000:.0f} ms, CPU "
        f"{decode_cpu / len(run) * 1000:.0f} ms/frame); pose / decode, time per frame: {pose_wall / decode_wall:.2f}x"
    )
    print(
        f"  consecutive: someone in {sum(n > 0 for n, _ in seen)}/{len(run)} frames, people per frame median "
        f"{statistics.median(n for n, _ in seen):g}, posed per frame median {statistics.median(p for _, p in seen):g}"
    )
    if width * height >= 1920 * 1080:
        print(f"  pose >= {BROADCAST_FPS:g} frames/s at 1080p: {fps:.1f}  {check(fps, '>=', BROADCAST_FPS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="consecutive frames per video")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement (the median is shown)")
    parser.add_argument("--clip", type=Path, action="append", help="a video (repeatable); default: the real clips")
    parser.add_argument("--sampled", type=int, default=8, help="frames sampled over each broadcast clip")
    parser.add_argument("--broadcast-only", action="store_true", help="only the broadcast clips")
    parser.add_argument("--clips", type=Path, default=CLIPS, help=f"the shared clips (default {CLIPS})")
    args = parser.parse_args()
    for name in BROADCAST:
        if (args.clips / f"{name}.mp4").exists() and not args.clip:
            broadcast(args.clips / f"{name}.mp4", min(args.frames, 150), args.sampled)
    if args.broadcast_only:
        return
    paths = args.clip or [CLIPS / f"{name}.mp4" for name in SINGLE_ATHLETE if (CLIPS / f"{name}.mp4").exists()]
    if not paths:
        print(f"(no real clips in {CLIPS}; using the synthetic test video, where nobody is in view)")
        paths = [bench_video()]
    for path in paths:
        report(path, args.frames, args.repeats)


if __name__ == "__main__":
    main()
