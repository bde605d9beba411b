"""Append-only JSONL that survives a killed writer: every line is flushed and fsynced as it is written,
and a torn last line (the writer died mid-line) is ignored on read and cut off before the next append.
Records are plain dicts or pydantic models (written as their JSON, read back validated: ``read_models``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ValidationError

from deepsport.validation import model_problems

Model = TypeVar("Model", bound=BaseModel)
Record = dict[str, Any] | BaseModel


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The complete records of a JSONL file ([] when it does not exist); a torn final line is skipped."""
    return [record for _, record in _numbered_records(Path(path))]


def read_models(path: Path, model: type[Model]) -> list[Model]:
    """The complete records of a JSONL file as ``model``s; a record that does not validate is a one-line
    ValueError naming the file, the line and the first bad field."""
    path = Path(path)
    models = []
    for number, record in _numbered_records(path):
        try:
            models.append(model.model_validate(record))
        except ValidationError as err:
            problem = model_problems(err)[0]
            raise ValueError(
                f"{path}:{number}: not a valid {model.__name__} ({problem}); fix or remove that line"
            ) from None
    return models


def finished_ids(path: Path, key: str = "id") -> set[str]:
    """The ``key`` values of the complete records in a JSONL file."""
    return {str(record[key]) for record in read_jsonl(path) if key in record}


def to_line(record: Record) -> str:
    """One record as a JSON line (non-ASCII kept as it is)."""
    text = record.model_dump_json() if isinstance(record, BaseModel) else json.dumps(record, ensure_ascii=False)
    return text + "\n"


class JsonlAppender:
    """Appends records one line at a time, each durable once ``write`` returns."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(self.path)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def write(self, record: Record) -> None:
        self.write_many([record])

    def write_many(self, records: Sequence[Record]) -> None:
        """Append several records with one fsync (all durable once it returns)."""
        self._file.write("".join(to_line(record) for record in records))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _numbered_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of each complete line; a torn final line ends the file."""
    if not path.exists():
        return
    lines = path.read_bytes().split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as e:
            if number == len(lines):  # no newline after it: a line the writer never finished
                return
            raise ValueError(f"{path}:{number}: not valid JSON ({e.msg}); fix or remove that line") from e


def _cut_torn_tail(path: Path) -> None:
    """Drop bytes after the last newline: a record the previous writer did not finish."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
