"""``deepsport eval``: run a benchmark (the default), validate one, score, report and compare runs.

Heavy modules are imported inside the commands, so ``deepsport --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deepsport.console import console, default_command, err_console, fail

app = typer.Typer(
    cls=default_command("run"),
    no_args_is_help=True,
    help="Evaluate on a benchmark: `eval --benchmark B --model M` (run), validate, score, report, compare.",
)

Names = Annotated[list[str] | None, typer.Option(help="Only these (repeatable, or comma-separated).")]
JudgeModel = Annotated[str | None, typer.Option(help="Judge model for open-text answers (OpenAI-compatible).")]
JudgeUrl = Annotated[str | None, typer.Option(help="The judge's endpoint, e.g. http://127.0.0.1:8001/v1.")]
JudgeKey = Annotated[str, typer.Option(help="Environment variable holding the judge's API key.")]
JudgeCache = Annotated[Path | None, typer.Option(help="Judge verdict cache (default: RUN_DIR/judge_cache.sqlite).")]
VideoRoot = Annotated[
    Path | None,
    typer.Option(help="Folder the benchmark's video paths are relative to (default: the benchmark's folder)."),
]
Thumbnails = Annotated[int, typer.Option(min=0, help="Items whose report entry shows frame thumbnails.")]


@app.command()
def run(
    benchmark: Annotated[Path, typer.Option(help="Benchmark: JSONL of QAItems, or a datasets folder.")],
    model: Annotated[str, typer.Option(help="Hub id, local checkpoint directory, or endpoint model name.")],
    backend: Annotated[str, typer.Option(help="transformers (in-process) or openai (any compatible endpoint).")] = (
        "transformers"
    ),
    base_url: Annotated[str | None, typer.Option(help="Endpoint URL for --backend openai.")] = None,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the endpoint's API key.")] = (
        "OPENAI_API_KEY"
    ),
    video_root: VideoRoot = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default: eval_runs/BENCHMARK-MODEL[-baseline]).")] = (
        None
    ),
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N selected items.")] = None,
    sports: Names = None,
    dimensions: Names = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Items in flight (openai backend; transformers runs 1).")] = 8,
    baseline: Annotated[bool, typer.Option(help="Answer from k uniform frames without tools.")] = False,
    baseline_frames: Annotated[int, typer.Option(min=1, help="Frames for --baseline.")] = 16,
    initial_frames: Annotated[int, typer.Option(min=1, help="Frames shown before the first turn.")] = 8,
    sampling: Annotated[str, typer.Option(help="Initial frames: uniform or motion.")] = "uniform",
    max_turns: Annotated[int, typer.Option(min=1, help="Model turns, the final answer included.")] = 6,
    max_frames: Annotated[int, typer.Option(min=0, help="Frames the tools may return per question.")] = 32,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Tokens per model turn.")] = 512,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 for greedy decoding.")] = 0.0,
    device: Annotated[str, typer.Option(help="Device for --backend transformers: auto, cpu, cuda.")] = "auto",
    judge_model: JudgeModel = None,
    judge_base_url: JudgeUrl = None,
    judge_api_key_env: JudgeKey = "OPENAI_API_KEY",
    judge_cache: JudgeCache = None,
    thumbnail_items: Thumbnails = 30,
) -> None:
    """Run the agent (or the no-tools baseline) on every item; rerun the same command to resume."""
    from deepsport.backends import BACKENDS, BackendError, load_chat_model
    from deepsport.keyframes import SAMPLINGS
    from eval.benchmark import BenchmarkError, load_benchmark
    from eval.runner import RunConfig, RunError, open_run, select

    if backend not in BACKENDS:
        raise fail(f"unknown --backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
    if sampling not in SAMPLINGS:
        raise fail(f"unknown --sampling '{sampling}'; choose one of: {', '.join(SAMPLINGS)}")
    root = video_root or benchmark.resolve().parent
    try:
        loaded = load_benchmark(benchmark, root)
    except BenchmarkError as err:
        raise fail(str(err)) from None
    if loaded.problems:
        err_console.print(
            f"[yellow]{len(loaded.problems)} problems in the benchmark; those rows are skipped[/] "
            f"(list them with: deepsport eval validate {escape(str(benchmark))} --video-root {escape(str(root))})"
        )
    items = select(loaded.items, _split(sports), _split(dimensions), limit)
    if not items:
        raise fail("no benchmark items match --sports/--dimensions; see the names with `deepsport eval validate`")
    config = RunConfig(
        benchmark=str(benchmark.resolve()),
        model=model,
        backend=backend,
        baseline=baseline,
        baseline_frames=baseline_frames,
        initial_frames=initial_frames,
        sampling=sampling,
        max_turns=max_turns,
        max_frames=max_frames,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
    )
    out = out or Path("eval_runs") / f"{benchmark.stem}-{Path(model).name}{'-baseline' if baseline else ''}"
    try:
        open_run(out, config)
    except RunError as err:
        raise fail(str(err)) from None
    judge = _judge(out, judge_model, judge_base_url, judge_api_key_env, judge_cache)
    workers = concurrency if backend == "openai" else 1
    try:
        with err_console.status(f"Loading {escape(model)} ({backend})…"):
            chat_model = load_chat_model(model, backend, base_url=base_url, api_key_env=api_key_env, device=device)
    except BackendError as err:
        raise fail(str(err)) from None
    try:
        progress = _run_with_bar(chat_model, config, items, out, root, workers, judge)
    except KeyboardInterrupt:
        raise fail(f"interrupted; finished items are saved in {out}: run the same command to resume") from None
    finally:
        chat_model.close()
    console.print(
        f"{progress.done} items answered now, {progress.skipped} already done, {progress.errors} errors; "
        f"results in {escape(str(out))}"
    )
    _write_reports(out, root, thumbnail_items)


@app.command()
def validate(
    benchmark: Annotated[Path, typer.Argument(help="Benchmark: JSONL of QAItems, or a datasets folder.")],
    video_root: VideoRoot = None,
) -> None:
    """Check every row of a benchmark (schema, answers, ids, videos) and list all problems."""
    from eval.benchmark import BenchmarkError, load_benchmark

    root = video_root or benchmark.resolve().parent
    try:
        loaded = load_benchmark(benchmark, root)
    except BenchmarkError as err:
        raise fail(str(err)) from None
    for problem in loaded.problems:
        console.print(escape(str(problem)), soft_wrap=True)
    rows = len({p.row for p in loaded.problems})
    console.print(f"{len(loaded.items)} valid items; {len(loaded.problems)} problems in {rows} rows")
    if loaded.problems:
        raise typer.Exit(1)


@app.command()
def score(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    judge_model: JudgeModel = None,
    judge_base_url: JudgeUrl = None,
    judge_api_key_env: JudgeKey = "OPENAI_API_KEY",
    judge_cache: JudgeCache = None,
    video_root: VideoRoot = None,
    thumbnail_items: Thumbnails = 30,
) -> None:
    """Score a run again: rules first, the judge for open text (cached verdicts cost nothing)."""
    from eval.runner import RunError, rescore

    config = _saved_config(run_dir)
    judge = _judge(run_dir, judge_model, judge_base_url, judge_api_key_env, judge_cache)
    try:
        with err_console.status("Scoring…"):
            methods = rescore(run_dir, judge)
    except RunError as err:
        raise fail(str(err)) from None
    console.print("Scored by: " + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())))
    _write_reports(run_dir, video_root or Path(config["benchmark"]).parent, thumbnail_items)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    video_root: VideoRoot = None,
    thumbnail_items: Thumbnails = 30,
) -> None:
    """Write report.md, report.json and report.html for a run."""
    config = _saved_config(run_dir)
    _write_reports(run_dir, video_root or Path(config["benchmark"]).parent, thumbnail_items)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="First run directory.")],
    run_b: Annotated[Path, typer.Argument(help="Second run directory.")],
    show: Annotated[int, typer.Option(min=0, help="Flipped items to list.")] = 20,
) -> None:
    """Per-dimension accuracy differences between two runs, and the items that flipped."""
    from eval.compare import compare_runs
    from eval.report import percent
    from eval.runner import RunError, load_results

    try:
        rows_a, rows_b = load_results(run_a), load_results(run_b)
    except RunError as err:
        raise fail(str(err)) from None
    if not rows_a or not rows_b:
        raise fail(f"{run_a if not rows_a else run_b} has no results; run `deepsport eval run` first")
    result = compare_runs(rows_a, rows_b)
    table = Table("dimension", "items", "A", "B", "B − A", title=f"A: {run_a}   B: {run_b}")
    for name, stats in result["dimensions"].items():
        delta = "–" if stats["delta"] is None else f"{100 * stats['delta']:+.1f}"
        table.add_row(escape(name), str(stats["items"]), percent(stats["a"]), percent(stats["b"]), delta)
    console.print(table)
    flips = result["flips"]
    better = sum(f.improved for f in flips)
    console.print(f"{len(flips)} items flipped: {better} wrong → right, {len(flips) - better} right → wrong")
    for flip in flips[:show]:
        arrow = "wrong → right" if flip.improved else "right → wrong"
        scores = f"{flip.score_a:g} → {flip.score_b:g}"
        console.print(f"  {escape(flip.id)} ({escape(flip.dimension)}): {arrow} ({scores})")
    for side, ids in (("only in A", result["only_a"]), ("only in B", result["only_b"])):
        if ids:
            console.print(f"{len(ids)} items {side} (not compared)")
    if result["unscored"]:
        console.print(f"{result['unscored']} items unscored or failed in a run (not compared)")


def _split(names: list[str] | None) -> list[str] | None:
    return [n.strip() for name in names for n in name.split(",") if n.strip()] if names else None


def _saved_config(run_dir: Path) -> dict[str, Any]:
    import json

    from eval.runner import CONFIG

    try:
        return json.loads((run_dir / CONFIG).read_text())
    except (OSError, json.JSONDecodeError):
        raise fail(f"{run_dir} is not a run directory (no readable {CONFIG}); give the --out of a run") from None


def _judge(out: Path, model: str | None, base_url: str | None, api_key_env: str, cache: Path | None) -> Any:
    from deepsport.judge import Judge

    if model is None:
        return None
    if base_url is None:
        raise fail("--judge-model needs --judge-base-url, e.g. http://127.0.0.1:8001/v1")
    return Judge(model, base_url, api_key_env=api_key_env, cache_path=cache or out / "judge_cache.sqlite")


def _run_with_bar(chat_model, config, items, out, root, workers, judge) -> Any:  # noqa: ANN001
    from rich.progress import TextColumn

    from deepsport.jobs import progress_bar
    from eval.report import percent
    from eval.runner import run_items

    with progress_bar(err_console, TextColumn("{task.fields[accuracy]}")) as bar:
        task = bar.add_task("Evaluating", total=len(items), accuracy="")

        def update(progress) -> None:  # noqa: ANN001
            accuracy = f"accuracy {percent(progress.accuracy)} · errors {progress.errors}"
            bar.update(task, completed=progress.skipped + progress.done, accuracy=accuracy)

        return run_items(chat_model, config, items, out, root, workers, judge, on_row=update)


def _write_reports(out: Path, video_root: Path, thumbnail_items: int) -> None:
    import json

    from eval.html import write_html
    from eval.report import percent, summarize, write_summary
    from eval.runner import CONFIG, RunError, load_results

    try:
        rows = sorted(load_results(out).values(), key=lambda row: row.id)
    except RunError as err:
        raise fail(str(err)) from None
    summary = summarize(rows, json.loads((out / CONFIG).read_text()))
    write_summary(out, summary)
    with err_console.status("Writing the HTML report…"):
        page = write_html(out, summary, rows, video_root, thumbnail_items)
    overall = summary["overall"]
    console.print(
        f"Accuracy {percent(overall['accuracy'])} on {overall['scored']} scored items "
        f"({overall['unscored']} unscored, {overall['errors']} errors) · "
        + " · ".join(f"{k} {percent(v['accuracy'])}" for k, v in summary["by_dimension"].items())
    )
    console.print(f"Reports: {escape(str(out / 'report.md'))}, report.json, {escape(str(page))}")
