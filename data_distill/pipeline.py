"""The distillation steps over one work folder: questions → text (optional) → teacher → filter → export.

Every step reads the previous step's append-only JSONL and appends its own, skipping what is already done, so
any step can be killed and run again. With ``shard=(i, n)`` a step works in ``out_dir/shards/i-of-n`` on the
videos whose stable hash falls in shard i; ``merge`` gathers the shards' records into ``out_dir``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from data_distill.config import DistillConfig
from data_distill.runner import RunStats, run_jobs
from deepsport.cache import DiskCache
from deepsport.jsonl import JsonlAppender, finished_ids, read_jsonl
from deepsport.schemas import QAItem

Shard = tuple[int, int]  # (index, count)
RECORD_FILES = ("questions.jsonl", "text.jsonl", "trajectories.jsonl", "checks.jsonl")


@dataclass(frozen=True)
class Workspace:
    """The files of one run (or one shard of it)."""

    root: Path

    @property
    def questions(self) -> Path:
        return self.root / "questions.jsonl"

    @property
    def text(self) -> Path:
        return self.root / "text.jsonl"

    @property
    def trajectories(self) -> Path:
        return self.root / "trajectories.jsonl"

    @property
    def checks(self) -> Path:
        return self.root / "checks.jsonl"

    @property
    def verdicts(self) -> Path:
        return self.root / "verdicts.jsonl"

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def cache(self) -> Path:
        return self.root / "cache.sqlite"


def workspace(config: DistillConfig, shard: Shard | None = None) -> Workspace:
    root = Path(config.out_dir)
    return Workspace(root if shard is None else root / "shards" / f"{shard[0]}-of-{shard[1]}")


def parse_shard(text: str) -> Shard:
    """``"i/n"`` → (i, n) with 0 <= i < n; raises ValueError otherwise."""
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise ValueError(f"--shard {text!r} must look like i/n, e.g. 0/4") from None
    if not 0 <= shard[0] < shard[1]:
        raise ValueError(f"--shard {text!r}: i must be from 0 to n-1")
    return shard


def in_shard(item: QAItem, shard: Shard | None) -> bool:
    """Whether the item's (source, video) hashes into the shard; one video's questions share a shard."""
    if shard is None:
        return True
    digest = hashlib.sha256(f"{item.source}/{item.video}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % shard[1] == shard[0]


def step_questions(config: DistillConfig, shard: Shard | None, console: Console) -> dict[str, int]:
    """Run every configured adapter and append its new questions; returns counts of what was kept or dropped."""
    from data_distill.sources import load_source
    from deepsport.paths import VideoPathError, resolve_video

    space = workspace(config, shard)
    done = finished_ids(space.questions)
    counts = {"written": 0, "already": 0, "other shards": 0, "duplicate id": 0, "no video": 0}
    seen: set[str] = set()
    with JsonlAppender(space.questions) as writer:
        for source in config.sources:
            for item in load_source(source.name, source.path, **source.options):
                if item.id in seen:
                    counts["duplicate id"] += 1
                    continue
                seen.add(item.id)
                if not in_shard(item, shard):
                    counts["other shards"] += 1
                elif item.id in done:
                    counts["already"] += 1
                else:
                    try:
                        resolve_video(config.video_root, item.video)
                    except VideoPathError as err:
                        counts["no video"] += 1
                        if counts["no video"] <= 3:
                            console.print(f"[yellow]skipped[/] {item.id}: {err}", soft_wrap=True)
                        continue
                    writer.write(item.model_dump(mode="json"))
                    counts["written"] += 1
    return counts


def load_items(path: Path) -> list[QAItem]:
    return [QAItem.model_validate(record) for record in read_jsonl(path)]


def current_items(config: DistillConfig, space: Workspace) -> list[QAItem]:
    """The questions the teacher works on: the rewritten ones when text distillation ran on them."""
    items = load_items(space.questions)
    if not config.text.enabled:
        return items
    rewritten = {item.id: item for item in load_items(space.text)}
    return [rewritten.get(item.id, item) for item in items]


def step_text(config: DistillConfig, shard: Shard | None, console: Console) -> RunStats:
    from data_distill.teacher import endpoint_model
    from data_distill.text import text_job
    from deepsport.backends.base import GenerationConfig

    space = workspace(config, shard)
    model = endpoint_model(config.text.endpoint, DiskCache(space.cache), "text")
    generation = GenerationConfig(max_new_tokens=config.text.max_new_tokens, temperature=config.text.temperature)
    try:
        job = text_job(model, generation)
        stats = run_jobs(load_items(space.questions), job, space.text, config.concurrency, "rewriting", console)
    finally:
        model.close()
    stats.cache_hits, stats.cache_misses = model.hits, model.misses
    records = read_jsonl(space.text)
    if refused := sum("text_error" in r["metadata"] for r in records):
        console.print(f"text: {refused} of {len(records)} kept templated (why: metadata.text_error in {space.text})")
    return stats


def step_teacher(config: DistillConfig, shard: Shard | None, console: Console) -> RunStats:
    from data_distill.teacher import endpoint_model, teacher_job

    space = workspace(config, shard)
    items = current_items(config, space)
    if config.text.enabled:  # a question is asked as the text step leaves it, so the step must be done with it
        rewritten = finished_ids(space.text)
        if waiting := sum(item.id not in rewritten for item in items):
            console.print(f"teacher: {waiting} questions wait for the text step (run it again: its endpoint failed)")
        items = [item for item in items if item.id in rewritten]
    oracle = config.teacher.kind == "oracle"
    model = (
        None
        if oracle
        else endpoint_model(config.teacher.endpoint, DiskCache(space.cache), "teacher", config.teacher.agent)
    )
    concurrency = min(config.concurrency, os.cpu_count() or 1) if oracle else config.concurrency
    try:
        job = teacher_job(config.teacher, Path(config.video_root), model)
        stats = run_jobs(items, job, space.trajectories, concurrency, f"teacher ({config.teacher.kind})", console)
    finally:
        if model is not None:
            model.close()
    if model is not None:
        stats.cache_hits, stats.cache_misses = model.hits, model.misses
    return stats


def step_filter(config: DistillConfig, shard: Shard | None, console: Console) -> tuple[dict[str, int], dict[str, str]]:
    """Check every trajectory and write the verdicts; returns the counts and why items are not checked yet."""
    from data_distill.filter import check_job, verdicts
    from deepsport.judge import Judge

    space = workspace(config, shard)
    items = current_items(config, space)
    trajectories = {r["id"]: r for r in read_jsonl(space.trajectories)}
    judge_config = config.filter.judge
    judge = None
    if judge_config is not None:
        if not judge_config.model or not judge_config.base_url:
            raise ValueError("the judge needs filter.judge.model and filter.judge.base_url")
        judge = Judge(
            judge_config.model,
            judge_config.base_url,
            judge_config.api_key_env,
            cache_path=space.cache.with_name("judge.sqlite"),
            timeout=judge_config.timeout,
            max_retries=judge_config.max_retries,
        )
    try:
        job = check_job(trajectories, judge, config.filter.min_score, config.teacher.think)
        stats = run_jobs(items, job, space.checks, config.concurrency, "filtering", console)
    finally:
        if judge is not None:
            judge.close()
    checks = {r["id"]: r for r in read_jsonl(space.checks)}
    final = verdicts(items, checks, config.filter.duplicate_threshold, stats.failures)
    _write_all(space.verdicts, final)
    kept = sum(v["keep"] for v in final)
    counts = {"kept": kept, "rejected": len(final) - kept - stats.failed, "not checked (retry)": stats.failed}
    return counts, stats.failures


def step_export(config: DistillConfig, console: Console) -> dict[str, Any]:
    from data_distill.export import export

    space = workspace(config)
    items = current_items(config, space)
    if not items:
        raise ValueError(f"no questions in {space.questions}; run the questions step first")
    verdict_map = {r["id"]: r for r in read_jsonl(space.verdicts)}
    trajectories = {r["id"]: r for r in read_jsonl(space.trajectories)}
    return export(items, verdict_map, trajectories, space.export, config.export)


def merge(config: DistillConfig) -> dict[str, int]:
    """Append every shard's records that ``out_dir`` does not have yet (by id); verdicts are recomputed later."""
    root = workspace(config)
    shards = sorted((root.root / "shards").glob("*-of-*"))
    if not shards:
        raise ValueError(f"no shards under {root.root / 'shards'}; run steps with --shard i/n first")
    counts = {}
    for name in RECORD_FILES:
        done = finished_ids(root.root / name)
        new = _unique(r for s in shards for r in read_jsonl(s / name) if str(r["id"]) not in done)
        with JsonlAppender(root.root / name) as writer:
            for record in new:
                writer.write(record)
        counts[name] = len(done) + len(new)
    return counts


def _unique(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        seen.setdefault(str(record["id"]), record)
    return list(seen.values())


def _write_all(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace a file whole (write aside, then rename), so a kill never leaves half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    partial.replace(path)
