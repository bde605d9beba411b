"""``deepsport distill``: questions → text → teacher → filter → export, each resumable, or all with ``run``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deepsport.console import console, fail

app = typer.Typer(no_args_is_help=True, help="Make SFT and RL datasets from annotated sports video.")

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="YAML job config.")]
ShardOption = Annotated[
    str | None, typer.Option(help="Work on shard i of n (i/n): the videos whose stable hash falls in it.")
]
Overrides = Annotated[list[str] | None, typer.Argument(help="Config overrides: key.sub=value ...")]
TeacherOption = Annotated[str | None, typer.Option(help="oracle (offline, from annotations) or api (endpoint).")]
DEFAULT_CONFIG = Path("configs/distill.yaml")


def _setup(config_path: Path, overrides: list[str] | None, shard: str | None, teacher: str | None = None) -> Any:
    from data_distill.config import DistillConfig
    from data_distill.pipeline import parse_shard
    from deepsport.config import ConfigError, load_config

    extra = [*(overrides or []), *([f"teacher.kind={teacher}"] if teacher else [])]
    try:
        return load_config(DistillConfig, config_path, extra), parse_shard(shard) if shard else None
    except (ConfigError, ValueError) as err:
        raise fail(str(err)) from None


def _guarded(step: Any, *args: Any) -> Any:
    """Run a step; known problems become one-line errors, an interrupt says how to resume."""
    from data_distill.sources import SourceError
    from deepsport.paths import VideoPathError

    try:
        return step(*args)
    except (SourceError, VideoPathError, ValueError) as err:
        raise fail(str(err)) from None
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted.[/] Run the same command again to continue where it stopped.")
        raise typer.Exit(130) from None


def _report(name: str, stats: Any) -> None:
    if isinstance(stats, dict):
        console.print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
        return
    line = f"{name}: {stats.done} done, {stats.skipped} already done, {stats.failed} failed"
    if stats.cache_hits or stats.cache_misses:
        line += f" (response cache: {stats.cache_hits} hits, {stats.cache_misses} requests)"
    console.print(line)
    _report_failures(stats.failures)


def _report_filter(result: tuple[dict[str, int], dict[str, str]]) -> None:
    counts, failures = result
    _report("filter", counts)
    _report_failures(failures)


def _report_failures(failures: dict[str, str]) -> None:
    for item_id, error in list(failures.items())[:5]:
        console.print(f"  [red]failed[/] {escape(item_id)}: {escape(error)}", soft_wrap=True)
    if failures:
        console.print("  Run the same command again to retry the failed items.")


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    table = Table("source", "task type", "split", "questions", "SFT", "RL", title="Distilled datasets")
    for row in summary["rows"]:
        values = (row["source"], row["task_type"], row["split"], row["questions"], row["sft"], row["rl"])
        table.add_row(*(escape(str(v)) for v in values))
    console.print(table)
    videos = ", ".join(f"{k} {v}" for k, v in sorted(summary["videos"].items()))
    rejected = ", ".join(f"{reason} {n}" for reason, n in summary["rejected"].items()) or "none"
    console.print(f"Videos: {videos}. Trajectories kept: {summary['kept']}; rejected: {rejected}.")
    console.print(f"Wrote {escape(str(out))}/ (sft/, rl/, test.jsonl, summary.md, summary.json)")


@app.command()
def questions(config: ConfigOption = DEFAULT_CONFIG, shard: ShardOption = None, overrides: Overrides = None) -> None:
    """Read every configured source and write its questions (QAItems) to questions.jsonl."""
    from data_distill.pipeline import step_questions

    cfg, sh = _setup(config, overrides, shard)
    _report("questions", _guarded(step_questions, cfg, sh, console))


@app.command()
def text(config: ConfigOption = DEFAULT_CONFIG, shard: ShardOption = None, overrides: Overrides = None) -> None:
    """Rewrite templated questions with an LLM and draft rationales from the annotation text."""
    from data_distill.pipeline import step_text

    cfg, sh = _setup(config, overrides, shard)
    if not cfg.text.enabled:  # the later steps would ignore the rewrites
        raise fail("text distillation is off: set text.enabled=true in the config (or pass it to every step)")
    _report("text", _guarded(step_text, cfg, sh, console))


@app.command()
def teacher(
    config: ConfigOption = DEFAULT_CONFIG,
    shard: ShardOption = None,
    teacher: TeacherOption = None,
    overrides: Overrides = None,
) -> None:
    """Run the teacher (the agent loop on the video) on every question not yet answered."""
    from data_distill.pipeline import step_teacher

    cfg, sh = _setup(config, overrides, shard, teacher)
    _report("teacher", _guarded(step_teacher, cfg, sh, console))


@app.command("filter")
def filter_(config: ConfigOption = DEFAULT_CONFIG, shard: ShardOption = None, overrides: Overrides = None) -> None:
    """Keep right, well-formed, grounded, non-duplicate trajectories; record why each other one was dropped."""
    from data_distill.pipeline import step_filter

    cfg, sh = _setup(config, overrides, shard)
    _report_filter(_guarded(step_filter, cfg, sh, console))


@app.command()
def export(config: ConfigOption = DEFAULT_CONFIG, overrides: Overrides = None) -> None:
    """Write the SFT and RL datasets and the held-out benchmark, split by video, with a summary table."""
    from data_distill.pipeline import step_export, workspace

    cfg, _ = _setup(config, overrides, None)
    _print_summary(_guarded(step_export, cfg, console), workspace(cfg).export)


@app.command()
def merge(config: ConfigOption = DEFAULT_CONFIG, overrides: Overrides = None) -> None:
    """Gather the shards' records into the run folder (then run filter and export there)."""
    from data_distill.pipeline import merge as merge_shards

    cfg, _ = _setup(config, overrides, None)
    _report("merged", _guarded(merge_shards, cfg))


@app.command()
def run(
    config: ConfigOption = DEFAULT_CONFIG,
    shard: ShardOption = None,
    teacher: TeacherOption = None,
    overrides: Overrides = None,
) -> None:
    """Every step: questions, text (when enabled), teacher, filter, and export (not per shard: merge first)."""
    from data_distill.pipeline import step_export, step_filter, step_questions, step_teacher, step_text, workspace

    cfg, sh = _setup(config, overrides, shard, teacher)
    _report("questions", _guarded(step_questions, cfg, sh, console))
    if cfg.text.enabled:
        _report("text", _guarded(step_text, cfg, sh, console))
    _report("teacher", _guarded(step_teacher, cfg, sh, console))
    _report_filter(_guarded(step_filter, cfg, sh, console))
    if sh is None:
        _print_summary(_guarded(step_export, cfg, console), workspace(cfg).export)
    else:
        console.print("Shard done. When every shard is: deepsport distill merge, then filter and export.")
