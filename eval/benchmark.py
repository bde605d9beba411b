"""Benchmarks: one QAItem per JSONL line (or a ``datasets`` folder), checked row by row.

Loading never stops at the first bad row: every problem (malformed JSON, a row the QAItem JSON Schema
refuses, an unknown answer type, a duplicate id, a choice answer that names no option, a missing video...)
is collected with its row number, and the good items are still usable.

A benchmark may declare its own dimensions in a sidecar ``NAME.meta.json`` next to ``NAME.jsonl`` (or the
``NAME`` datasets folder): ``{"dimensions": ["tactics", "rules", ...]}``; without one, the four of
``deepsport.schemas.DIMENSIONS`` are the labels an item's ``dimension`` may take.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import ValidationError

from deepsport.paths import resolve_video
from deepsport.schemas import DIMENSIONS, QAItem, json_schema
from deepsport.scoring import parse_choice, parse_number, parse_span
from deepsport.validation import model_problems, schema_problem


class BenchmarkError(Exception):
    """The benchmark cannot be read at all (missing file, unreadable folder); one line a user can act on."""


@dataclass(frozen=True)
class Problem:
    row: int  # 1-based line (JSONL) or row (datasets) number
    id: str | None
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (id {self.id})" if self.id else "")
        return f"{where}: {self.message}"


@dataclass
class Benchmark:
    path: Path
    items: list[QAItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dimensions: tuple[str, ...] = DIMENSIONS


def meta_path(path: Path) -> Path:
    """The sidecar of a benchmark: ``bench.jsonl`` → ``bench.meta.json``."""
    return path.with_name(path.name.removesuffix(".jsonl") + ".meta.json")


def read_dimensions(path: Path) -> tuple[str, ...]:
    """The dimensions the benchmark's sidecar declares, or the default four; raises BenchmarkError on a bad one."""
    meta = meta_path(path)
    if not meta.exists():
        return DIMENSIONS
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BenchmarkError(f"{meta} cannot be read as JSON: {err}") from None
    dimensions = data.get("dimensions") if isinstance(data, dict) else None
    if not isinstance(dimensions, list) or not dimensions or not all(isinstance(d, str) and d for d in dimensions):
        raise BenchmarkError(f'{meta} needs "dimensions": a non-empty list of names, e.g. ["recognition", "rules"]')
    return tuple(dimensions)


def load_benchmark(path: Path, video_root: Path | None = None) -> Benchmark:
    """Read and check every row; with ``video_root``, also check that each video exists under it."""
    path = Path(path)
    if not path.exists():
        raise BenchmarkError(f"benchmark {path} does not exist")
    benchmark = Benchmark(path, dimensions=read_dimensions(path))
    rows = _dataset_rows(path) if path.is_dir() else _jsonl_rows(path)
    validator = jsonschema.Draft202012Validator(json_schema("qaitem"))
    seen: set[str] = set()
    for number, row in rows:
        if isinstance(row, Problem):
            benchmark.problems.append(row)
            continue
        item_id = str(row["id"]) if isinstance(row, dict) and "id" in row else None
        messages = _check_row(row, validator, video_root, benchmark.dimensions)
        if item_id is not None and item_id in seen:
            messages.append("duplicate id (an earlier row has it)")
        if item_id is not None:
            seen.add(item_id)
        if messages:
            benchmark.problems.extend(Problem(number, item_id, m) for m in messages)
        else:
            benchmark.items.append(QAItem.model_validate(row))
    return benchmark


def _check_row(
    row: Any, validator: jsonschema.Draft202012Validator, video_root: Path | None, dimensions: tuple[str, ...]
) -> list[str]:
    if not isinstance(row, dict):
        return [f"expected a JSON object, got {type(row).__name__}"]
    errors = [schema_problem(e) for e in validator.iter_errors(row)]
    if errors:
        return errors
    try:
        item = QAItem.model_validate(row)
    except ValidationError as err:
        return model_problems(err)
    return _check_item(item, video_root, dimensions)


def _check_item(item: QAItem, video_root: Path | None, dimensions: tuple[str, ...]) -> list[str]:
    problems = []
    if item.answer_type == "choice":
        if not item.options:
            problems.append("a choice question needs options")
        elif parse_choice(item.answer, item.options) is None:
            problems.append(f"choice answer {item.answer!r} names none of the {len(item.options)} options")
    elif item.answer_type == "number" and parse_number(item.answer) is None:
        problems.append(f"number answer {item.answer!r} is not a number")
    elif item.answer_type == "time_span" and parse_span(item.answer) is None:
        problems.append(f"time answer {item.answer!r} is not a time or span in seconds (e.g. 12.5 or 12.5-15.0)")
    if item.dimension is not None and item.dimension not in dimensions:
        problems.append(f"unknown dimension {item.dimension!r}; choose one of {', '.join(dimensions)}")
    if item.evidence is not None and item.evidence.end < item.evidence.start:
        problems.append("evidence ends before it starts")
    if video_root is not None:
        try:
            video = resolve_video(video_root, item.video, must_exist=False)
        except ValueError as err:
            problems.append(str(err))
        else:
            if not video.is_file():
                problems.append(f"video {item.video} not found under {video_root}")
    return problems


def _jsonl_rows(path: Path) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise BenchmarkError(f"benchmark {path} cannot be read as UTF-8 JSONL: {err}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            rows.append((number, Problem(number, None, f"malformed JSON ({err.msg} at column {err.colno})")))
    return rows


def _dataset_rows(path: Path) -> list[tuple[int, Any]]:
    """Rows of a ``save_to_disk`` folder: the ``test`` split of a DatasetDict (or its only split); a ``qa``
    column holding QAItem JSON (the distillation layout) or QAItem fields as columns."""
    try:
        import datasets
    except ImportError:
        raise BenchmarkError("reading a datasets folder needs the train extra: pip install -e '.[train]'") from None
    try:
        data = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as err:
        raise BenchmarkError(f"{path} is not a JSONL file or a datasets folder: {err}") from None
    if isinstance(data, datasets.DatasetDict):
        if "test" not in data and len(data) != 1:
            raise BenchmarkError(f"{path} has splits {list(data)}; expected a 'test' split or a single split")
        data = data["test"] if "test" in data else next(iter(data.values()))
    rows: list[tuple[int, Any]] = []
    for number, record in enumerate(data, 1):
        if "qa" not in record:
            rows.append((number, {k: v for k, v in record.items() if v is not None}))
            continue
        try:
            rows.append((number, json.loads(record["qa"])))
        except (TypeError, json.JSONDecodeError) as err:
            rows.append((number, Problem(number, record.get("id"), f"malformed qa JSON: {err}")))
    return rows
