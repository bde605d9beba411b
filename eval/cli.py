"""``deepsport eval``: run a benchmark (the default), validate one, score, report and compare runs.

Heavy modules are imported inside the commands, so ``deepsport --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deepsport import flags
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
JudgeAll = Annotated[
    bool | None,
    typer.Option("--judge-all", help="Score every item 0-100 by the judge too, beside the rules (key: judge.all)."),
]
JudgePrompt = Annotated[
    Path | None,
    typer.Option(help="YAML rubric and prompt of the judge (default: eval/judge_prompt.yaml with --judge-all)."),
]
JudgeMaxTokens = Annotated[int | None, typer.Option(min=1, help="Tokens per verdict (key: judge.max_tokens).")]
VideoRoot = Annotated[
    Path | None,
    typer.Option(help="Folder the benchmark's video paths are relative to (default: the benchmark's folder)."),
]
Thumbnails = Annotated[int, typer.Option(min=0, help="Items whose report entry shows frame thumbnails.")]


EVAL_KEYS = {  # flag (parameter name) → EvalConfig key, where it is not the flag's own name
    **{flag: f"agent.{key}" for flag, key in flags.AGENT_KEYS.items()},
    "judge_model": "judge.model",
    "judge_base_url": "judge.base_url",
    "judge_api_key_env": "judge.api_key_env",
    "judge_cache": "judge.cache",
    "judge_all": "judge.all",
    "judge_prompt": "judge.prompt",
    "judge_max_tokens": "judge.max_tokens",
}
DEFAULT_JUDGE_PROMPT = Path(__file__).with_name("judge_prompt.yaml")  # the benchmark's 0-100 protocol
NOT_OVERRIDES = ("config_overrides", "config", "baseline", "baseline_frames")  # every other flag overrides its key


@app.command()
def run(
    config_overrides: flags.Overrides = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Eval config YAML (configs/eval.yaml).")] = None,
    benchmark: Annotated[Path | None, typer.Option(help="Benchmark: JSONL of QAItems, or a datasets folder.")] = None,
    model: Annotated[str | None, typer.Option(help="Hub id, local checkpoint, or endpoint model name.")] = None,
    backend: Annotated[str | None, typer.Option(help="transformers (in-process) or openai (an endpoint).")] = None,
    base_url: Annotated[str | None, typer.Option(help="Endpoint URL for --backend openai.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the API key.")] = None,
    video_root: VideoRoot = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (eval_runs/BENCHMARK-MODEL[-baseline]).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N selected items.")] = None,
    sports: Names = None,
    dimensions: Names = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Items in flight (backend openai).")] = None,
    baseline: Annotated[bool, typer.Option(help="The baseline preset: 16 uniform frames, no tools.")] = False,
    baseline_frames: Annotated[int | None, typer.Option(min=1, help="Frames for --baseline.")] = None,
    initial_frames: flags.InitialFrames = None,
    sampling: flags.Sampling = None,
    max_turns: flags.MaxTurns = None,
    max_frames: flags.MaxFrames = None,
    max_new_tokens: flags.MaxNewTokens = None,
    temperature: flags.Temperature = None,
    tool_protocol: flags.ToolProtocol = None,
    device: Annotated[str | None, typer.Option(help="Device for --backend transformers: auto, cpu, cuda.")] = None,
    judge_model: JudgeModel = None,
    judge_base_url: JudgeUrl = None,
    judge_api_key_env: Annotated[str | None, typer.Option(help="Environment variable holding the judge's key.")] = None,
    judge_cache: JudgeCache = None,
    judge_all: JudgeAll = None,
    judge_prompt: JudgePrompt = None,
    judge_max_tokens: JudgeMaxTokens = None,
    thumbnail_items: Annotated[int | None, typer.Option(min=0, help="Report items shown with thumbnails.")] = None,
) -> None:
    """Run the agent (or the no-tools baseline) on every item; rerun the same command to resume.

    Settings: EvalConfig's defaults < --config < --baseline < CONFIG_OVERRIDES (agent.budget.max_turns=3) < flags."""
    given = {name: value for name, value in locals().items() if name not in NOT_OVERRIDES}
    from deepsport.backends import BackendError, load_chat_model
    from deepsport.config import ConfigError, load_config
    from eval.benchmark import BenchmarkError, load_benchmark
    from eval.config import EvalConfig
    from eval.runner import RunError, open_run, select

    if baseline_frames is not None and not baseline:
        raise fail("--baseline-frames sets the frames of --baseline; give both, or --initial-frames")
    given |= {
        "sports": _split(sports),
        "dimensions": _split(dimensions),
        "initial_frames": baseline_frames or initial_frames,
    }
    preset = ["agent.preset=baseline"] if baseline else []  # first: the file's agent keys give way to the preset
    try:
        settings = load_config(
            EvalConfig, config, [*preset, *(config_overrides or []), *flags.overrides(EVAL_KEYS, **given)]
        )
    except ConfigError as err:
        raise fail(str(err)) from None
    if settings.benchmark is None:
        raise fail("no benchmark: give --benchmark (or benchmark: in the --config file)")
    path = Path(settings.benchmark)
    root = Path(settings.video_root) if settings.video_root else path.resolve().parent
    try:
        loaded = load_benchmark(path, root)
    except BenchmarkError as err:
        raise fail(str(err)) from None
    if loaded.problems:
        err_console.print(
            f"[yellow]{len(loaded.problems)} problems in the benchmark; those rows are skipped[/] "
            f"(list them with: deepsport eval validate {escape(str(path))} --video-root {escape(str(root))})"
        )
    items = select(loaded.items, settings.sports, settings.dimensions, settings.limit)
    if not items:
        raise fail("no benchmark items match --sports/--dimensions; see the names with `deepsport eval validate`")
    no_tools = "-baseline" if settings.agent.tools == [] else ""
    run_dir = Path(settings.out or Path("eval_runs") / f"{path.stem}-{Path(settings.model).name}{no_tools}")
    settings.benchmark, settings.video_root, settings.out = str(path.resolve()), str(root.resolve()), str(run_dir)
    try:
        open_run(run_dir, settings)
    except RunError as err:
        raise fail(str(err)) from None
    judge = _judge(run_dir, settings.judge)
    workers = settings.concurrency if settings.backend == "openai" else 1
    try:
        with err_console.status(f"Loading {escape(settings.model)} ({settings.backend})…"):
            chat_model = load_chat_model(
                settings.model,
                settings.backend,
                settings.base_url,
                settings.api_key_env,
                settings.device,
                settings.agent.tool_protocol,
                settings.agent.tool_images,
            )
    except BackendError as err:
        raise fail(str(err)) from None
    try:
        progress = _run_with_bar(chat_model, settings, items, run_dir, root, workers, judge)
    except KeyboardInterrupt:
        raise fail(f"interrupted; finished items are saved in {run_dir}: run the same command to resume") from None
    finally:
        chat_model.close()
    console.print(
        f"{progress.done} items answered now, {progress.skipped} already done, {progress.errors} errors; "
        f"results in {escape(str(run_dir))}"
    )
    _write_reports(run_dir, root, settings.thumbnail_items)


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
    judge_all: JudgeAll = False,
    judge_prompt: JudgePrompt = None,
    judge_max_tokens: JudgeMaxTokens = 1024,
    out: Annotated[
        Path | None, typer.Option(help="Score a copy of the run here (e.g. another judge), leaving RUN_DIR as it is.")
    ] = None,
    video_root: VideoRoot = None,
    thumbnail_items: Thumbnails = 30,
) -> None:
    """Score a run again: rules first, the judge for open text or every item (cached verdicts cost nothing)."""
    from eval.config import JudgeConfig
    from eval.runner import CONFIG, RESULTS, RunError, rescore

    config = _saved_config(run_dir)
    if out is not None and out.resolve() != run_dir.resolve():
        if (out / RESULTS).exists():
            raise fail(f"{out} already holds results; give a new --out, or score it in place")
        out.mkdir(parents=True, exist_ok=True)
        for name in (CONFIG, RESULTS):
            if (run_dir / name).exists():
                (out / name).write_bytes((run_dir / name).read_bytes())
        run_dir = out
    settings = JudgeConfig(
        model=judge_model,
        base_url=judge_base_url,
        api_key_env=judge_api_key_env,
        cache=str(judge_cache) if judge_cache else None,
        all=bool(judge_all),
        prompt=str(judge_prompt) if judge_prompt else None,
        max_tokens=judge_max_tokens or 1024,
    )
    judge = _judge(run_dir, settings)
    try:
        with err_console.status("Scoring…"):
            methods = rescore(run_dir, judge, judge_all=settings.all)
    except RunError as err:
        raise fail(str(err)) from None
    console.print("Scored by: " + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())))
    _write_reports(run_dir, video_root or _saved_video_root(config), thumbnail_items)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    video_root: VideoRoot = None,
    thumbnail_items: Thumbnails = 30,
) -> None:
    """Write report.md, report.json and report.html for a run."""
    config = _saved_config(run_dir)
    _write_reports(run_dir, video_root or _saved_video_root(config), thumbnail_items)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="First run directory.")],
    run_b: Annotated[Path, typer.Argument(help="Second run directory.")],
    show: Annotated[int, typer.Option(min=0, help="Flipped items to list.")] = 20,
    judges: Annotated[
        bool, typer.Option("--judges", help="Agreement of the two runs' judges (the same run scored twice).")
    ] = False,
    threshold: Annotated[float, typer.Option(help="With --judges: a 0-100 score passing, for Cohen's kappa.")] = 50.0,
) -> None:
    """Per-dimension accuracy differences between two runs, and the items that flipped; with --judges, how two
    judges of one run agree (Pearson, Spearman, Cohen's kappa)."""
    from eval.compare import compare_runs
    from eval.report import percent
    from eval.runner import RunError, load_results

    try:
        rows_a, rows_b = load_results(run_a), load_results(run_b)
    except RunError as err:
        raise fail(str(err)) from None
    if not rows_a or not rows_b:
        raise fail(f"{run_a if not rows_a else run_b} has no results; run `deepsport eval run` first")
    if judges:
        _print_agreement(rows_a, rows_b, threshold, f"A: {run_a}   B: {run_b}")
        return
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


