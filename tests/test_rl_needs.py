"""``deepsport train needs``: the "need" gate as a data step, against a real OpenAI-compatible server on 127.0.0.1.

The policy's endpoint answers every question from the initial frames; the judge's endpoint scores the open-text
one, failing the first time (unknown, never 0, retried by the next run).
"""

import json

import pytest
from datasets import Dataset, DatasetDict, load_from_disk
from typer.testing import CliRunner

from deepsport.cli import app
from deepsport.dev.endpoint import LocalEndpoint, message_text, scripted
from deepsport.dev.synthetic import make_video
from deepsport.schemas import QAItem

QUESTIONS = [  # (id, split, answer type, reference); the policy always answers "7"
    ("n7", "train", "number", "7"),
    ("n4", "train", "number", "4"),
    ("t1", "validation", "text", "a seven"),
]


@pytest.fixture
def rl_data(tmp_path):
    make_video(tmp_path / "v.mp4", duration=4.0, fps=4.0, size=(64, 48))
    splits = {}
    for qid, split, kind, answer in QUESTIONS:
        item = QAItem(id=qid, video="v.mp4", question="What number is shown?", answer=answer, answer_type=kind)
        row = {"id": qid, "video": "v.mp4", "sport": "synthetic", "source": "custom", "qa": item.model_dump_json()}
        splits.setdefault(split, []).append(row)
    DatasetDict({k: Dataset.from_list(v) for k, v in splits.items()}).save_to_disk(str(tmp_path / "rl"))
    return tmp_path


def test_needs_writes_the_column_from_no_tool_answers_and_retries_failed_judgments(rl_data, tmp_path):
    judge_up = False

    def answer(messages):
        if "grade answers" in message_text(messages[0]):  # the judge: down during the first run, then agrees
            return '{"score": 1.0, "rationale": "same"}' if judge_up else None
        return "<think>I see a seven.</think><answer>7</answer>"

    with LocalEndpoint(scripted(answer)) as endpoint:
        args = ["train", "needs", "--config", "configs/grpo.yaml", f"data.path={rl_data / 'rl'}"]
        args += [f"data.video_root={rl_data}", f"train.output_dir={tmp_path / 'run'}", "agent.initial_frames=3"]
        args += ["need_tool.model=policy", "need_tool.backend=openai", f"need_tool.base_url={endpoint.url}"]
        args += ["need_tool.samples=1", "reward.judge.model=judge", f"reward.judge.base_url={endpoint.url}"]
        first = CliRunner().invoke(app, args)
        assert first.exit_code == 0, first.output
        assert "1 need a tool, 1 are answered from the initial frames, 1 unknown" in first.stdout
        assert "1 could not be scored" in first.stdout
        assert "failed t1: no answer could be scored: " in first.stderr  # with the judge's own error
        dataset = load_from_disk(str(rl_data / "rl"))
        assert dataset["train"]["needs_tool"] == [False, True] and dataset["validation"]["needs_tool"] == [None]
        assert dataset["train"]["no_tool_accuracy"] == [1.0, 0.0]
        policy = [r for r in endpoint.requests if r.body["model"] == "policy"]
        assert len(policy) == 3
        for request in policy:  # the rollout's initial frames, one turn, no tools
            system, user = request.body["messages"][:2]
            assert "<tools>" not in message_text(system)
            assert sum(part["type"] == "image_url" for part in user["content"]) == 3

        judge_up = True
        second = CliRunner().invoke(app, args)  # resumes: only the unknown one is asked again
        assert second.exit_code == 0, second.output
        assert "1 need a tool, 2 are answered from the initial frames, 0 unknown" in second.stdout
        assert len([r for r in endpoint.requests if r.body["model"] == "policy"]) == 4
    assert load_from_disk(str(rl_data / "rl"))["validation"]["needs_tool"] == [False]
    records = [json.loads(line) for line in (rl_data / "rl.needs_tool.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == ["n4", "n7", "t1"]


def test_the_need_gate_refuses_a_dataset_without_the_column(rl_data, tmp_path):
    args = ["train", "rl", "--config", "configs/grpo.yaml", f"data.path={rl_data / 'rl'}", "reward.gate=need"]
    args += ["reward.judge.model=judge", f"train.output_dir={tmp_path / 'run'}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "needs a needs_tool column" in result.stderr and "deepsport train needs" in result.stderr
