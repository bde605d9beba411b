"""Spotting measured against hand-labelled events: ``deepsport spot eval-events EVENTS.csv --video-root DIR``.

The CSV has a header and one row per event: ``video`` (a file under the video root), ``sport``, ``label`` and either
``time`` (seconds) or ``start`` and ``end`` (an event that spans time: its middle is the time), and optionally
``query`` (words a user would ask with, e.g. "a jump smash"). Per clip and overall it reports recall within
TOLERANCES seconds (a labelled event counts as found when a spotted moment lies that close), false moments per 10 s
of footage (spotted moments farther than the widest tolerance from every labelled event), and for each row with a
query the rank of the first moment within the widest tolerance in the spotter's answer to that query.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deepsport.spotting.events import Event
from deepsport.video import Video

TOLERANCES = (0.5, 1.0)


class EventsError(Exception):
    """One-line, user-facing message about an events file."""


@dataclass(frozen=True)
class LabelledEvent:
    video: str
    sport: str
    label: str
    time: float
    query: str = ""


@dataclass
class ClipReport:
    video: str
    duration: float
    events: int
    found: dict[float, int]  # tolerance -> labelled events found within it
    false: int  # spotted moments far from every labelled event
    moments: int
    ranks: list[tuple[str, int | None]] = field(default_factory=list)  # (query, rank from 1; None: not returned)

    @property
    def false_per_10s(self) -> float:
        return 10 * self.false / self.duration if self.duration else 0.0


def read_events(path: str | os.PathLike) -> list[LabelledEvent]:
    """The labelled events of a CSV file; EventsError names the file and line of anything wrong."""
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
            header = rows[0].keys() if rows else []
    except FileNotFoundError:
        raise EventsError(f"Events file not found: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise EventsError(f"Cannot read events file {path}: {err}") from None
    missing = [name for name in ("video", "label") if name not in header]
    if not rows or missing or not ({"time"} <= set(header) or {"start", "end"} <= set(header)):
        raise EventsError(
            f"{path}: expected a header with video, sport, label and time (or start and end) and at least one row"
            + (f"; missing {', '.join(missing)}" if rows and missing else "")
        )
    events = []
    for line, row in enumerate(rows, start=2):
        try:
            time = float(row["time"]) if row.get("time") else (float(row["start"]) + float(row["end"])) / 2
        except (TypeError, ValueError):
            raise EventsError(f"{path}, line {line}: the time is not a number of seconds") from None
        if not row["video"] or time < 0:
            raise EventsError(f"{path}, line {line}: needs a video and a time of 0 s or more")
        events.append(
            LabelledEvent(row["video"], row.get("sport") or "", row["label"], time, (row.get("query") or "").strip())
        )
    return events


def evaluate_clip(
    video: Path,
    labelled: list[LabelledEvent],
    moments: list[Event],
    answer: Callable[[str], list[Event]] | None = None,
) -> ClipReport:
    """Compare the spotted `moments` of one clip with its labelled events; `answer(query)` gives the spotter's
    ranked moments for a query (best first)."""
    with Video(video, cache_size=0) as opened:
        duration = opened.info.duration
    widest = max(TOLERANCES)
    found = {tol: sum(any(abs(m.time - e.time) <= tol for m in moments) for e in labelled) for tol in TOLERANCES}
    false = sum(all(abs(m.time - e.time) > widest for e in labelled) for m in moments)
    report = ClipReport(video.name, duration, len(labelled), found, false, len(moments))
    for event in labelled:
        if event.query and answer is not None:
            ranked = answer(event.query)
            same = [e.time for e in labelled if e.query == event.query]
            rank = next(
                (k for k, m in enumerate(ranked, 1) if any(abs(m.time - t) <= widest for t in same)),
                None,
            )
            report.ranks.append((event.query, rank))
    return report


def overall(reports: list[ClipReport]) -> ClipReport:
    """The reports of several clips added up."""
    total = ClipReport("overall", sum(r.duration for r in reports), sum(r.events for r in reports), {}, 0, 0)
    total.found = {tol: sum(r.found[tol] for r in reports) for tol in TOLERANCES}
    total.false = sum(r.false for r in reports)
    total.moments = sum(r.moments for r in reports)
    total.ranks = [rank for r in reports for rank in r.ranks]
    return total