def _print_agreement(rows_a: Any, rows_b: Any, threshold: float, title: str) -> None:
    from eval.compare import judge_agreement
    from eval.report import fmt

    result = judge_agreement(rows_a, rows_b, threshold)
    if not result["groups"]["overall"]["items"]:
        raise fail("no item has a judge score in both runs; score them with `deepsport eval score RUN --judge-all`")
    models = {row.judge_model for row in rows_a.values()}, {row.judge_model for row in rows_b.values()}
    table = Table("", "items", "Pearson", "Spearman", f"kappa (pass ≥ {threshold:g})", "pass/fail agree", title=title)
    for name, stats in result["groups"].items():
        agree = "–" if stats["agree"] is None else f"{100 * stats['agree']:.1f}%"
        cells = [fmt(stats["pearson"]), fmt(stats["spearman"]), fmt(stats["kappa"]), agree]
        table.add_row(escape(name), str(stats["items"]), *cells)
    console.print(table)
    judges = " vs ".join(", ".join(sorted(str(m) for m in side if m)) or "no judge" for side in models)
    console.print(f"Judges: {escape(judges)}; {result['unknown']} items unknown to a judge (not compared)")


def _split(names: list[str] | None) -> list[str] | None:
    return [n.strip() for name in names for n in name.split(",") if n.strip()] if names else None


