"""The retrieval benchmark: queries with the library segments that answer them, and recall@k and MRR.

A benchmark is JSONL, one query a line: ``{"id", "relevant": [segment ids], "sport"?, "text"?, "video"?,
"start"?, "end"?}``. ``text`` is the worded mistake or question; ``video`` (relative to the benchmark's folder or
``--video-root``) with an optional span is the attempt, whose pose signature is measured for the pose signal.
A query needs text or a video.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from deepsport.coach.library import LibraryError, Signature
from deepsport.coach.ranking import SIGNALS, Index
from deepsport.jsonl import read_jsonl
from deepsport.paths import VideoPathError, resolve_video
from deepsport.validation import model_problems

DEPTH = 5  # recall@1 and recall@5; MRR over the top DEPTH


class Query(BaseModel):
    id: str
    relevant: list[str] = Field(min_length=1)
    sport: str | None = None
    text: str | None = None
    video: str | None = None
    start: float | None = None
    end: float | None = None

    @model_validator(mode="after")
    def _asks(self) -> Query:
        if not self.text and not self.video:
            raise ValueError("a query needs a text or a video")
        return self


def load_queries(path: Path) -> list[Query]:
    """The benchmark's queries; LibraryError (one line) on a missing file or a bad row."""
    if not path.is_file():
        raise LibraryError(f"benchmark {path} does not exist")
    queries = []
    try:
        rows = read_jsonl(path)
    except ValueError as err:
        raise LibraryError(str(err).splitlines()[0]) from None
    for number, row in enumerate(rows, 1):
        try:
            queries.append(Query.model_validate(row))
        except ValidationError as err:
            raise LibraryError(f"{path} row {number}: {model_problems(err)[0]}") from None
    return queries


def attempt_signatures(queries: list[Query], root: Path) -> dict[str, Signature | None]:
    """The pose signature of each query's attempt video (None where nobody is visible); LibraryError when a
    video is missing."""
    from deepsport.coach.signature import signatures
    from deepsport.pose.estimator import PoseEstimator

    estimator = PoseEstimator()
    found: dict[str, Signature | None] = {}
    try:
        for query in queries:
            if query.video is None:
                continue
            try:
                video = resolve_video(root, query.video)
            except VideoPathError as err:
                raise LibraryError(f"query {query.id}: {err}") from None
            span = (query.start or 0.0, query.end if query.end is not None else float("inf"))
            found[query.id] = next(signatures(str(video), [span], estimator))
    finally:
        estimator.close()
    return found


def evaluate(
    index: Index, queries: list[Query], attempts: dict[str, Signature | None], signals: tuple[str, ...] = SIGNALS
) -> dict[str, Any]:
    """Recall@1, recall@5 and MRR overall and per sport, and each query's ranked ids, for one set of signals."""
    per_query = []
    for query in queries:
        matches = index.search(query.text, attempts.get(query.id), query.sport, DEPTH, signals)
        ids = [m.segment.id for m in matches]
        rank = next((n for n, i in enumerate(ids, 1) if i in query.relevant), None)
        per_query.append({"id": query.id, "sport": query.sport or "?", "rank": rank, "ranked": ids})
    by_sport: dict[str, list[dict]] = defaultdict(list)
    for query, row in zip(queries, per_query, strict=True):
        by_sport[query.sport or "?"].append(row)
    return {
        "signals": "+".join(signals),
        "overall": _metrics(per_query),
        "by_sport": {sport: _metrics(rows) for sport, rows in sorted(by_sport.items())},
        "queries": per_query,
    }


def _metrics(rows: list[dict]) -> dict[str, Any]:
    ranks = [row["rank"] for row in rows]
    n = len(ranks)
    return {
        "queries": n,
        "recall@1": round(sum(r == 1 for r in ranks) / n, 3),
        "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
    }
