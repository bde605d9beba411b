"""The LLM judge against a real OpenAI-compatible server on 127.0.0.1 giving scripted verdicts."""

import socket

import pytest

from deepsport.dev.endpoint import LocalEndpoint, message_text, scripted
from deepsport.judge import Judge, JudgeError, grade, parse_verdict
from deepsport.schemas import QAItem

ITEM = QAItem(id="q1", video="v.mp4", question="What did the referee decide?", answer="a penalty kick")
VERDICTS = {
    "a penalty": '{"score": 1.0, "rationale": "Same decision."}',
    "penalty, I think": '<think>close {maybe}</think>```json\n{"score": 0.7, "rationale": "Hedged."}\n```',
    "a free kick": "Verdict: score = 0.0 because it contradicts the reference.",
    "no idea": "I would rather not grade this.",
    "way off": '{"score": 7, "rationale": "out of ten"}',
}


def judge_reply(messages):
    """The verdict scripted for the candidate answer in the judge's prompt (None: answer 500)."""
    candidate = message_text(messages[-1]).split("Candidate answer: ")[-1]
    return VERDICTS.get(candidate)


@pytest.fixture
def judge_server():
    with LocalEndpoint(scripted(judge_reply)) as endpoint:
        yield endpoint, endpoint.url


@pytest.mark.parametrize(
    "reply, score",
    [
        ('{"score": 0.5, "rationale": "half"}', 0.5),
        ('Sure! {"score": "1", "rationale": "ok"} Done.', 1.0),
        ('<think>{not json}</think>\n{"score": 0.25}', 0.25),
        ('```json\n{"score": 0.0, "rationale": "wrong"}\n```', 0.0),
        ("score: 0.8", 0.8),
        ('{"score": 0.9, "rationale": "unterminated', 0.9),
    ],
)
def test_parse_verdict_reads_scores_in_many_shapes(reply, score):
    assert parse_verdict(reply)[0] == score


@pytest.mark.parametrize("reply", ["", "looks right to me", '{"score": 1.5}', '{"score": "high"}', "score: -1"])
def test_parse_verdict_refuses_unreadable_or_out_of_range(reply):
    with pytest.raises(JudgeError):
        parse_verdict(reply)


def test_judge_scores_and_caches_by_item_and_answer(judge_server, tmp_path):
    model, url = judge_server
    judge = Judge("judge", url, cache_path=tmp_path / "judge.sqlite")
    first = judge.score(ITEM, "a penalty")
    assert (first.score, first.rationale, first.cached) == (1.0, "Same decision.", False)
    assert judge.score(ITEM, "penalty, I think").score == 0.7
    assert judge.score(ITEM, "a free kick").score == 0.0
    assert len(model.requests) == 3
    body = model.requests[0].body
    assert body["model"] == "judge" and body["temperature"] == 0.0
    assert body["messages"][0]["content"].startswith("You grade answers")  # the fixed rubric is the system prompt
    again = Judge("judge", url, cache_path=tmp_path / "judge.sqlite")  # a later process: the cache is on disk
    assert again.score(ITEM, "a penalty").cached and again.score(ITEM, "a penalty").score == 1.0
    other = ITEM.model_copy(update={"answer": "a yellow card"})  # a different reference is a different verdict
    assert not again.score(other, "a penalty").cached
    assert len(model.requests) == 4


def test_judge_failures_raise_and_are_not_cached(judge_server, tmp_path):
    model, url = judge_server
    judge = Judge("judge", url, cache_path=tmp_path / "judge.sqlite", max_retries=0)
    for candidate, message in [("no idea", "no score"), ("way off", "outside 0 to 1"), ("server down", "500")]:
        with pytest.raises(JudgeError, match=message):
            judge.score(ITEM, candidate)
    VERDICTS["server down"] = '{"score": 0.4, "rationale": "back"}'  # the server recovers: rescoring works
    try:
        recovered = judge.score(ITEM, "server down")
        assert (recovered.score, recovered.cached) == (0.4, False)
    finally:
        del VERDICTS["server down"]


def test_judge_unreachable_is_one_line_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    judge = Judge("judge", f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=5)
    with pytest.raises(JudgeError, match="could not be reached"):
        judge.score(ITEM, "a penalty")


def test_grade_decides_by_rule_first_and_needs_a_judge_only_for_open_text(judge_server):
    _, url = judge_server
    choice = QAItem(id="c", video="v.mp4", question="Who?", answer="B", answer_type="choice", options=["x", "y"])
    assert grade(choice, "(B) y").value == 1.0
    assert grade(ITEM, "A penalty kick.").method == "exact_text"
    with pytest.raises(JudgeError, match="needs a judge"):
        grade(ITEM, "a penalty")
    score = grade(ITEM, "penalty, I think", Judge("judge", url))
    assert (score.value, score.method) == (0.7, "judge")
