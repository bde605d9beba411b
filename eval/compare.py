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


def judge_agreement(rows_a: dict[str, EvalRow], rows_b: dict[str, EvalRow], threshold: float = 50.0) -> dict[str, Any]:
    """How two judges of the same items agree on their 0-100 scores, overall and per dimension: Pearson and
    Spearman correlations, and Cohen's kappa on pass/fail (a score at or above `threshold` passes). Items either
    judge left unknown are not compared. A statistic that is undefined (fewer than two items, a constant score)
    is None."""
    a, b = _judged(rows_a), _judged(rows_b)
    common = sorted(i for i in a if i in b)
    groups: dict[str, list[str]] = {"overall": common}
    for item_id in common:
        groups.setdefault(rows_a[item_id].item.dimension or "none", []).append(item_id)
    return {
        "threshold": threshold,
        "groups": {
            name: _agreement([a[i] for i in ids], [b[i] for i in ids], threshold) for name, ids in groups.items()
        },
        "unknown": sum(
            row.status == "ok" and rows_b.get(i, row).status == "ok" for i, row in rows_a.items() if i in rows_b
        )
        - len(common),
    }


def _judged(rows: dict[str, EvalRow]) -> dict[str, float]:
    return {i: row.judge_score for i, row in rows.items() if row.status == "ok" and row.judge_score is not None}


def _agreement(a: list[float], b: list[float], threshold: float) -> dict[str, Any]:
    import numpy as np
    from scipy import stats

    def defined(value: float) -> float | None:
        return None if np.isnan(value) else float(value)

    varied = len(a) >= 2 and len(set(a)) > 1 and len(set(b)) > 1
    pass_a, pass_b = [x >= threshold for x in a], [x >= threshold for x in b]
    return {
        "items": len(a),
        "pearson": defined(stats.pearsonr(a, b)[0]) if varied else None,
        "spearman": defined(stats.spearmanr(a, b)[0]) if varied else None,
        "kappa": cohen_kappa(pass_a, pass_b),
        "agree": sum(x == y for x, y in zip(pass_a, pass_b, strict=True)) / len(a) if a else None,
    }


def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two raters' yes/no labels: (observed - chance agreement) / (1 - chance); None when it is
    undefined (no items, or both raters always give the same single label)."""
    if not a:
        return None
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    yes_a, yes_b = sum(a) / n, sum(b) / n
    chance = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    return None if chance == 1 else (observed - chance) / (1 - chance)
