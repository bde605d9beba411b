"""Bring your own: events or questions about your own footage, in a CSV file (header row) or JSONL (one object
per line). ``path`` is one file or a folder of ``*.csv`` / ``*.jsonl`` files. A file holds events when its
columns include ``label``, questions when they include ``question``.

Events (one per row; questions are made from them as for SoccerNet: when it happens, what happens at a time,
how many times it happens):
- ``video`` (required): the video's path relative to the video root, e.g. ``matches/final.mp4``;
- ``label`` (required): what happens, e.g. ``serve``, ``goal``;
- ``start`` (required): when, in seconds from the start of the video (``75.5``) or as ``m:ss`` / ``h:mm:ss``;
- ``end`` (optional): when it ends (same formats; default: ``start``, a moment);
- ``sport`` (optional): default the ``sport`` option.

Questions (one per row):
- ``video``, ``question``, ``answer`` (required);
- ``answer_type`` (optional): ``choice``, ``number``, ``time_span`` or ``text`` (default: ``choice`` when there
  are options, else ``text``). A choice answer is the option's letter or its text; a number a number; a
  time_span a time or "start-end" in seconds;
- ``options`` (for choices): a JSON list in JSONL, options separated by ``|`` in CSV;
- ``sport``, ``dimension`` (recognition, rules, assessment or commentary; default recognition), ``task_type``
  (one of ``deepsport.schemas.TASK_TYPES``; default: the dimension), ``start`` and ``end`` (the evidence span,
  optional), ``tolerance`` (optional), ``id``.

A bad row stops the load with an error naming the file, the line and the problem.

Options: ``sport`` ("unknown"), ``min_gap`` (3 s), ``tolerance`` (2 s, for moments).
"""

from __future__ import annotations

import csv
import json
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data_distill.questions import FORMAT_HINTS, item_id, make_item, nonempty, seconds, span_text
from data_distill.sources.common import SourceError, annotation_files, require_path
from deepsport.paths import VideoPathError, relative_video
from deepsport.schemas import DIMENSIONS, TASK_TYPES, QAItem, Span
from deepsport.scoring import parse_span, parse_time

SOURCE = "custom"
ANSWER_TYPES = ("choice", "number", "time_span", "text")


def load(path: Path, *, sport: str = "unknown", min_gap: float = 3.0, tolerance: float = 2.0) -> Iterator[QAItem]:
    """Items from every CSV/JSONL file at ``path`` (see the module docstring for the columns)."""
    path = require_path(Path(path), "a CSV or JSONL file of events or questions, or a folder of them")
    files = annotation_files(
        path,
        ["*.csv", "*.jsonl"],
        "no .csv or .jsonl file; expected events or questions (see data_distill/sources/custom.py)",
    )
    for file in files:
        rows = list(read_rows(file))
        columns = set().union(*(row.keys() for _, row in rows)) if rows else set()
        if "question" in columns:
            yield from (_question(row, file, line, sport) for line, row in rows)
        elif "label" in columns:
            events = [_event(row, file, line, sport) for line, row in rows]
            yield from _event_items(events, min_gap, tolerance)
        elif rows:
            raise SourceError(
                f"{file}: no 'label' or 'question' column; expected events (video, label, start) "
                "or questions (video, question, answer)"
            )


