"""The text step of `deepsport distill` against a real OpenAI-compatible server on 127.0.0.1: templated questions
rewritten, bad rewrites refused (the templated question kept), answers/options/evidence untouched, endpoint
failures retried by the next run, the response cache, and the rationale in the oracle teacher's answer turn."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from data_distill.cli import app
from data_distill.sources import load_source
from data_distill.text import split_question
from deepsport.dev.endpoint import LocalEndpoint, message_text, scripted
from deepsport.dev.synthetic import make_video
from deepsport.jsonl import read_jsonl
from deepsport.schemas import QAItem, Trajectory

EVENTS = [("Goal", 6.0), ("Corner", 14.0), ("Goal", 22.0)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """One SoccerNet game (Labels-v2.json, two synthetic halves) and its templated questions."""
    root = tmp_path_factory.mktemp("text")
    game = root / "soccernet" / "league" / "2020" / "game"
    game.mkdir(parents=True)
    (root / "videos" / "league" / "2020" / "game").mkdir(parents=True)
    labels = [
        {"gameTime": f"{half} - 00:{int(t):02d}", "label": label, "position": str(int(t * 1000)), "team": "home"}
        for half in (1, 2)
        for label, t in ((label, t + half / 4) for label, t in EVENTS)  # every question differs
    ]
    (game / "Labels-v2.json").write_text(json.dumps({"annotations": labels}))
    for half in (1, 2):
        make_video(root / "videos" / "league" / "2020" / "game" / f"{half}_224p.mkv", duration=30.0, fps=4.0)
    items = sorted(load_source("soccernet_v2", root / "soccernet"), key=lambda i: i.id)
    return root, items


def args(root: Path, out: str, url: str, *extra: str) -> list[str]:
    path = root / "distill.yaml"
    path.write_text(
        f"video_root: {root / 'videos'}\nsources:\n  - {{name: soccernet_v2, path: {root / 'soccernet'}}}\n"
        f"out_dir: {root / out}\nconcurrency: 3\n"
        f"text: {{enabled: true, endpoint: {{model: writer, base_url: '{url}', max_retries: 0}}}}\n"
    )
    return ["--config", str(path), *extra]


def invoke(*arguments: str) -> str:
    result = CliRunner().invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def stem_of(messages: list[dict]) -> str:
    return message_text(messages[-1]).split("Question: ", 1)[1].split("\n", 1)[0]


class Writer:
    """The scripted rewriter: a natural rewrite by default, a chosen bad reply for some stems; `down` stems get
    a 500 while they are in it."""

    def __init__(self, bad: dict[str, str]):
        self.bad = bad
        self.down: set[str] = set()

    def __call__(self, messages: list[dict]) -> str | None:
        stem = stem_of(messages)
        if stem in self.down:
            return None
        question = self.bad.get(stem, f"Watching this footage closely: {stem[0].lower()}{stem[1:]}")
        return question if question.startswith("Sure") else json.dumps({"question": question, "rationale": R})


R = "The ball ends up where the play decides it."


def test_text_step_rewrites_refuses_bad_rewrites_retries_and_caches(data):
    root, items = data
    choices = [i for i in items if i.answer_type == "choice" and i.evidence is not None]
    leak, lister, failing, retimed = choices[:4]
    malformed = next(i for i in items if i.question.startswith("Count the"))
    stem = {i.id: split_question(i)[0] for i in items}
    options = "\n".join(f"{chr(65 + n)}. {o}" for n, o in enumerate(lister.options))
    correct = leak.options[ord(leak.answer) - 65]
    bad = {
        stem[leak.id]: f"{stem[leak.id].rstrip('?')}: was it a {correct.lower()}?",
        stem[lister.id]: f"{stem[lister.id]}\n{options}",
        stem[retimed.id]: stem[retimed.id].replace(".", "") + " (about 99 s in)",
        stem[malformed.id]: "Sure! Here is a nicer question for you.",
    }
    writer = Writer(bad)
    writer.down.add(stem[failing.id])
    with LocalEndpoint(scripted(writer)) as endpoint:
        off = CliRunner().invoke(app, ["text", *args(root, "out", endpoint.url), "text.enabled=false"])
        assert off.exit_code == 1 and "text distillation is off" in off.output
        invoke("questions", *args(root, "out", endpoint.url))
        first = invoke("text", *args(root, "out", endpoint.url))
        assert f"{len(items) - 1} done" in first and "1 failed" in first and "answered 500" in first
        assert "4 of " in first and "kept templated" in first
        # the teacher asks a question only once the text step has done it
        assert "1 questions wait for the text step" in invoke("teacher", *args(root, "out", endpoint.url))
        writer.down.clear()
        assert "text: 1 done" in invoke("text", *args(root, "out", endpoint.url))
        # only the stem went to the LLM; the options list and the format hint did not
        sent = [stem_of(r.body["messages"]) for r in endpoint.requests]
        assert sorted(set(sent)) == sorted(set(stem.values()))
        out = root / "out"
        records = {r["id"]: QAItem.model_validate(r) for r in read_jsonl(out / "text.jsonl")}
        assert sorted(records) == [i.id for i in items]
        # the response cache: the same step again asks nothing and writes the same
        (out / "text.jsonl").rename(out / "first.jsonl")
        asked = len(endpoint.requests)
        again = invoke("text", *args(root, "out", endpoint.url))
        assert f"response cache: {len(items)} hits, 0 requests" in again and len(endpoint.requests) == asked
        by_id = [{r["id"]: r for r in read_jsonl(out / name)} for name in ("text.jsonl", "first.jsonl")]
        assert by_id[0] == by_id[1]
        assert "teacher: 1 done" in invoke("teacher", *args(root, "out", endpoint.url))
    refused = {leak.id: "names the answer", lister.id: "spans several lines", retimed.id: "times or numbers"}
    refused[malformed.id] = "not the JSON asked for"
    for item in items:
        record = records[item.id]
        fixed = ("id", "video", "answer", "answer_type", "options", "evidence", "sport", "dimension", "task_type")
        assert all(getattr(record, name) == getattr(item, name) for name in fixed)
        if item.id in refused:
            assert record.question == item.question and refused[item.id] in record.metadata["text_error"]
            assert "rationale" not in record.metadata
        else:
            tail = item.question[len(stem[item.id]) :]
            assert (
                record.question == f"Watching this footage closely: {stem[item.id][0].lower()}{stem[item.id][1:]}{tail}"
            )
            assert record.metadata["template_question"] == item.question and record.metadata["rationale"] == R
    assert any("\nA. " in records[i.id].question and i.id not in refused for i in choices)
    # the oracle teacher asked the rewritten question and gives the drafted rationale in its answer turn
    trajectories = {r["id"]: Trajectory.model_validate(r["trajectory"]) for r in read_jsonl(out / "trajectories.jsonl")}
    assert sorted(trajectories) == [i.id for i in items]
    rewritten = trajectories[failing.id]
    user = message_text(rewritten.messages[1])
    assert user.endswith("Question: " + records[failing.id].question)
    assert len(rewritten.turns) == 2 and rewritten.turns[1].think.endswith(R)
    assert not trajectories[leak.id].turns[-1].think.endswith(R)
