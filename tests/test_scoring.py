"""Deterministic scoring: every answer type, the parsers, and open text left to a judge."""

import pytest

from deepsport.schemas import QAItem, Span
from deepsport.scoring import parse_choice, parse_number, parse_span, score_answer

OPTIONS = ["Yellow card", "Red card", "No card", "Penalty kick"]


def item(answer: str, answer_type: str = "text", **kwargs) -> QAItem:
    return QAItem(id="q", video="v.mp4", question="?", answer=answer, answer_type=answer_type, **kwargs)


@pytest.mark.parametrize(
    ("prediction", "index"),
    [
        ("B", 1),
        ("b", 1),
        ("(B)", 1),
        ("B. Red card", 1),
        ("C) No card", 2),
        ("**D**", 3),
        ("The answer is B", 1),
        ("Option C, because the contact was minimal", 2),
        ("red card", 1),
        ("I think it was a red card for the tackle.", 1),
        ("A foul was committed", None),  # "A" is an article here, not a letter
        ("the answer is a booking", None),
        ("something else entirely", None),
    ],
)
def test_parse_choice(prediction: str, index: int | None) -> None:
    assert parse_choice(prediction, OPTIONS) == index


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [("3", 3.0), ("There were 12 passes.", 12.0), ("-2.5 m", -2.5), ("1,200 spectators", 1200.0), ("three", 3.0)],
)
def test_parse_number(prediction: str, expected: float) -> None:
    assert parse_number(prediction) == expected


def test_parse_number_none() -> None:
    assert parse_number("no idea") is None


@pytest.mark.parametrize(
    ("prediction", "span"),
    [
        ("12.5-15.0", (12.5, 15.0)),
        ("from 12.5s to 15s", (12.5, 15.0)),
        ("between 1:05 and 1:10", (65.0, 70.0)),
        ("at 0:01:02.5", (62.5, 62.5)),
        ("around 42 seconds", (42.0, 42.0)),
        ("15 - 12", (12.0, 15.0)),
    ],
)
def test_parse_span(prediction: str, span: tuple[float, float]) -> None:
    assert parse_span(prediction) == Span(start=span[0], end=span[1])


def test_choice_scores() -> None:
    question = item("B", "choice", options=OPTIONS)
    assert score_answer(question, "B. Red card").value == 1.0
    assert score_answer(question, "Red card").parsed == "B"
    assert score_answer(question, "A").value == 0.0
    assert score_answer(question, "no letter here").value == 0.0


def test_number_tolerance() -> None:
    assert score_answer(item("3", "number"), "3 goals").value == 1.0
    assert score_answer(item("3", "number"), "4").value == 0.0  # integers are exact by default
    assert score_answer(item("3", "number", metadata={"tolerance": 1}), "4").value == 1.0
    assert score_answer(item("87.5", "number"), "88").value == 1.0  # 2 % relative for non-integers
    assert score_answer(item("87.5", "number"), "90").value == 0.0


def test_time_answers() -> None:
    span = item("10-20", "time_span")
    assert score_answer(span, "15-25").value == pytest.approx(5 / 15)
    assert score_answer(span, "10 to 20").value == 1.0
    assert score_answer(span, "at 14s").value == 1.0  # a moment inside the span
    assert score_answer(span, "at 25s").value == 0.0
    moment = item("42.0", "time_span")
    assert score_answer(moment, "42.8").value == 1.0
    assert score_answer(moment, "44").value == 0.0
    assert score_answer(item("42.0", "time_span", metadata={"tolerance": 3}), "44").value == 1.0
    assert score_answer(moment, "no time").value == 0.0


def test_open_text_goes_to_a_judge_unless_exact() -> None:
    question = item("Handball by the defender")
    assert score_answer(question, "handball by the defender.").value == 1.0
    assert score_answer(question, "The defender touched the ball with his arm") is None


def test_empty_prediction_scores_zero() -> None:
    assert score_answer(item("3", "number"), None).value == 0.0
    assert score_answer(item("x"), "  ").method == "empty"
