"""Append-only JSONL that survives a killed writer: every line is flushed and fsynced as it is written,
and a torn last line (the writer died mid-line) is ignored on read and cut off before the next append."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Self


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The complete records of a JSONL file ([] when it does not exist); a torn final line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    lines = path.read_bytes().split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            if number == len(lines):  # no newline after it: a line the writer never finished
                break
            raise ValueError(f"{path}:{number}: not valid JSON ({e.msg}); fix or remove that line") from e
    return records


def finished_ids(path: Path, key: str = "id") -> set[str]:
    """The ``key`` values of the complete records in a JSONL file."""
    return {str(record[key]) for record in read_jsonl(path) if key in record}


class JsonlAppender:
    """Appends records one line at a time, each durable once ``write`` returns."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(self.path)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut_torn_tail(path: Path) -> None:
    """Drop bytes after the last newline: a record the previous writer did not finish."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
