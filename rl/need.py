"""The "need" gate's data step: can the initial frames alone answer each RL question? (``deepsport train needs``)

Every question of the RL dataset (every split) is answered by the agent with the ``no_tools`` preset (the rollout's
initial frames, one turn, no tools) through any backend: an OpenAI-compatible endpoint such as vLLM for real runs
(``need_tool.backend=openai``), or in process. ``need_tool.samples`` answers per question are scored like the
reward (``deepsport.scoring``; open text by ``reward.judge``). A judgment that fails is unknown, never 0: the
question is retried by the next run, and stays unknown (None) in the dataset until a judge scores it.

``needs_tool`` = mean no-tool accuracy < ``reward.threshold``. The columns ``needs_tool`` and ``no_tool_accuracy``
are written into the dataset at ``data.path``; answers go to ``<data.path>.needs_tool.jsonl`` as they land
(``deepsport.jobs``: ``need_tool.concurrency`` requests in flight, a progress bar, resume after a kill).
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import zlib
from pathlib import Path
from typing import Any

from datasets import DatasetDict
from rich.console import Console
from rich.progress import TextColumn

from deepsport.agent import Agent
from deepsport.backends import ChatModel, GenerationConfig, load_chat_model
from deepsport.jobs import progress_bar, run_appending
from deepsport.jsonl import read_jsonl
from deepsport.judge import Judge, JudgeError, grade
from deepsport.schemas import QAItem
from rl.config import GRPOJob
from rl.data import DataError, open_dataset, video_path
from rl.rewards import make_judge

COLUMNS = ("needs_tool", "no_tool_accuracy")


def results_path(config: GRPOJob) -> Path:
    return Path(f"{Path(config.data.path).resolve()}.needs_tool.jsonl")


def run_needs(config: GRPOJob, console: Console | None = None) -> dict[str, int]:
    """Answer every question not answered yet, then write the columns into the dataset; returns counts
    (``questions``, ``needs_tool``, ``direct``, ``unknown``, ``failed`` this run)."""
    path = Path(config.data.path)
    dataset, as_dict = _load(path)
    out = results_path(config)
    done = {record["id"] for record in read_jsonl(out)}
    rows = [row for split in dataset.values() for row in split if row["id"] not in done]
    failures: dict[str, str] = {}
    if rows:
        settings = config.need_tool
        model = load_chat_model(
            settings.model or config.model.name_or_path,
            settings.backend,
            base_url=settings.base_url,
            api_key_env=settings.api_key_env,
        )
        judge = make_judge(config)
        with progress_bar(console, TextColumn("{task.fields[failed]} failed")) as bar:
            task = bar.add_task("no-tool pass", total=len(rows), failed=0)

            def finished(row: dict[str, Any], record: dict[str, Any] | None, error: Exception | None) -> None:
                if error is not None:
                    failures[row["id"]] = str(error)
                bar.update(task, advance=1, failed=len(failures))

            try:
                job = _answerer(model, config, judge)
                run_appending(rows, job, out, settings.concurrency, finished)
            finally:
                model.close()
    for row_id, error in list(failures.items())[:5]:
        (console or Console(stderr=True)).print(f"  failed {row_id}: {error}", soft_wrap=True, markup=False)
    counts = write_columns(path, dataset, {r["id"]: r for r in read_jsonl(out)}, as_dict)
    return {**counts, "failed": len(failures)}


def _answerer(model: ChatModel, config: GRPOJob, judge: Judge | None):
    """The job for one row: its no-tool answers and their scores (raises when none could be scored)."""
    settings = config.need_tool
    temperature = settings.temperature if settings.samples > 1 else 0.0
    base = config.agent.with_preset("no_tools")

    def answer(row: dict[str, Any]) -> dict[str, Any]:
        item = QAItem.model_validate_json(row["qa"])
        video = video_path(config.data.video_root, row["video"])
        scores: list[float] = []
        errors: list[str] = []
        for sample in range(settings.samples):
            seed = zlib.crc32(f"{row['id']}/{sample}".encode())  # the same seed on every question would sample alike
            generation = GenerationConfig(max_new_tokens=settings.max_new_tokens, temperature=temperature, seed=seed)
            trajectory = Agent(model, dataclasses.replace(base, generation=generation)).run(video, item.question)
            if trajectory.stop_reason == "error":
                errors.append(trajectory.error or "the model failed")
                continue
            try:
                scores.append(grade(item, trajectory.answer, judge).value)
            except JudgeError as err:
                errors.append(str(err))
        if not scores:
            raise RuntimeError(f"no answer could be scored: {errors[0]}")
        accuracy = statistics.fmean(scores)
        needs = accuracy < config.reward.threshold
        return {"id": row["id"], "scores": scores, "accuracy": accuracy, "needs_tool": needs}

    return answer


def write_columns(
    path: Path, dataset: DatasetDict, records: dict[str, dict[str, Any]], as_dict: bool = True
) -> dict[str, int]:
    """Write ``needs_tool`` and ``no_tool_accuracy`` (None where unknown) into every split, replacing the dataset
    at `path` (a DatasetDict, or its one split when `as_dict` is False) only once the new one is saved whole;
    returns the counts."""
    updated = {}
    for name, split in dataset.items():
        split = split.remove_columns([c for c in COLUMNS if c in split.column_names])
        found = [records.get(row_id) for row_id in split["id"]]
        split = split.add_column("needs_tool", [r["needs_tool"] if r else None for r in found])
        updated[name] = split.add_column("no_tool_accuracy", [r["accuracy"] if r else None for r in found])
    fresh = path.with_name(f"{path.name}.writing")
    shutil.rmtree(fresh, ignore_errors=True)
    (DatasetDict(updated) if as_dict else updated["train"]).save_to_disk(str(fresh))
    old = path.with_name(f"{path.name}.old")
    path.rename(old)
    fresh.rename(path)
    shutil.rmtree(old)
    values = [v for split in updated.values() for v in split["needs_tool"]]
    return {
        "questions": len(values),
        "needs_tool": sum(v is True for v in values),
        "direct": sum(v is False for v in values),
        "unknown": sum(v is None for v in values),
    }


def _load(path: Path) -> tuple[DatasetDict, bool]:
    """The RL dataset as a DatasetDict, and whether it was saved as one (a lone Dataset is its "train" split).
    Loaded into memory: the folder is replaced when the columns are written."""
    loaded = open_dataset(path, keep_in_memory=True)
    dataset = loaded if isinstance(loaded, DatasetDict) else DatasetDict(train=loaded)
    for name, split in dataset.items():
        missing = [c for c in ("id", "video", "qa") if c not in split.column_names]
        if missing:
            raise DataError(f"{path} split {name} lacks column(s) {', '.join(missing)}")
    return dataset, isinstance(loaded, DatasetDict)
