"""The HTML report of a benchmark-sized run: first-page weight and time to first render in headless Chromium,
the page that loads items on demand against the one page holding every trajectory (the report before it).

A 6.7k-item results run (the benchmark's size) is generated in a temporary folder: Thinking-model turns (a
thought of about 700 characters per turn), one or two tool calls, 16 to 24 frames per item, thumbnails for the
first 30 items from a synthetic video. Both reports are written from the same rows (the one page is today's
report with every item inline, its styles included). Headless Chromium loads each page RUNS times; a probe added
to a copy of the page records, in the page's own clock, its first contentful paint and its load event (the whole
first page parsed, laid out and its script run: the time to a usable first render); medians are printed.
Target: the first page under 5 MB.

    .venv/bin/python -m benchmarks.bench_report [--items 6700] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import check
from deepsport.dev.synthetic import make_video
from deepsport.jsonl import to_line
from deepsport.schemas import DIMENSIONS, EvalRow, QAItem, ToolCallRecord, Trajectory, TurnRecord
from eval.html import ITEMS_DIR, write_html
from eval.report import summarize
from eval.runner import RESULTS, load_results

SPORTS = ("soccer", "basketball", "tennis", "volleyball", "diving", "gymnastics", "aerobics")
WORDS = ("the", "player", "ball", "referee", "foul", "pass", "shot", "frame", "left", "right", "serve", "goal")
TARGET_MB = 5.0


def thought(rng: random.Random, chars: int = 700) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def row(n: int, rng: random.Random) -> EvalRow:
    """One answered item as a Thinking model's agent run would leave it."""
    duration = rng.uniform(20, 90)
    item = QAItem(
        id=f"item{n:05d}",
        video="clip.mp4",
        question=f"What happens after the {rng.choice(WORDS)} at {rng.uniform(0, duration):.1f} s? ({n})",
        answer=thought(rng, 60),
        sport=rng.choice(SPORTS),
        dimension=rng.choice(DIMENSIONS),
    )
    initial = [round(duration * (i + 0.5) / 16, 2) for i in range(16)]
    calls, turns, seen = [], [], list(initial)
    count = rng.choice((2, 3))
    for turn in range(count):
        think = thought(rng)
        turns.append(TurnRecord(index=turn, text=f"<think>{think}</think>", think=think))
        if turn < count - 1:  # every turn but the answer looks closer
            start = rng.uniform(0, duration - 4)
            times = [round(start + i, 2) for i in range(4)]
            seen += times
            arguments = {"start": round(start, 2), "end": round(start + 4, 2), "num_frames": 4}
            result = f"4 frames from {start:.2f}s to {start + 4:.2f}s."
            calls.append(ToolCallRecord(turn=turn, name="choose_frames", arguments=arguments, ok=True, result=result))
            calls[-1].frame_times = times
    answer = thought(rng, 80)
    trajectory = Trajectory(
        id=item.id,
        video=item.video,
        video_duration=duration,
        question=item.question,
        model="Qwen/Qwen3-VL-8B-Thinking",
        backend="openai",
        messages=[],  # the report reads turns and calls, not the messages
        turns=turns,
        tool_calls=calls,
        frame_times=seen,
        answer=answer,
        stop_reason="answer",
    )
    verdict = rng.choice((0, 20, 50, 80, 100))
    return EvalRow(
        id=item.id,
        item=item,
        status="ok",
        latency=rng.uniform(5, 60),
        prediction=answer,
        stop_reason="answer",
        frames_used=len(seen),
        tool_calls=len(calls),
        turns=len(turns),
        trajectory=trajectory,
        score=verdict / 100,
        score_method="judge",
        judge_rationale="The key fact matches.",
        judge_score=float(verdict),
        judge_model="Qwen/Qwen3-32B",
        judge_reply=json.dumps({"score": verdict, "rationale": "The key fact matches."}),
    )


PROBE = (
    "<script>new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.name === "
    "'first-contentful-paint') document.documentElement.dataset.fcp = e.startTime; })"
    ".observe({type: 'paint', buffered: true});"
    "addEventListener('load', () => { document.documentElement.dataset.load = performance.now(); });</script>"
)


def render_ms(page: Path, profile: Path) -> tuple[float, float]:
    """Milliseconds to first contentful paint and to the load event of `page` in headless Chromium."""
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    if chrome is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}"]
    dom = subprocess.run(
        [chrome, *flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=600, check=True
    ).stdout
    root = re.search(r"<html[^>]*>", dom)
    fcp, load = (re.search(rf'data-{k}="([0-9.]+)"', root.group(0) if root else "") for k in ("fcp", "load"))
    if fcp is None or load is None:
        raise SystemExit(f"the probe found no paint or load time in {probe}")
    return float(fcp.group(1)), float(load.group(1))


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else list(path.rglob("*"))
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6700)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_video(root / "clip.mp4", duration=90.0, fps=5.0, size=(320, 180))
        run = root / "run"
        run.mkdir()
        (run / RESULTS).write_text("".join(to_line(row(n, rng)) for n in range(args.items)), encoding="utf-8")
        print(f"{args.items} items, results.jsonl {size_mb(run / RESULTS):.1f} MB")
        rows = sorted(load_results(run).values(), key=lambda r: r.id)
        summary = summarize(rows, {"model": "Qwen/Qwen3-VL-8B-Thinking", "backend": "openai"})
        pages = {}
        for name, inline in (("one page (before)", len(rows)), ("on demand (now)", 200)):
            out = root / name.split()[0]
            out.mkdir()
            start = time.perf_counter()
            pages[name] = write_html(out, summary, rows, root, inline_items=inline)
            print(f"{name}: written in {time.perf_counter() - start:.1f} s")
        loads = {}
        for name, page in pages.items():
            fcp, load = zip(*(render_ms(page, root / "chromium") for _ in range(args.runs)), strict=True)
            loads[name] = statistics.median(load)
            scripts = page.parent / ITEMS_DIR
            count = len(list(scripts.glob("*.js"))) if scripts.exists() else 0
            extra = f" + {size_mb(scripts):.1f} MB in {count} item scripts" if count else ""
            print(
                f"{name}: first page {size_mb(page):.2f} MB{extra}; first contentful paint "
                f"{statistics.median(fcp):.0f} ms, loaded {loads[name]:.0f} ms (medians of {args.runs})"
            )
        before, now = pages["one page (before)"], pages["on demand (now)"]
        print(
            f"first page {size_mb(before) / size_mb(now):.1f}x lighter; loaded "
            f"{loads['one page (before)'] / loads['on demand (now)']:.1f}x sooner"
        )
        print(check(size_mb(now), "<=", TARGET_MB) + f" first page under {TARGET_MB:g} MB")


if __name__ == "__main__":
    main()
