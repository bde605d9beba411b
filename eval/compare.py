"""Two runs side by side: accuracy per dimension on the items both scored, and the items whose verdict flipped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepsport.schemas import EvalRow

CORRECT = 0.5  # a score at or above this counts as right when looking for flips


@dataclass(frozen=True)
class Flip:
    id: str
    dimension: str
    score_a: float
    score_b: float

    @property
    def improved(self) -> bool:
        return self.score_b >= CORRECT


def compare_runs(rows_a: dict[str, EvalRow], rows_b: dict[str, EvalRow]) -> dict[str, Any]:
    """Per-dimension accuracy of A and B on the items both scored, their differences, and the flips."""
    scores_a, scores_b = _scores(rows_a), _scores(rows_b)
    common = [i for i in scores_a if i in scores_b]
    dimension = {i: rows_a[i].item.dimension or "none" for i in common}
    groups: dict[str, list[str]] = {"overall": common}
    for item_id in common:
        groups.setdefault(dimension[item_id], []).append(item_id)
    table = {}
    for name, ids in groups.items():
        a = sum(scores_a[i] for i in ids) / len(ids) if ids else None
        b = sum(scores_b[i] for i in ids) / len(ids) if ids else None
        table[name] = {"items": len(ids), "a": a, "b": b, "delta": None if a is None or b is None else b - a}
    flips = [
        Flip(i, dimension[i], scores_a[i], scores_b[i])
        for i in common
        if (scores_a[i] >= CORRECT) != (scores_b[i] >= CORRECT)
    ]
    return {
        "dimensions": table,
        "flips": flips,
        "only_a": sorted(set(rows_a) - set(rows_b)),
        "only_b": sorted(set(rows_b) - set(rows_a)),
        "unscored": len([i for i in rows_a if i in rows_b]) - len(common),
    }


def _scores(rows: dict[str, EvalRow]) -> dict[str, float]:
    """The score of each answered, scored item."""
    return {i: row.score for i, row in rows.items() if row.status == "ok" and row.score is not None}
