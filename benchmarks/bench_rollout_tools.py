"""The tool phase of one GRPO step: shared video decoding (deepsport.video_pool) against independent episodes.

TRL runs a rank's rollouts side by side: with the shipped grpo.yaml, the 8 rollouts of one question. Each rollout
is an episode on the question's video. Before the pool, each episode opened its own Video (an index of the file,
a decoder, a 384-frame cache), so the 8 rollouts decoded the same windows up to 8 times while the GPU waited.

One step here: QUESTIONS questions on the real shared clips (or synthetic 720p videos without ../shared), 8
rollouts each, 2 choose_frames calls per rollout in TRL's order (every rollout's first call, then every second
call). The windows overlap as sampled rollouts' do: the first around the question's evidence span, jittered by up
to 1 s and 1-2 s longer or shorter; the second a closer look inside it or the next seconds. Each mode runs in a
fresh process (the same windows): the seconds of the tool phase (opening the videos included), its ratio, and
the most decoded frames held at once against the pool's cap, and each process's peak RSS.

    .venv/bin/python -m benchmarks.bench_rollout_tools [--questions 4] [--rollouts 8] [--repeats 3]

Target: shared ≥ 4× faster than independent episodes, peak memory within the cap.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import CLIPS, bench_video, check
from deepsport.tools import Budget, Episode, Toolbox
from deepsport.tools.base import CACHE_FRAMES, READAHEAD
from deepsport.video import Video
from deepsport.video_pool import VideoPool
from rl.env import ROLLOUT_VIDEOS

MAX_PIXELS = 640 * 360  # the agent's default frame size
IDLE_BYTES = 512 * 2**20


def questions(count: int, seed: int) -> list[tuple[Path, float, float]]:
    """(video, evidence start, evidence end) of each question: the shared clips in turn, an evidence span of
    3-5 s at a random place."""
    clips = sorted(CLIPS.glob("*.mp4")) or [bench_video()]
    rng = random.Random(seed)
    out = []
    for i in range(count):
        clip = clips[i % len(clips)]
        with Video(clip) as video:
            duration = video.info.duration
        length = min(rng.uniform(3.0, 5.0), duration / 2)
        start = rng.uniform(0.0, duration - length)
        out.append((clip, start, start + length))
    return out


def calls(evidence: tuple[float, float], rollouts: int, rng: random.Random) -> list[list[dict]]:
    """For each rollout, its two choose_frames arguments (8 frames each)."""
    start, end = evidence
    plans = []
    for _ in range(rollouts):
        a = max(0.0, start + rng.uniform(-1.0, 1.0))
        b = max(a + 1.0, end + rng.uniform(-1.0, 2.0))
        if rng.random() < 0.5:  # a closer look inside the first window
            c = rng.uniform(a, (a + b) / 2)
            second = {"start": round(c, 2), "end": round(min(b, c + 1.5), 2), "num_frames": 8}
        else:  # the next seconds
            second = {"start": round(b, 2), "end": round(b + rng.uniform(2.0, 4.0), 2), "num_frames": 8}
        plans.append([{"start": round(a, 2), "end": round(b, 2), "num_frames": 8}, second])
    return plans


def tool_phase(mode: str, plan: list[tuple[Path, list[list[dict]]]]) -> tuple[float, int]:
    """Seconds for every question's rollouts to open their episodes and make their calls, in TRL's order, and the
    most bytes of decoded frames held at once (measured after each question's calls, outside the timing)."""
    pool = VideoPool(max_idle_bytes=IDLE_BYTES, keep_before=ROLLOUT_VIDEOS.keep_before, **ROLLOUT_VIDEOS.video_options)
    budget = Budget(max_turns=3, frames_per_call=8, total_frames=16)
    seconds, frames_peak = 0.0, 0
    started = time.perf_counter()
    for video, rollouts in plan:
        if mode == "shared":
            episodes = [Episode.open(video, budget, MAX_PIXELS, pool=pool) for _ in rollouts]
        else:  # as before the pool: each episode its own video
            own = {"cache_size": CACHE_FRAMES, "readahead": READAHEAD, "max_pixels": MAX_PIXELS}
            episodes = [Episode(video=Video(video, **own), budget=budget) for _ in rollouts]
        boxes = [Toolbox(episode, ["choose_frames"]) for episode in episodes]
        for call in range(2):
            for box, arguments in zip(boxes, rollouts, strict=True):
                result, _ = box.call("choose_frames", arguments[call])
                assert result.ok, result.text
        seconds += time.perf_counter() - started
        held = {id(e.video): e.video.cached_bytes() for e in episodes}
        frames_peak = max(frames_peak, pool.cached_bytes() if mode == "shared" else sum(held.values()))
        started = time.perf_counter()
        for episode in episodes:
            episode.close()
    seconds += time.perf_counter() - started
    pool.close()
    return seconds, frames_peak


def rss() -> int:
    """This process's resident memory now, in bytes."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def child(mode: str, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    plan = [(video, calls((a, b), args.rollouts, rng)) for video, a, b in questions(args.questions, args.seed)]
    before = rss()
    runs = [tool_phase(mode, plan) for _ in range(args.repeats)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds, frames = min(r[0] for r in runs), max(r[1] for r in runs)
    print(
        json.dumps({"mode": mode, "seconds": seconds, "peak_rss": peak, "tool_memory": peak - before, "frames": frames})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="best of")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=["shared", "independent"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        return child(args.mode, args)
    results = {}
    for mode in ("independent", "shared"):
        command = [sys.executable, "-m", "benchmarks.bench_rollout_tools", "--mode", mode, *sys.argv[1:]]
        results[mode] = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    frame = MAX_PIXELS * 3
    cap = CACHE_FRAMES * frame + IDLE_BYTES  # one video in use at a time per question, plus the idle budget
    ratio = results["independent"]["seconds"] / results["shared"]["seconds"]
    print(f"{args.questions} questions x {args.rollouts} rollouts x 2 calls of 8 frames (best of {args.repeats})")
    for mode, result in results.items():
        peak, tools = result["peak_rss"] / 2**20, result["tool_memory"] / 2**20
        frames = result["frames"] / 2**20
        print(
            f"  {mode:>11}: {result['seconds']:.2f} s, decoded frames {frames:.0f} MiB at most, peak RSS {peak:.0f} MiB"
        )
    print(f"shared / independent speed-up {ratio:.1f}x (target >= 4: {check(ratio, '>=', 4.0)})")
    used = results["shared"]["frames"]
    print(
        f"shared decoded frames {used / 2**20:.0f} MiB, the pool's cap {cap / 2**20:.0f} MiB: {check(used, '<=', cap)}"
    )
    tools = results["shared"]["tool_memory"] / 2**20
    print(f"(the process grew by {tools:.0f} MiB: the frames, plus the decoders and the interpreter's own allocations)")


if __name__ == "__main__":
    main()
