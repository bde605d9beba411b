"""The filter's LLM-judge path end to end: open-text questions (bring-your-own JSONL), an API teacher and a judge
behind real OpenAI-compatible servers on 127.0.0.1. Kept at or above the threshold, rejected with the judge's
score below it, judge failures recorded as "not checked" (never as wrong answers) and retried by the next run,
verdicts cached so a re-run asks the judge nothing."""

import json

import pytest
from typer.testing import CliRunner

from data_distill.cli import app
from deepsport.dev.endpoint import LocalEndpoint, message_text, scripted
from deepsport.dev.synthetic import make_video
from deepsport.jsonl import read_jsonl

# question: (reference, the teacher's answer)
QUESTIONS = {
    "What did the referee decide?": ("a penalty kick", "a penalty"),
    "Which card was shown?": ("a yellow card", "a red card"),
    "Who takes the kick?": ("the striker in white", "the white striker"),
    "Why was play stopped?": ("an offside", "the attacker was offside"),
    "How did the keeper react?": ("he dived to his left", "he dived left"),
    "What is the final score?": ("two to one", "Two to one."),  # the same text: decided without the judge
}
VERDICTS = {  # the teacher's answer: the judge's reply
    "a penalty": '{"score": 0.9, "rationale": "same decision"}',
    "a red card": '{"score": 0.2, "rationale": "wrong card"}',
    "the white striker": '{"score": 0.7, "rationale": "same player"}',  # exactly the threshold: kept
    "the attacker was offside": None,  # the judge answers 500
    "he dived left": "I would rather not grade this.",  # no score in the reply
}


def teacher(messages: list[dict]) -> str:
    question = message_text(messages[1]).split("Question: ")[-1]
    return f"<think>I watched the play.</think><answer>{QUESTIONS[question][1]}</answer>"


class Judge:
    def __init__(self) -> None:
        self.verdicts = dict(VERDICTS)

    def __call__(self, messages: list[dict]) -> str | None:
        return self.verdicts[message_text(messages[-1]).split("Candidate answer: ")[-1]]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("judge")
    (root / "videos").mkdir()
    make_video(root / "videos" / "match.mp4", duration=6.0, fps=4.0, size=(96, 64))
    rows = [{"video": "match.mp4", "question": q, "answer": a, "sport": "soccer"} for q, (a, _) in QUESTIONS.items()]
    (root / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def args(root, teacher_url: str, judge_url: str) -> list[str]:
    path = root / "distill.yaml"
    path.write_text(
        f"video_root: {root / 'videos'}\nout_dir: {root / 'out'}\n"
        f"sources: [{{name: custom, path: {root / 'qa.jsonl'}}}]\n"
        f"teacher: {{kind: api, endpoint: {{model: teacher, base_url: '{teacher_url}'}}}}\n"
        f"filter: {{min_score: 0.7, judge: {{model: judge, base_url: '{judge_url}', max_retries: 0}}}}\n"
    )
    return ["--config", str(path)]


def invoke(*arguments: str) -> str:
    result = CliRunner().invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_filter_grades_open_text_with_the_judge(root):
    judge = Judge()
    with LocalEndpoint(scripted(teacher)) as model, LocalEndpoint(scripted(judge)) as judge_server:
        config = args(root, model.url, judge_server.url)
        invoke("questions", *config)
        invoke("teacher", *config)
        first = invoke("filter", *config)
        assert "filter: kept 3, rejected 1, not checked (retry) 2" in first and "Run the same command again" in first
        assert "the judge failed" in first and "answered 500" in first and "has no score" in first
        out = root / "out"
        questions = {r["id"]: r["question"] for r in read_jsonl(out / "questions.jsonl")}
        verdicts = {questions[v["id"]]: v for v in read_jsonl(out / "verdicts.jsonl")}
        checks = {questions[c["id"]]: c for c in read_jsonl(out / "checks.jsonl")}
        assert verdicts["What did the referee decide?"]["keep"] and verdicts["Who takes the kick?"]["keep"]
        assert (checks["What did the referee decide?"]["method"], checks["Who takes the kick?"]["score"]) == (
            "judge",
            0.7,
        )
        assert verdicts["What is the final score?"]["keep"] and checks["What is the final score?"]["method"] != "judge"
        card = verdicts["Which card was shown?"]
        assert (card["keep"], card["reason"]) == (False, "wrong answer") and "judge 0.20" in card["detail"]
        for question, error in [("Why was play stopped?", "answered 500"), ("How did the keeper react?", "no score")]:
            verdict = verdicts[question]
            assert (verdict["keep"], verdict["reason"]) == (False, "not checked") and error in verdict["detail"]
            assert question not in checks  # not recorded: the next run asks again
        assert len(judge_server.requests) == 5  # the exact match needed no judge
        # the judge recovers: the next run asks about the two failures only
        judge.verdicts |= {"the attacker was offside": '{"score": 1.0}', "he dived left": '{"score": 0.4}'}
        assert "filter: kept 4, rejected 2, not checked (retry) 0" in invoke("filter", *config)
        assert len(judge_server.requests) == 7
        verdicts = {questions[v["id"]]: v for v in read_jsonl(out / "verdicts.jsonl")}
        assert (
            verdicts["Why was play stopped?"]["keep"]
            and verdicts["How did the keeper react?"]["reason"] == "wrong answer"
        )
        # every verdict is cached: checking everything again asks the judge nothing and decides the same
        (out / "checks.jsonl").unlink()
        assert "filter: kept 4, rejected 2" in invoke("filter", *config)
        assert len(judge_server.requests) == 7
        assert {questions[v["id"]]: v for v in read_jsonl(out / "verdicts.jsonl")} == verdicts
