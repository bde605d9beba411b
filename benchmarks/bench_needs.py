"""The "need" gate's data step (``deepsport train needs``) against a local endpoint's maximum throughput.

The endpoint (a real HTTP server on 127.0.0.1, its own process) serves at most SLOTS requests at once, each taking
LATENCY s, so it can answer SLOTS / LATENCY requests per second; the step (the real agent, no tools, on synthetic
videos) must reach at least 0.9x that, as the distillation's teacher does (benchmarks/bench_distill.py).

    .venv/bin/python -m benchmarks.bench_needs [--items 240] [--latency 0.5] [--slots 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

from datasets import Dataset, DatasetDict

from benchmarks.bench_distill import VIDEOS, serve
from benchmarks.common import check
from deepsport.config import load_config
from deepsport.dev.synthetic import make_video
from deepsport.schemas import QAItem
from rl.config import GRPOJob
from rl.need import run_needs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=240)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request at the endpoint")
    parser.add_argument("--slots", type=int, default=8, help="requests the endpoint serves at once")
    parser.add_argument("--concurrency", type=int, default=0, help="the client's limit (default 2x slots)")
    args = parser.parse_args()
    concurrency = args.concurrency or 2 * args.slots
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for v in range(VIDEOS):
            make_video(root / f"v{v}.mp4", duration=20.0, fps=5.0, size=(160, 120), gop=10)
        rows = []
        for i in range(args.items):
            item = QAItem(id=f"q{i}", video=f"v{i % VIDEOS}.mp4", question=f"Question {i}?", answer="1")
            rows.append({"id": item.id, "video": item.video, "qa": item.model_dump_json()})
        DatasetDict(train=Dataset.from_list(rows)).save_to_disk(str(root / "rl"))
        urls: multiprocessing.Queue = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve, args=(args.latency, args.slots, urls), daemon=True)
        server.start()
        overrides = [f"data.path={root / 'rl'}", f"data.video_root={root}", f"train.output_dir={root / 'run'}"]
        url = urls.get(timeout=30)
        overrides += ["need_tool.model=policy", "need_tool.backend=openai", f"need_tool.base_url={url}"]
        overrides += [f"need_tool.concurrency={concurrency}", "need_tool.samples=1", "agent.initial_frames=4"]
        config = load_config(GRPOJob, "configs/grpo.yaml", overrides)
        try:
            started = time.perf_counter()
            counts = run_needs(config)
            seconds = time.perf_counter() - started
        finally:
            server.kill()
    assert counts["questions"] == args.items and counts["failed"] == 0, counts
    maximum = args.slots / args.latency
    rate = args.items / seconds
    print(f"endpoint: {args.slots} slots x {args.latency:g} s per request -> at most {maximum:.1f} requests/s")
    print(f"client:   concurrency {concurrency}")
    print(f"needs:    {args.items} questions in {seconds:.2f} s = {rate:.1f} questions/s (dataset written)")
    ratio = rate / maximum
    print(f"ratio:    {ratio:.3f} of the endpoint's maximum (target >= 0.9) {check(ratio, '>=', 0.9)}")


if __name__ == "__main__":
    main()
