"""The benchmark's judge protocol end to end: ``eval --judge-all`` scores every item 0-100 by a Thinking judge (its
thought split off as vLLM does) beside the rules, a failed verdict stays unknown, ``eval score --out`` re-judges a
copy with a second judge, ``eval compare --judges`` gives their agreement; a swapped prompt file; benchmark
dimensions declared in a sidecar."""

import json
import shutil

import pytest
from eval_bench import build_benchmark, scripted_model
from scipy import stats
from typer.testing import CliRunner

from deepsport.cli import app
from deepsport.dev.endpoint import LocalEndpoint, Reply, completion, message_text, scripted
from eval.runner import load_results

# the agent's prediction: (judge A's 0-100 score, or None: cut before its verdict; judge B's score)
VERDICTS = {
    "7": (100, 100),
    "B": (0, 20),
    "1.0-2.0": (None, 50),
    "a penalty": (90, 70),
    "a red card": (10, 0),
    "(A) near": (100, 90),
    "one": (80, 40),
}
IDS = {"7": "n1", "B": "n2", "1.0-2.0": "n3", "a penalty": "n4", "a red card": "n5", "(A) near": "n6", "one": "n8"}


def judge(which: int):
    def reply(messages):
        candidate = message_text(messages[-1]).split("Candidate answer: ")[-1]
        score = VERDICTS[candidate][which]
        if score is None:  # a Thinking judge that ran out of tokens while thinking
            payload = completion("", finish_reason="length")
            payload["choices"][0]["message"] = {"role": "assistant", "content": None, "reasoning": "Hmm, the span"}
            return Reply(payload=payload)
        return f'<think>\nCompare "{candidate}" with the reference.\n</think>\n\n{{"score": {score}, "rationale": "r"}}'

    return reply


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("judged")
    bench = build_benchmark(root)
    # the model behind vLLM's reasoning parser (its thoughts in reasoning_content), the judge a Thinking model
    model_server = LocalEndpoint(scripted(scripted_model(), "vllm-reasoning"), slots=1)
    with model_server as model, LocalEndpoint(scripted(judge(0), "vllm-reasoning-0.11")) as thinking:
        args = ["eval", "--benchmark", bench, "--model", "scripted", "--backend", "openai", "--base-url", model.url]
        args += ["--out", root / "run", "--judge-model", "thinker", "--judge-base-url", thinking.url, "--judge-all"]
        result = CliRunner().invoke(app, [str(a) for a in [*args, "--judge-max-tokens", "300", "--concurrency", "4"]])
        assert result.exit_code == 0, result.output
        requests = [r.body for r in thinking.requests]
    return root, requests


def test_judge_all_scores_every_item_0_to_100_beside_the_rules(setup):
    root, requests = setup
    rows = load_results(root / "run")
    judged = {IDS[row.prediction]: row for row in rows.values() if row.status == "ok"}
    assert {i: r.judge_score for i, r in judged.items()} == {IDS[p]: v[0] for p, v in VERDICTS.items()}
    n1, n3, n4 = judged["n1"], judged["n3"], judged["n4"]
    assert n1.score == 1.0 and n1.score_method == "number" and n1.judge_model == "thinker"  # the rule stays
    assert n1.judge_reply == '{"score": 100, "rationale": "r"}'  # the raw reply (the thought came apart)
    assert [t.think for t in n1.trajectory.turns] == ["Look closer.", "It is 7."]  # the model's, from its field
    assert n1.trajectory.turns[1].text == "<think>\nIt is 7.\n</think>\n\n<answer>7</answer>"
    assert n4.score == 0.9 and n4.score_method == "judge"  # open text: the judge's verdict is its score
    assert n3.judge_score is None and n3.score == 0.5 and "cut at 300 tokens" in n3.judge_error  # unknown, not 0
    # the protocol's prompt: 0-100, the answer type and options shown; the configured token limit
    assert all(r["max_tokens"] == 300 for r in requests) and len(requests) == 7
    system, user = requests[0]["messages"]
    assert "Score from 0 to 100" in system["content"]
    choice = next(r["messages"][1]["content"] for r in requests if "Which side serves?" in r["messages"][1]["content"])
    assert choice.startswith("Question (choice): Which side serves?\nOptions: near | far\nReference answer: A")
    report = json.loads((root / "run" / "report.json").read_text())
    assert report["overall"]["judge"] == pytest.approx(380 / 6) and report["overall"]["judge_unknown"] == 1
    assert report["by_dimension"]["rules"]["judge"] == 100.0 and report["by_sport"]["tennis"]["judge"] == 110 / 3
    markdown = (root / "run" / "report.md").read_text()
    assert "| rules | 2 | 2 | 75.0 | 100.0 | 1 | 0 |" in markdown and "Judge: thinker; 6 items judged" in markdown
    assert "| tennis | 3 | 3 | 36.7 | 36.7 | 0 | 0 |" in markdown


