"""Two runs side by side: accuracy per dimension on the items both scored, and the items whose verdict flipped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eval.report import Row

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


def compare_runs(rows_a: dict[str, Row], rows_b: dict[str, Row]) -> dict[str, Any]:
    """Per-dimension accuracy of A and B on the items both scored, their differences, and the flips."""
    common = [i for i in rows_a if i in rows_b and _scored(rows_a[i]) and _scored(rows_b[i])]
    groups: dict[str, list[str]] = {"overall": common}
    for item_id in common:
        groups.setdefault(rows_a[item_id]["item"].get("dimension") or "none", []).append(item_id)
    table = {}
    for name, ids in groups.items():
        a = sum(rows_a[i]["score"] for i in ids) / len(ids) if ids else None
        b = sum(rows_b[i]["score"] for i in ids) / len(ids) if ids else None
        table[name] = {"items": len(ids), "a": a, "b": b, "delta": None if a is None else b - a}
    flips = [
        Flip(i, rows_a[i]["item"].get("dimension") or "none", rows_a[i]["score"], rows_b[i]["score"])
        for i in common
        if (rows_a[i]["score"] >= CORRECT) != (rows_b[i]["score"] >= CORRECT)
    ]
    return {
        "dimensions": table,
        "flips": flips,
        "only_a": sorted(set(rows_a) - set(rows_b)),
        "only_b": sorted(set(rows_b) - set(rows_a)),
        "unscored": len([i for i in rows_a if i in rows_b]) - len(common),
    }


def _scored(row: Row) -> bool:
    return row["status"] == "ok" and row.get("score") is not None