def _saved_config(run_dir: Path) -> dict[str, Any]:
    import json

    from eval.runner import CONFIG

    try:
        return json.loads((run_dir / CONFIG).read_text())
    except (OSError, json.JSONDecodeError):
        raise fail(f"{run_dir} is not a run directory (no readable {CONFIG}); give the --out of a run") from None


def _saved_video_root(config: dict[str, Any]) -> Path:
    """The video root a run used (recorded in its config; older runs: the benchmark's folder)."""
    return Path(config.get("video_root") or Path(config["benchmark"]).parent)


def _judge(out: Path, settings: Any) -> Any:
    """The judge of `settings` (an ``eval.config.JudgeConfig``), or None without a model."""
    from deepsport.judge import Judge, JudgePrompt, load_judge_prompt

    if settings.model is None:
        if settings.all:
            raise fail("--judge-all needs a judge: give --judge-model and --judge-base-url")
        return None
    if settings.base_url is None:
        raise fail("--judge-model needs --judge-base-url, e.g. http://127.0.0.1:8001/v1")
    path = settings.prompt or (DEFAULT_JUDGE_PROMPT if settings.all else None)
    try:
        prompt = load_judge_prompt(path) if path else JudgePrompt()
    except ValueError as err:
        raise fail(str(err)) from None
    cache = settings.cache or out / "judge_cache.sqlite"
    return Judge(
        settings.model,
        settings.base_url,
        api_key_env=settings.api_key_env,
        cache_path=cache,
        prompt=prompt,
        max_tokens=settings.max_tokens,
    )


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