def read_rows(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each non-empty row of a CSV (with a header) or JSONL file."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise SourceError(f"{file}: cannot read it ({err})") from None
    if file.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise SourceError(f"{file}:{number}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise SourceError(f"{file}:{number}: expected a JSON object per line")
            yield number, row
        return
    reader = csv.DictReader(text.splitlines())
    for row in reader:
        if None in row:
            raise SourceError(f"{file}:{reader.line_num}: more values than the header has columns")
        cleaned = {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()}
        if cleaned:
            yield reader.line_num, cleaned


def _required(row: dict[str, Any], name: str, file: Path, line: int) -> str:
    value = row.get(name)
    if value is None or not str(value).strip():
        raise SourceError(f"{file}:{line}: missing '{name}'")
    return str(value).strip()


def _time(row: dict[str, Any], name: str, file: Path, line: int) -> float | None:
    if row.get(name) in (None, ""):
        return None
    try:
        value = parse_time(str(row[name]).strip())
    except ValueError:
        raise SourceError(f"{file}:{line}: '{name}' is {row[name]!r}; expected seconds (75.5) or m:ss") from None
    if value < 0:
        raise SourceError(f"{file}:{line}: '{name}' is negative")
    return value


def _video(row: dict[str, Any], file: Path, line: int) -> str:
    try:
        return relative_video(_required(row, "video", file, line))
    except VideoPathError as err:
        raise SourceError(f"{file}:{line}: {err}") from None


def _event(row: dict[str, Any], file: Path, line: int, sport: str) -> dict[str, Any]:
    video, label = _video(row, file, line), _required(row, "label", file, line)
    start = _time(row, "start", file, line)
    if start is None:
        raise SourceError(f"{file}:{line}: missing 'start' (seconds from the start of the video)")
    end = _time(row, "end", file, line)
    if end is not None and end < start:
        raise SourceError(f"{file}:{line}: 'end' {end} is before 'start' {start}")
    source_line = f"{file.name}:{line}"
    return {
        "video": video,
        "label": label,
        "span": Span(start=start, end=end if end is not None else start),
        "sport": str(row.get("sport") or sport),
        "line": source_line,
    }


def _event_items(events: list[dict[str, Any]], min_gap: float, tolerance: float) -> Iterator[QAItem]:
    for video in sorted({e["video"] for e in events}):
        mine = sorted((e for e in events if e["video"] == video), key=lambda e: (e["span"].start, e["label"]))
        for index, event in enumerate(mine):
            span, label, sport = event["span"], event["label"], event["sport"]
            meta = {"label": label, "line": event["line"], "tolerance": tolerance}
            common: dict[str, Any] = dict(
                source=SOURCE, sport=sport, video=video, key=[index, label], evidence=span, metadata=meta
            )
            if sum(e["label"] == label for e in mine) == 1:
                if span.length > 0:
                    yield from nonempty(
                        make_item("when_action", answer=span_text(span.start, span.end), label=label, **common)
                    )
                else:
                    yield from nonempty(make_item("when_event", answer=seconds(span.start), label=label, **common))
            if all(abs(e["span"].start - span.start) > min_gap for e in mine if e is not event):
                pool = {e["label"] for e in events if e["sport"] == sport}
                item = make_item("event_at", correct=label, pool=pool, time=seconds(span.start), **common)
                yield from [item] if item else []
        for label in sorted({e["label"] for e in mine}):
            spans = [e["span"] for e in mine if e["label"] == label]
            yield from nonempty(
                make_item(
                    "count_events",
                    source=SOURCE,
                    sport=mine[0]["sport"],
                    video=video,
                    key=label,
                    answer=str(len(spans)),
                    evidence=Span(start=min(s.start for s in spans), end=max(s.end for s in spans)),
                    label=label,
                    metadata={"label": label},
                )
            )


def _question(row: dict[str, Any], file: Path, line: int, sport: str) -> QAItem:
    video, question = _video(row, file, line), _required(row, "question", file, line)
    answer = _required(row, "answer", file, line)
    options = row.get("options")
    if isinstance(options, str):
        options = [o.strip() for o in options.split("|") if o.strip()]
    if options is not None and (not isinstance(options, list) or len(options) < 2):
        raise SourceError(f"{file}:{line}: 'options' must list at least two options")
    answer_type = str(row.get("answer_type") or ("choice" if options else "text"))
    if answer_type not in ANSWER_TYPES:
        raise SourceError(f"{file}:{line}: answer_type {answer_type!r}; expected one of {', '.join(ANSWER_TYPES)}")
    text = question
    if answer_type == "choice":
        if not options:
            raise SourceError(f"{file}:{line}: a choice question needs 'options'")
        options = [str(o) for o in options]
        letters = string.ascii_uppercase[: len(options)]
        if answer.upper() in letters and len(answer) == 1:
            answer = answer.upper()
        elif answer in options:
            answer = letters[options.index(answer)]
        else:
            raise SourceError(f"{file}:{line}: answer {answer!r} is neither an option letter ({letters}) nor an option")
        text += "\n" + "\n".join(f"{letters[i]}. {o}" for i, o in enumerate(options)) + "\n" + FORMAT_HINTS["choice"]
    elif answer_type == "number":
        try:
            float(answer)
        except ValueError:
            raise SourceError(f"{file}:{line}: answer {answer!r} is not a number") from None
        text += "\n" + FORMAT_HINTS["number"]
    elif answer_type == "time_span":
        span = parse_span(answer)
        if span is None:
            raise SourceError(
                f"{file}:{line}: answer {answer!r} is not a time or a span in seconds (12.5 or 12.5-15.0)"
            )
        text += "\n" + FORMAT_HINTS["span" if span.length > 0 else "moment"]
    dimension = str(row.get("dimension") or "recognition")
    if dimension not in DIMENSIONS:
        raise SourceError(f"{file}:{line}: dimension {dimension!r}; expected one of {', '.join(DIMENSIONS)}")
    task_type = str(row.get("task_type") or (dimension if dimension in TASK_TYPES else "recognition"))
    if task_type not in TASK_TYPES:
        raise SourceError(f"{file}:{line}: task_type {task_type!r}; expected one of {', '.join(TASK_TYPES)}")
    start, end = _time(row, "start", file, line), _time(row, "end", file, line)
    evidence = Span(start=start, end=end if end is not None else start) if start is not None else None
    meta: dict[str, Any] = {"template": "custom_question", "line": f"{file.name}:{line}"}
    if row.get("tolerance") not in (None, ""):
        try:
            meta["tolerance"] = float(row["tolerance"])
        except (TypeError, ValueError):
            raise SourceError(f"{file}:{line}: tolerance {row['tolerance']!r} is not a number") from None
    return QAItem(
        id=str(row.get("id") or item_id(SOURCE, "question", video, question)),
        video=video,
        question=text,
        answer=answer,
        answer_type=answer_type,  # type: ignore[arg-type]
        options=options if answer_type == "choice" else None,
        sport=str(row.get("sport") or sport),
        dimension=dimension,
        task_type=task_type,
        source=SOURCE,
        evidence=evidence,
        metadata=meta,
    )
