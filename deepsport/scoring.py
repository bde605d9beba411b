"""Deterministic answer scoring, shared by the distillation filter, the RL reward and evaluation.

Reference answers follow one convention per ``answer_type``: ``choice`` is the option letter ("B"),
``number`` a number string, ``time_span`` either a moment ("12.5") or a span ("12.5-15.0") in seconds,
``text`` free text. Open text that no rule decides scores ``None``: ask a judge (``deepsport.judge``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from deepsport.schemas import QAItem, Span

LETTERS = string.ascii_uppercase
DEFAULT_TIME_TOLERANCE = 1.0  # seconds, for answers that name a moment
DEFAULT_RELATIVE_TOLERANCE = 0.02  # for non-integer numbers

_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)"
_NUMBER_RE = re.compile(rf"[-+]?{_UNSIGNED}")
_TIME = re.compile(rf"\d+(?::\d{{1,2}}){{1,2}}(?:\.\d+)?|{_UNSIGNED}")  # 12.5, m:ss, h:mm:ss
_LETTER = re.compile(r"^\W*\(?([A-Za-z])(?:\)|[.:]|\W*$)")
_OPTION_WORD = re.compile(r"\b(?i:option|answer|choice)\s*(?:is\s*)?:?\s*\(?([A-Z])\b")
_NUMBER_WORDS = {word: i for i, word in enumerate("zero one two three four five six seven eight nine ten".split())}  # noqa: SIM905


@dataclass(frozen=True)
class Score:
    """A score in [0, 1], how it was decided, and what was read from the prediction."""

    value: float
    method: str
    parsed: str | None = None


def normalize_text(text: str) -> str:
    """Lowercase, drop punctuation, articles and extra spaces."""
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(w for w in text.split() if w not in {"a", "an", "the"})


def parse_choice(text: str, options: list[str]) -> int | None:
    """The option index a prediction names: a letter ("B", "(B)", "B. ...", "option B") or an option's text."""
    text = text.strip()
    letters = LETTERS[: len(options)]
    for pattern in (_LETTER, _OPTION_WORD):
        match = pattern.search(text)
        if match and match.group(1).upper() in letters:
            return letters.index(match.group(1).upper())
    said = normalize_text(text)
    named = [i for i, option in enumerate(options) if normalize_text(option) and normalize_text(option) in said]
    if len(named) == 1:
        return named[0]
    exact = [i for i, option in enumerate(options) if normalize_text(option) == said]
    return exact[0] if exact else None


def parse_number(text: str) -> float | None:
    """The first number in a prediction (digits, or a number word up to ten)."""
    match = _NUMBER_RE.search(text.replace(",", ""))
    if match:
        return float(match.group())
    for word in normalize_text(text).split():
        if word in _NUMBER_WORDS:
            return float(_NUMBER_WORDS[word])
    return None


def parse_time(token: str) -> float:
    """Seconds from "12.5", "1:05" (m:ss) or "1:02:03" (h:mm:ss)."""
    seconds = 0.0
    for part in token.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_span(text: str) -> Span | None:
    """A time span from the first two times in a prediction; one time gives a zero-length span."""
    times = [parse_time(t) for t in _TIME.findall(text.replace(",", " "))[:2]]
    if not times:
        return None
    start, end = (times[0], times[0]) if len(times) == 1 else sorted(times)
    return Span(start=start, end=end)


def score_answer(item: QAItem, prediction: str | None) -> Score | None:
    """Score a prediction against the item's reference; ``None`` when open text needs a judge."""
    if prediction is None or not prediction.strip():
        return Score(0.0, "empty")
    match item.answer_type:
        case "choice":
            return _score_choice(item, prediction)
        case "number":
            return _score_number(item, prediction)
        case "time_span":
            return _score_time(item, prediction)
        case _:
            if normalize_text(prediction) == normalize_text(item.answer):
                return Score(1.0, "exact_text", prediction.strip())
            return None


def _score_choice(item: QAItem, prediction: str) -> Score:
    options = item.options or []
    reference = parse_choice(item.answer, options)
    chosen = parse_choice(prediction, options)
    parsed = LETTERS[chosen] if chosen is not None else None
    return Score(float(chosen is not None and chosen == reference), "choice", parsed)


def _score_number(item: QAItem, prediction: str) -> Score:
    reference, value = float(item.answer), parse_number(prediction)
    if value is None:
        return Score(0.0, "number")
    default = 0.0 if reference.is_integer() else DEFAULT_RELATIVE_TOLERANCE * abs(reference)
    tolerance = float(item.metadata.get("tolerance", default))
    return Score(float(abs(value - reference) <= tolerance + 1e-9), "number", f"{value:g}")


def _score_time(item: QAItem, prediction: str) -> Score:
    reference, predicted = parse_span(item.answer), parse_span(prediction)
    if reference is None:
        raise ValueError(f"item {item.id}: time answer {item.answer!r} is not a time or a span in seconds")
    if predicted is None:
        return Score(0.0, "time")
    parsed = f"{predicted.start:g}" if predicted.length == 0 else f"{predicted.start:g}-{predicted.end:g}"
    if reference.length > 0 and predicted.length > 0:
        return Score(reference.iou(predicted), "time_iou", parsed)
    tolerance = float(item.metadata.get("tolerance", DEFAULT_TIME_TOLERANCE))
    if reference.length > 0:  # a moment inside (or near) the reference span
        inside = reference.start - tolerance <= predicted.start <= reference.end + tolerance
        return Score(float(inside), "time_tolerance", parsed)
    middle = (predicted.start + predicted.end) / 2
    return Score(float(abs(middle - reference.start) <= tolerance), "time_tolerance", parsed)
