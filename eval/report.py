"""Run summaries: overall, per-dimension and per-sport accuracy, frames and tool calls per question, latency;
written as JSON and markdown (the HTML page is in ``eval.html``).

Two scores side by side, both on 0-100 as the paper's tables: the rule-based ``accuracy`` (open text by the
judge) and ``judge``, the mean of the LLM judge's 0-100 verdicts (``--judge-all``); items the judge failed on
are counted as ``judge_unknown``, never as 0. ``turns_cut`` counts model turns that ended at the token limit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepsport.schemas import EvalRow


def group_stats(rows: list[EvalRow]) -> dict[str, Any]:
    """Counts and accuracy of some rows: accuracy is the mean score of the scored ones (None when none are)."""
    ok = [r for r in rows if r.status == "ok"]
    scores = [r.score for r in ok if r.score is not None]
    verdicts = [r.judge_score for r in ok if r.judge_score is not None]
    return {
        "items": len(rows),
        "scored": len(scores),
        "unscored": len(ok) - len(scores),
        "errors": len(rows) - len(ok),
        "accuracy": float(np.mean(scores)) if scores else None,
        "judge": float(np.mean(verdicts)) if verdicts else None,  # 0-100
        "judged": len(verdicts),
        "judge_unknown": sum(r.judge_model is not None and r.judge_score is None for r in ok),
    }


def summarize(rows: list[EvalRow], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole report as one JSON-serialisable dict."""
    ok = [r for r in rows if r.status == "ok"]
    latencies = [r.latency for r in ok]
    return {
        "config": config or {},
        "overall": group_stats(rows),
        "by_dimension": _grouped(rows, lambda r: r.item.dimension or "none"),
        "by_sport": _grouped(rows, lambda r: r.item.sport or "unknown"),
        "by_answer_type": _grouped(rows, lambda r: r.item.answer_type),
        "frames_per_question": _mean([r.frames_used for r in ok]),
        "tool_calls_per_question": _mean([r.tool_calls for r in ok]),
        "latency": {
            "mean": _mean(latencies),
            "p50": float(np.percentile(latencies, 50)) if latencies else None,
            "p90": float(np.percentile(latencies, 90)) if latencies else None,
        },
        "score_methods": dict(Counter(str(r.score_method) for r in ok)),
        "judge_models": sorted({r.judge_model for r in ok if r.judge_model}),
        "turns": sum(len(r.trajectory.turns) for r in ok if r.trajectory),
        "turns_cut": sum(t.finish_reason == "length" for r in ok if r.trajectory for t in r.trajectory.turns),
        "errors": {r.id: r.error for r in rows if r.status == "error"},
        "unscored": {r.id: r.judge_error for r in ok if r.score is None},
    }


def to_markdown(summary: dict[str, Any]) -> str:
    config, overall, latency = summary["config"], summary["overall"], summary["latency"]
    agent = config.get("agent") or {}
    mode = f"baseline ({agent.get('initial_frames')} frames, no tools)" if agent.get("tools") == [] else "agent"
    lines = [
        f"# Evaluation: {config.get('model', '?')} ({config.get('backend', '?')}, {mode})",
        "",
        f"Benchmark: `{config.get('benchmark', '?')}`",
        "",
        "| items | scored | accuracy | judge (0-100) | frames/question | tool calls/question | latency mean | p50 | "
        "p90 | unscored | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {overall['items']} | {overall['scored']} | {percent(overall['accuracy'])} | {score100(overall)} | "
        f"{fmt(summary['frames_per_question'])} | {fmt(summary['tool_calls_per_question'])} | "
        f"{fmt(latency['mean'])} s | {fmt(latency['p50'])} s | {fmt(latency['p90'])} s | "
        f"{overall['unscored']} | {overall['errors']} |",
    ]
    judges = ", ".join(summary.get("judge_models", [])) or "none"
    lines += [
        "",
        f"Judge: {judges}; {overall['judged']} items judged, {overall['judge_unknown']} judge unknown. "
        f"Turns cut at the token limit: {summary.get('turns_cut', 0)} of {summary.get('turns', 0)}.",
    ]
    for title, key in (("Dimension", "by_dimension"), ("Sport", "by_sport"), ("Answer type", "by_answer_type")):
        lines += [
            "",
            f"| {title} | items | scored | rules (0-100) | judge (0-100) | judge unknown | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, stats in summary[key].items():
            lines.append(
                f"| {name} | {stats['items']} | {stats['scored']} | {score100(stats, 'accuracy')} | "
                f"{score100(stats)} | {stats['judge_unknown']} | {stats['errors']} |"
            )
    if summary["unscored"]:
        lines += ["", "## Unscored (score them with `deepsport eval score RUN_DIR --judge-model ...`)", ""]
        lines += [f"- `{item_id}`: {message}" for item_id, message in summary["unscored"].items()]
    if summary["errors"]:
        lines += ["", "## Errors (retried when the run is resumed)", ""]
        lines += [f"- `{item_id}`: {message}" for item_id, message in summary["errors"].items()]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.md").write_text(to_markdown(summary))


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def score100(stats: dict[str, Any], key: str = "judge") -> str:
    """A group's rule-based accuracy (0-1) or judge score (0-100) on the 0-100 scale, one decimal."""
    value = stats.get(key)
    if value is None:
        return "–"
    return f"{100 * value if key == 'accuracy' else value:.1f}"


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _grouped(rows: list[EvalRow], key: Callable[[EvalRow], str]) -> dict[str, Any]:
    groups: dict[str, list[EvalRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return {name: group_stats(groups[name]) for name in sorted(groups)}
