"""The benchmark runner: the agent on every item, one results line per finished item, resumable.

A run directory holds ``config.json`` (the resolved ``EvalConfig``; its benchmark, model, backend and agent
settings decide the answers) and ``results.jsonl`` (one row per finished item, written as it finishes, with
its trajectory and score). Running the same command again skips items that finished and retries those that
failed; a different config in the same directory is refused. The baseline preset answers from 16 uniform
frames without tools, in the same layout, so the value of the tools is measured on the same benchmark.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepsport.agent import Agent
from deepsport.backends import ChatModel
from deepsport.config import to_dict
from deepsport.jobs import run_appending
from deepsport.jsonl import read_models, to_line
from deepsport.judge import Judge, JudgeError
from deepsport.paths import resolve_video
from deepsport.schemas import EvalRow, QAItem
from deepsport.scoring import score_answer
from eval.config import EvalConfig, answer_settings

CONFIG = "config.json"
RESULTS = "results.jsonl"


class RunError(Exception):
    """A run cannot start or go on (a config clash, an unreadable run dir); one line a user can act on."""


def open_run(out: Path, config: EvalConfig) -> None:
    """Create the run directory with its config, or check that an existing one was made with the same
    answer settings (benchmark, model, backend, agent); limits, filters, judge and concurrency may change."""
    path = out / CONFIG
    wanted = to_dict(config)
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise RunError(f"{path} is unreadable ({err}); remove it or use another --out") from None
        before = answer_settings(saved if isinstance(saved, dict) else {})
        clashes = [
            f"{k}={before.get(k)!r} (now {v!r})" for k, v in answer_settings(wanted).items() if before.get(k) != v
        ]
        if clashes:
            raise RunError(
                f"{out} holds a run with a different config: {'; '.join(clashes)}. "
                "Use another --out, or the same options to resume it."
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(wanted, indent=2) + "\n")
    os.replace(tmp, path)


def load_results(out: Path) -> dict[str, EvalRow]:
    """The latest row of each item in a run directory (a retried item's later row wins)."""
    try:
        return {row.id: row for row in read_models(out / RESULTS, EvalRow)}
    except ValueError as err:
        raise RunError(str(err)) from None


def select(
    items: Iterable[QAItem], sports: list[str] | None, dimensions: list[str] | None, limit: int | None
) -> list[QAItem]:
    """Items of the given sports and dimensions (all when None), the first ``limit`` of them."""
    chosen = [
        item
        for item in items
        if (not sports or item.sport in sports) and (not dimensions or item.dimension in dimensions)
    ]
    return chosen[:limit] if limit is not None else chosen


@dataclass
class Progress:
    """What the runner reports as it goes (the CLI draws a progress bar from it)."""

    total: int
    skipped: int = 0
    done: int = 0
    errors: int = 0
    score_sum: float = 0.0
    scored: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None


def run_items(
    model: ChatModel,
    config: EvalConfig,
    items: list[QAItem],
    out: Path,
    video_root: Path,
    concurrency: int = 1,
    judge: Judge | None = None,
    on_row: Callable[[Progress], None] | None = None,
) -> Progress:
    """Answer every item not yet finished in ``out``; rows are appended as items finish."""
    finished = {i for i, row in load_results(out).items() if row.status == "ok"}
    todo = [item for item in items if item.id not in finished]
    progress = Progress(total=len(items), skipped=len(items) - len(todo))
    agent = Agent(model, config.agent, backend=config.backend)
    if on_row:
        on_row(progress)

    def done(item: QAItem, row: EvalRow | None, error: Exception | None) -> None:
        if error is not None:  # evaluate_item turns every expected failure into an error row: this is a bug
            raise error
        assert row is not None  # run_appending passes the row whenever the job returned
        _count(progress, row)
        if on_row:
            on_row(progress)

    job = functools.partial(evaluate_item, agent, video_root=video_root, judge=judge, judge_all=config.judge.all)
    run_appending(todo, job, out / RESULTS, concurrency, done)
    return progress


def evaluate_item(
    agent: Agent, item: QAItem, video_root: Path, judge: Judge | None = None, judge_all: bool = False
) -> EvalRow:
    """One item's results row; a failure (bad video, backend error) becomes an error row, never an exception."""
    started = time.perf_counter()
    try:
        trajectory = agent.run(resolve_video(video_root, item.video, must_exist=False), item.question)
    except Exception as err:  # noqa: BLE001 (one bad item must not stop a run of thousands)
        message = str(err).strip() or type(err).__name__
        return EvalRow(id=item.id, item=item, status="error", error=message, latency=time.perf_counter() - started)
    row = EvalRow(
        id=item.id,
        item=item,
        prediction=trajectory.answer,
        stop_reason=trajectory.stop_reason,
        frames_used=trajectory.frames_used,
        tool_calls=len(trajectory.tool_calls),
        turns=len(trajectory.turns),
        latency=time.perf_counter() - started,
        trajectory=trajectory,
        status="ok",
    )
    if trajectory.stop_reason == "error":
        return row.model_copy(update={"status": "error", "error": trajectory.error})
    return row.model_copy(update=score_fields(item, trajectory.answer, judge, judge_all))


def score_fields(item: QAItem, prediction: str | None, judge: Judge | None, judge_all: bool = False) -> dict[str, Any]:
    """The score columns of a row: a rule's score, or the judge's for open text, or why there is none yet; with
    `judge_all`, the judge's 0-100 verdict on every item beside it (a failed verdict is unknown, never 0)."""
    rule = score_answer(item, prediction)
    fields: dict[str, Any] = {}
    if rule is not None:
        fields = {"score": rule.value, "score_method": rule.method, "parsed": rule.parsed}
        if not (judge and judge_all):
            return fields
    elif judge is None:
        return {"score": None, "score_method": "needs_judge", "judge_error": "no judge was given (--judge-model)"}
    assert judge is not None
    try:
        verdict = judge.score(item, prediction or "")
    except JudgeError as err:
        failed = {"score": None, "score_method": "judge_failed"} if rule is None else {}
        return {**fields, **failed, "judge_error": str(err), "judge_model": judge.model, "judge_score": None}
    if rule is None:
        fields = {"score": verdict.score, "score_method": "judge"}
    return {
        **fields,
        "judge_rationale": verdict.rationale,
        "judge_score": round(100 * verdict.score, 2),
        "judge_model": judge.model,
        "judge_reply": verdict.reply,
    }


JUDGE_FIELDS = ("parsed", "judge_rationale", "judge_error", "judge_score", "judge_model", "judge_reply")


def rescore(
    out: Path, judge: Judge | None, on_row: Callable[[int, int], None] | None = None, judge_all: bool = False
) -> dict[str, int]:
    """Score every finished row again (rules, then the judge for open text, or for every item with `judge_all`)
    and rewrite the results file, one row per item. Cached verdicts cost nothing; returns how many rows each
    scoring method decided."""
    rows = load_results(out)
    if not rows:
        raise RunError(f"{out} has no results to score; run `deepsport eval run --out {out}` first")
    methods: dict[str, int] = {}
    rescored = []
    for n, row in enumerate(rows.values(), 1):
        if row.status == "ok":
            fields = {k: None for k in JUDGE_FIELDS}
            row = row.model_copy(update={**fields, **score_fields(row.item, row.prediction, judge, judge_all)})
            methods[str(row.score_method)] = methods.get(str(row.score_method), 0) + 1
        rescored.append(row)
        if on_row:
            on_row(n, len(rows))
    tmp = out / (RESULTS + ".tmp")
    tmp.write_text("".join(map(to_line, rescored)), encoding="utf-8")
    os.replace(tmp, out / RESULTS)
    return methods


def _count(progress: Progress, row: EvalRow) -> None:
    progress.done += 1
    if row.status == "error":
        progress.errors += 1
    elif row.score is not None:
        progress.scored += 1
        progress.score_sum += row.score