def test_second_judge_on_a_copy_and_agreement(setup, tmp_path):
    root, _ = setup
    before = (root / "run" / "results.jsonl").read_text()
    with LocalEndpoint(scripted(judge(1))) as cheap:
        args = ["eval", "score", root / "run", "--out", tmp_path / "b", "--judge-all", "--judge-model", "cheap"]
        result = CliRunner().invoke(app, [str(a) for a in [*args, "--judge-base-url", cheap.url]])
    assert result.exit_code == 0, result.output
    assert (root / "run" / "results.jsonl").read_text() == before  # the first judge's run is left as it was
    b = load_results(tmp_path / "b")
    assert {IDS[r.prediction]: r.judge_score for r in b.values() if r.status == "ok"} == {
        IDS[p]: v[1] for p, v in VERDICTS.items()
    }
    result = CliRunner().invoke(app, ["eval", "compare", str(root / "run"), str(tmp_path / "b"), "--judges"])
    assert result.exit_code == 0, result.output
    known = [p for p, v in VERDICTS.items() if v[0] is not None]
    a_scores, b_scores = [VERDICTS[p][0] for p in known], [VERDICTS[p][1] for p in known]
    pearson, spearman = stats.pearsonr(a_scores, b_scores)[0], stats.spearmanr(a_scores, b_scores)[0]
    line = next(line for line in result.output.splitlines() if "overall" in line)
    # pass at 50: A passes n1 n4 n6 n8, B n1 n4 n6; agreement 5/6, chance 1/2: kappa (5/6 - 1/2) / (1/2) = 0.67
    cells = [cell.strip() for cell in line.split("│")[2:7]]
    assert cells == ["6", f"{pearson:.2f}", f"{spearman:.2f}", "0.67", "83.3%"]
    assert "Judges: thinker vs cheap; 1 items unknown to a judge" in " ".join(result.output.split())


def test_swapped_judge_prompt_and_bad_prompt_files(setup, tmp_path):
    root, _ = setup
    prompt = tmp_path / "strict.yaml"
    prompt.write_text("scale: 10\nsystem: Be strict.\nuser: 'Q: {question} R: {reference} C: {candidate}'\n")
    run = shutil.copytree(root / "run", tmp_path / "run")
    replies = {"system": []}

    def strict(messages):
        replies["system"].append(message_text(messages[0]))
        return '{"score": 5}'

    with LocalEndpoint(scripted(strict)) as server:
        args = ["eval", "score", run, "--judge-all", "--judge-prompt", prompt, "--judge-model", "s"]
        result = CliRunner().invoke(app, [str(a) for a in [*args, "--judge-base-url", server.url]])
        assert result.exit_code == 0, result.output
        users = {r.body["messages"][1]["content"] for r in server.requests}
    assert set(replies["system"]) == {"Be strict."} and "Q: What number is shown? R: 7 C: 7" in users
    assert {r.judge_score for r in load_results(run).values() if r.status == "ok"} == {50.0}  # 5 of 10
    for text, message in (
        ("system: x\n", "needs 'system' and 'user' strings"),
        ("system: x\nuser: '{question} {nope}'\n", "'user' names an unknown field 'nope'"),
        ("system: x\nuser: y\nscale: -1\n", "'scale' must be a positive number"),
    ):
        prompt.write_text(text)
        args = ["eval", "score", run, "--judge-all", "--judge-prompt", prompt, "--judge-model", "s"]
        result = CliRunner().invoke(app, [str(a) for a in [*args, "--judge-base-url", "http://127.0.0.1:9/v1"]])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["eval", "score", str(run), "--judge-all"])
    assert result.exit_code == 1 and "--judge-all needs a judge" in result.output


def test_benchmark_declares_its_own_dimensions(setup, tmp_path):
    root, _ = setup
    lines = (root / "bench.jsonl").read_text().splitlines()
    first = json.loads(lines[0]) | {"dimension": "tactics"}
    bench = tmp_path / "tactical.jsonl"
    bench.write_text("\n".join([json.dumps(first), *lines[1:3]]) + "\n")
    result = CliRunner().invoke(app, ["eval", "validate", str(bench), "--video-root", str(root)])
    assert result.exit_code == 1 and "unknown dimension 'tactics'; choose one of recognition, rules" in result.output
    meta = tmp_path / "tactical.meta.json"
    meta.write_text(json.dumps({"dimensions": ["tactics", "recognition", "rules"]}))
    result = CliRunner().invoke(app, ["eval", "validate", str(bench), "--video-root", str(root)])
    assert result.exit_code == 0 and "3 valid items; 0 problems" in result.output
    meta.write_text('{"dimensions": "tactics"}')
    result = CliRunner().invoke(app, ["eval", "validate", str(bench), "--video-root", str(root)])
    assert result.exit_code == 1 and 'tactical.meta.json needs "dimensions": a non-empty list' in result.output
