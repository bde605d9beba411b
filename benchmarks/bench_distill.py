"""Distillation throughput against a local OpenAI-compatible endpoint with a fixed latency and a concurrency limit.

The endpoint (a real HTTP server on 127.0.0.1) serves at most SLOTS requests at once, each taking LATENCY s, so
its maximum throughput is SLOTS / LATENCY requests per second. The teacher step (the real agent loop on real
synthetic videos with a keyframe every 2 s, one request per question here) must reach at least 0.9x that.
Then the same questions again with the outputs removed: every request is answered by the response cache.

    .venv/bin/python -m benchmarks.bench_distill [--items 240] [--latency 0.5] [--slots 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

from rich.console import Console

from benchmarks.common import check
from data_distill.config import DistillConfig, EndpointConfig, TeacherConfig
from data_distill.pipeline import step_teacher, workspace
from deepsport.agent_config import AgentConfig
from deepsport.dev.endpoint import LocalEndpoint, Reply, completion
from deepsport.dev.synthetic import make_video
from deepsport.jsonl import JsonlAppender
from deepsport.schemas import QAItem

VIDEOS = 8


def reply(body: dict, number: int) -> Reply:
    return Reply(payload=completion("<think>Counted.</think><answer>1</answer>"))


def serve(latency: float, slots: int, urls: multiprocessing.Queue) -> None:
    endpoint = LocalEndpoint(reply, latency=latency, slots=slots)
    urls.put(endpoint.url)
    endpoint.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=240)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request at the endpoint")
    parser.add_argument("--slots", type=int, default=8, help="requests the endpoint serves at once")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="the client's limit (default 2x slots, so the endpoint's queue "
        "never runs dry while the client prepares the next requests)",
    )
    args = parser.parse_args()
    concurrency = args.concurrency or 2 * args.slots
    quiet = Console(quiet=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "videos").mkdir()
        for v in range(VIDEOS):
            make_video(root / "videos" / f"v{v}.mp4", duration=20.0, fps=5.0, size=(160, 120), gop=10)
        config = DistillConfig(
            video_root=str(root / "videos"),
            out_dir=str(root / "out"),
            concurrency=concurrency,
            teacher=TeacherConfig(kind="api", agent=AgentConfig(initial_frames=4)),
        )
        space = workspace(config)
        with JsonlAppender(space.questions) as writer:
            for i in range(args.items):
                item = QAItem(id=f"q{i}", video=f"v{i % VIDEOS}.mp4", question=f"Question {i}?", answer="1")
                writer.write(item.model_dump(mode="json"))

        urls: multiprocessing.Queue = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve, args=(args.latency, args.slots, urls), daemon=True)
        server.start()  # its own process, as a real server is: it takes none of the client's interpreter time
        config.teacher.endpoint = EndpointConfig(model="teacher", base_url=urls.get(timeout=30))
        try:
            started = time.perf_counter()
            stats = step_teacher(config, None, quiet)
            seconds = time.perf_counter() - started
            assert stats.done == args.items and stats.cache_misses == args.items, stats
            space.trajectories.unlink()
            started = time.perf_counter()
            again = step_teacher(config, None, quiet)
            cached_seconds = time.perf_counter() - started
            assert again.cache_hits == args.items and again.cache_misses == 0, again
        finally:
            server.kill()
    maximum = args.slots / args.latency
    rate = args.items / seconds
    ratio = rate / maximum
    print(f"endpoint: {args.slots} slots x {args.latency:g} s per request -> at most {maximum:.1f} requests/s")
    print(f"client:   concurrency {concurrency}")
    print(f"teacher:  {args.items} items in {seconds:.2f} s = {rate:.1f} items/s ({stats.cache_misses} requests)")
    print(f"ratio:    {ratio:.3f} of the endpoint's maximum (target >= 0.9) {check(ratio, '>=', 0.9)}")
    print(f"re-run from the response cache: {cached_seconds:.2f} s, {again.cache_hits} hits, 0 requests")


if __name__ == "__main__":
    main()
