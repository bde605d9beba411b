"""The filter: keep a trajectory only if it answers right, is well-formed, looks at the evidence and is no repeat.

Per item (concurrently, since open-text answers may need the LLM judge) a check record
``{"id", "score", "method", "problems": [[kind, detail], ...]}``; then, over all items in id order,
near-duplicates among the survivors. The final verdict per item is ``{"id", "keep", "reason", "detail"}``:
for a rejected one, ``reason`` is the kind of its first problem (wrong answer, format, not grounded,
near-duplicate, no trajectory, needs a judge, bad reference) and ``detail`` the specifics. A judge that fails
(unreachable, unreadable verdict) records no check: the item is "not checked", with the judge's error, and the
next run of the filter asks again; verdicts already given come from the judge's cache.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from data_distill.checks import format_problems, near_duplicate, overlaps_evidence, question_tokens
from data_distill.runner import RetryLater
from deepsport.judge import Judge, JudgeError, grade
from deepsport.schemas import QAItem, Trajectory


def check_job(
    trajectories: dict[str, dict[str, Any]], judge: Judge | None, min_score: float, think: bool = True
) -> Callable[[QAItem], dict[str, Any]]:
    """The function that checks the teacher's record for one item (thread-safe); `think`: every turn must think."""

    def run(item: QAItem) -> dict[str, Any]:
        record = trajectories.get(item.id)
        if record is None or "trajectory" not in record:
            detail = record["error"] if record else "the teacher has not run on it"
            return _check(item, 0.0, "none", [("no trajectory", detail)])
        trajectory = Trajectory.model_validate(record["trajectory"])
        problems = [("format", p) for p in format_problems(trajectory, think)]
        try:
            score = grade(item, trajectory.answer, judge)
        except JudgeError as err:
            if judge is not None:
                raise RetryLater(f"the judge failed: {err}") from err
            return _check(item, 0.0, "none", [*problems, ("needs a judge", str(err))])
        except ValueError as err:  # a reference the scorer cannot read
            return _check(item, 0.0, "none", [*problems, ("bad reference", str(err))])
        if score.value < min_score:
            detail = f"answered {trajectory.answer!r}, reference {item.answer!r} ({score.method} {score.value:.2f})"
            problems.append(("wrong answer", detail))
        if item.evidence is not None and not overlaps_evidence(trajectory, item.evidence):
            span = f"{item.evidence.start:g}-{item.evidence.end:g} s"
            problems.append(("not grounded", f"no tool window overlaps the evidence {span}"))
        return _check(item, score.value, score.method, problems)

    return run


def verdicts(
    items: list[QAItem], checks: dict[str, dict[str, Any]], threshold: float, failures: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Keep the items whose check found no problem, dropping near-duplicates (same video and answer) in id order.
    ``failures`` says why an item has no check yet (e.g. the judge failed)."""
    kept: dict[tuple[str, str], list[frozenset[str]]] = defaultdict(list)
    out = []
    for item in sorted(items, key=lambda i: i.id):
        check = checks.get(item.id)
        if check is None:
            why = (failures or {}).get(item.id)
            detail = f"{why}; run the filter step again" if why else "run the filter step"
            out.append({"id": item.id, "keep": False, "reason": "not checked", "detail": detail})
            continue
        if check["problems"]:
            kind, detail = check["problems"][0]
            out.append({"id": item.id, "keep": False, "reason": kind, "detail": detail})
            continue
        group, tokens = kept[(item.video, item.answer)], question_tokens(item)
        if near_duplicate(tokens, group, threshold):
            detail = "a kept question on the same video with the same answer is worded almost the same"
            out.append({"id": item.id, "keep": False, "reason": "near-duplicate", "detail": detail})
            continue
        group.append(tokens)
        out.append({"id": item.id, "keep": True, "reason": None, "detail": None})
    return out


def _check(item: QAItem, score: float, method: str, problems: list[tuple[str, str]]) -> dict[str, Any]:
    return {"id": item.id, "score": score, "method": method, "problems": [list(p) for p in problems]}
