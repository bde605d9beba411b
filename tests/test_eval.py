"""``deepsport eval`` end to end on a synthetic benchmark whose scores are known in advance, against a real
OpenAI-compatible server on 127.0.0.1 (scripted model and judge): runner, resume after SIGKILL, baseline,
validation, scoring, reports, compare."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from eval_bench import AGENT_SCORES, BASELINE_SCORES, ITEMS, build_benchmark, serve
from PIL import Image
from typer.testing import CliRunner

from deepsport.agent_config import AgentConfig
from deepsport.backends.openai_backend import OpenAIChatModel
from deepsport.cli import app
from deepsport.config import to_dict
from deepsport.dev.synthetic import make_video
from deepsport.jsonl import read_jsonl
from eval.benchmark import load_benchmark
from eval.config import EvalConfig
from eval.runner import load_results, open_run, run_items

ERRORS = {"n7"}  # corrupt video


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return build_benchmark(tmp_path_factory.mktemp("bench"))


@pytest.fixture(scope="module")
def url():
    with serve() as endpoint:
        yield endpoint.url


def evaluate(bench, url, out, *extra):
    args = ["eval", "--benchmark", bench, "--model", "scripted", "--backend", "openai", "--base-url", url]
    args += ["--out", out, "--judge-model", "scripted", "--judge-base-url", url, *extra]
    return CliRunner().invoke(app, [str(a) for a in args])


def scores(out):
    return {i: row.score for i, row in load_results(out).items() if row.status == "ok"}


@pytest.fixture(scope="module")
def agent_run(bench, url, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "agent"
    result = evaluate(bench, url, out, "--concurrency", "4")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def baseline_run(bench, url, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "baseline"
    result = evaluate(bench, url, out, "--baseline", "--concurrency", "4")
    assert result.exit_code == 0, result.output
    return out


def test_runner_scores_every_item_as_scripted(agent_run):
    rows = load_results(agent_run)
    assert scores(agent_run) == AGENT_SCORES
    assert {i for i, row in rows.items() if row.status == "error"} == ERRORS
    assert "corrupt.mp4" in rows["n7"].error
    assert rows["n4"].score_method == "judge" and rows["n4"].judge_rationale == "same"
    assert rows["n1"].frames_used == 12 and rows["n1"].tool_calls == 1 and rows["n1"].turns == 2
    assert rows["n1"].trajectory.tool_calls[0].arguments == {"start": 1.0, "end": 3.0, "num_frames": 4}
    assert rows["n2"].frames_used == 8 and rows["n2"].tool_calls == 0
    report = json.loads((agent_run / "report.json").read_text())
    assert report["overall"] == {
        "items": 8,
        "scored": 7,
        "unscored": 0,
        "errors": 1,
        "accuracy": pytest.approx(4.5 / 7),
        "judge": 50.0,  # the open-text items' verdicts (n4 100, n5 0) on 0-100
        "judged": 2,
        "judge_unknown": 0,
    }
    n4 = rows["n4"]
    assert n4.judge_score == 100 and n4.judge_model == "scripted" and '"score": 1' in n4.judge_reply
    assert report["turns_cut"] == 0 and report["turns"] == 9
    accuracy = {k: v["accuracy"] for k, v in report["by_dimension"].items()}
    assert accuracy == {"assessment": 0.5, "commentary": 1.0, "recognition": 0.5, "rules": 0.75}
    assert report["by_sport"]["tennis"]["accuracy"] == pytest.approx(1 / 3)
    assert report["frames_per_question"] == pytest.approx((12 + 10 + 5 * 8) / 7)
    assert report["tool_calls_per_question"] == pytest.approx(2 / 7)
    assert 0 < report["latency"]["p50"] <= report["latency"]["p90"]
    markdown = (agent_run / "report.md").read_text()
    assert "| recognition | 3 | 2 | 50.0 | – | 0 | 1 |" in markdown and "`n7`" in markdown
    assert "| commentary | 1 | 1 | 100.0 | 100.0 | 0 | 0 |" in markdown


def test_baseline_answers_from_16_frames_without_tools(baseline_run, agent_run, bench, url, tmp_path):
    saved = json.loads((baseline_run / "config.json").read_text())
    assert saved["agent"] == to_dict(AgentConfig.preset("baseline"))
    again = shutil.copytree(baseline_run, tmp_path / "again")  # the preset as a key: the same run, resumed
    assert "1 items answered now, 7 already done" in evaluate(bench, url, again, "agent.preset=baseline").output
    rows = load_results(baseline_run)
    assert scores(baseline_run) == BASELINE_SCORES
    ok = [row for row in rows.values() if row.status == "ok"]
    assert {row.frames_used for row in ok} == {16} and {row.tool_calls for row in ok} == {0}
    system = ok[0].trajectory.messages[0]["content"]
    assert "<tools>" not in system
    result = CliRunner().invoke(app, ["eval", "compare", str(agent_run), str(baseline_run)])
    assert result.exit_code == 0, result.output
    assert "4 items flipped: 2 wrong → right, 2 right → wrong" in result.output
    for line in ["n1 (recognition): right → wrong", "n2 (recognition): wrong → right", "n6 (rules): right → wrong"]:
        assert line in result.output
    assert "+50.0" in result.output and "-50.0" in result.output  # assessment 50% → 100%, rules 75% → 25%


def test_rerun_resumes_and_a_different_config_is_refused(bench, url, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(bench.parent, tmp_path / "bench")
    bench = tmp_path / "bench" / "bench.jsonl"
    assert evaluate(bench, url, out, "--limit", "3").exit_code == 0
    assert len(read_jsonl(out / "results.jsonl")) == 3
    result = evaluate(bench, url, out)  # resume: the first three are not asked again
    assert result.exit_code == 0, result.output
    assert "5 items answered now, 3 already done, 1 errors" in result.output
    assert len(read_jsonl(out / "results.jsonl")) == 8
    make_video(tmp_path / "bench" / "corrupt.mp4", duration=4.0, fps=10.0, size=(160, 120), show_number=(7, 1, 3))
    result = evaluate(bench, url, out)  # the error row is retried, and only it
    assert "1 items answered now, 7 already done, 0 errors" in result.output
    rows = read_jsonl(out / "results.jsonl")
    assert len(rows) == 9 and [r["id"] for r in rows].count("n7") == 2
    assert scores(out) == {**AGENT_SCORES, "n7": 1.0}
    clash = evaluate(bench, url, out, "--max-turns", "3")
    assert clash.exit_code == 1
    assert "holds a run with a different config: agent.budget.max_turns=6 (now 3)" in " ".join(clash.output.split())


def test_run_from_the_eval_config_with_flags_as_overrides(bench, url, tmp_path):
    out = tmp_path / "from-config"
    keys = [f"benchmark={bench}", f"video_root={bench.parent}", "model=scripted", "backend=openai", f"base_url={url}"]
    keys += [f"out={out}", "judge.model=scripted", f"judge.base_url={url}", "agent.initial_frames=4", "concurrency=2"]
    args = ["eval", "run", "--config", "configs/eval.yaml", *keys, "--initial-frames", "8", "--concurrency", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert scores(out) == AGENT_SCORES  # the flag won over the override: 8 initial frames, as scripted
    saved = json.loads((out / "config.json").read_text())
    assert saved["agent"]["initial_frames"] == 8 and saved["concurrency"] == 4
    assert saved["benchmark"] == str(bench.resolve()) and saved["judge"]["model"] == "scripted"
    assert saved["agent"] == to_dict(AgentConfig())  # the file's agent section is the defaults of ask and eval
    resumed = evaluate(bench, url, out)  # the same settings from flags alone: the run resumes
    assert "1 items answered now, 7 already done" in resumed.output, resumed.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["agent.budget.max_turn=3"], "unknown key 'agent.budget.max_turn'"),
        (["--backend", "grpc"], "backend must be one of 'transformers', 'openai', got 'grpc'"),
        (["--sampling", "random"], "agent.sampling must be one of 'uniform', 'motion', got 'random'"),
        (["--baseline-frames", "8"], "--baseline-frames sets the frames of --baseline"),
        (["--config", "configs/nope.yaml"], "config file configs/nope.yaml not found"),
    ],
)
def test_bad_settings_are_one_line_errors(bench, args, message):
    result = CliRunner().invoke(app, ["eval", "--benchmark", str(bench), "--model", "m", *args])
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_backend_failures_become_error_rows_and_are_retried(bench, tmp_path):
    failing = {"n2", "n3"}
    items = load_benchmark(bench).items
    config = EvalConfig(benchmark=str(bench), model="scripted", backend="openai")
    open_run(tmp_path, config)
    with serve(failing=failing) as endpoint:
        model = OpenAIChatModel("scripted", endpoint.url, max_retries=0)
        first = run_items(model, config, items, tmp_path, bench.parent, concurrency=2)
        assert (first.done, first.errors) == (8, 3)
        rows = load_results(tmp_path)
        assert rows["n2"].status == "error" and rows["n2"].error.endswith("answered 500: scripted failure")
        failing.clear()
        second = run_items(model, config, items, tmp_path, bench.parent, concurrency=2)
    assert (second.skipped, second.done, second.errors) == (5, 3, 1)
    assert load_results(tmp_path)["n3"].score == 0.5
    assert load_results(tmp_path)["n4"].score_method == "needs_judge"  # no judge given: not a silent 0


def test_killed_run_resumes_to_the_same_results(bench, agent_run, tmp_path):
    out = tmp_path / "killed"
    with serve(delay=0.3) as slow:
        slow_url = slow.url
        cmd = [sys.executable, "-m", "deepsport", "eval", "--benchmark", str(bench), "--model", "scripted"]
        cmd += ["--backend", "openai", "--base-url", slow_url, "--out", str(out), "--concurrency", "2"]
        cmd += ["--judge-model", "scripted", "--judge-base-url", slow_url]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(read_jsonl(out / "results.jsonl")) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        written = read_jsonl(out / "results.jsonl")
        assert 3 <= len(written) < len(ITEMS)
        resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
    assert "already done" in resumed.stdout
    rows = read_jsonl(out / "results.jsonl")
    ok_ids = [r["id"] for r in rows if r["status"] == "ok"]
    assert sorted(ok_ids) == sorted(AGENT_SCORES)  # nothing finished was asked again
    assert outcomes(out) == outcomes(agent_run)


def outcomes(run):
    return {i: (row.status, row.prediction, row.score) for i, row in load_results(run).items()}


def test_validate_lists_every_bad_row_and_the_run_skips_them(bench, url, tmp_path):
    good = bench.read_text().splitlines()
    row = json.loads(good[0])
    bad = [
        good[0],
        "{not json",
        json.dumps({**row, "id": "t1", "answer_type": "essay"}),
        good[0],  # duplicate id
        json.dumps({**row, "id": "t2", "video": "nowhere.mp4"}),
        json.dumps({**row, "id": "t3", "answer_type": "choice", "options": ["x", "y"], "answer": "D"}),
        json.dumps({**row, "id": "t4", "video": "../../etc/passwd"}),
        json.dumps({"id": "t5", "video": "number.mp4"}),
        json.dumps({**row, "id": "t6", "dimension": "vibes"}),
    ]
    dirty = bench.parent / "dirty.jsonl"
    dirty.write_text("\n".join(bad) + "\n")
    result = CliRunner().invoke(app, ["eval", "validate", str(dirty), "--video-root", str(bench.parent)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    for fragment in [
        "row 2: malformed JSON",
        "row 3 (id t1): answer_type: 'essay' is not one of",
        "row 4 (id n1): duplicate id",
        "row 5 (id t2): video nowhere.mp4 not found under",
        "row 6 (id t3): choice answer 'D' names none of the 2 options",
        "row 7 (id t4): video '../../etc/passwd': a path relative to the video root may not use '..'",
        "row 8 (id t5): 'question' is a required property",
        "row 9 (id t6): unknown dimension 'vibes'",
        "1 valid items; 9 problems in 8 rows",
    ]:
        assert fragment in out, out
    run = evaluate(dirty, url, tmp_path / "dirty-run")
    assert run.exit_code == 0, run.output
    assert "9 problems in the benchmark; those rows are skipped" in " ".join(run.output.split())
    assert scores(tmp_path / "dirty-run") == {"n1": 1.0}


def test_score_command_judges_pending_rows_from_the_cache(bench, url, tmp_path):
    out = tmp_path / "nojudge"
    args = ["eval", "--benchmark", bench, "--model", "scripted", "--backend", "openai", "--base-url", url]
    assert CliRunner().invoke(app, [*map(str, args), "--out", str(out)]).exit_code == 0
    rows = load_results(out)
    assert rows["n4"].score is None and rows["n4"].score_method == "needs_judge"
    report = json.loads((out / "report.json").read_text())
    assert report["overall"]["unscored"] == 2 and report["overall"]["scored"] == 5
    assert "- `n4`: no judge was given (--judge-model)" in (out / "report.md").read_text()
    with serve() as judge:  # a fresh judge: count what it is asked
        score = ["eval", "score", str(out), "--judge-model", "scripted", "--judge-base-url", judge.url]
        result = CliRunner().invoke(app, score)
        assert result.exit_code == 0, result.output
        assert len(judge.requests) == 2  # the two open-text answers; every other row is scored by rule
    assert scores(out) == AGENT_SCORES
    assert len(read_jsonl(out / "results.jsonl")) == 8
    assert json.loads((out / "report.json").read_text())["overall"]["accuracy"] == pytest.approx(4.5 / 7)
    with serve() as down:
        down_url = down.url  # the server is gone after this block: the cache alone must answer
    result = CliRunner().invoke(
        app, ["eval", "score", str(out), "--judge-model", "scripted", "--judge-base-url", down_url]
    )
    assert result.exit_code == 0 and scores(out) == AGENT_SCORES


CHROMIUM = shutil.which("chromium")


def chromium(tmp_path, *args):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    cmd = [CHROMIUM, *flags, f"--user-data-dir={tmp_path / 'chromium'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_renders_in_chromium(agent_run, tmp_path):
    page = (agent_run / "report.html").as_uri()
    dom = chromium(tmp_path, "--dump-dom", page).stdout
    assert '<table id="summary">' in dom and "<td>recognition</td><td>3</td><td>2</td><td>50.0%</td>" in dom
    assert dom.count("<svg") == 2 and '<figure id="frames-histogram">' in dom
    rows = load_results(agent_run)
    shown = sum(len(set(row.trajectory.frame_times)) for row in rows.values() if row.status == "ok")
    # 8 frames per item; n1 and n6 looked closer (n1 saw one frame twice)
    assert dom.count('<img src="data:image/jpeg;base64,') == shown == 11 + 10 + 5 * 8
    assert '→ choose_frames({"start": 1.0, "end": 3.0, "num_frames": 4})' in dom
    assert "It is 7." in dom and "Answer: 7" in dom
    png = tmp_path / "page.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,1400", page)
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    colours = {tuple(c) for c in pixels[::7].tolist()}
    assert (58, 111, 176) in colours  # the accuracy bars
    assert (224, 123, 0) in colours  # the histogram, and the tool frames' borders in the open first item
    assert (128, 128, 128) in colours  # a synthetic frame's grey background: thumbnails decoded and drawn


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_big_report_loads_items_on_demand_in_chromium(agent_run, bench, tmp_path):
    """Past `inline_items` items the page holds the searchable list only; an opened item's trajectory and
    thumbnails come from report_items/<chunk>.js, loaded from file:// when it opens."""
    from eval.html import write_html
    from eval.report import summarize

    rows = sorted(load_results(agent_run).values(), key=lambda row: row.id)
    summary = summarize(rows, json.loads((agent_run / "config.json").read_text()))
    page = write_html(tmp_path, summary, rows, bench.parent, inline_items=2)
    text = page.read_text()
    assert "data:image" not in text and "choose_frames(" not in text and text.count("<details class='item'") == 8
    assert (tmp_path / "report_items" / "0.js").read_text().startswith("deepsportItems(0, {")
    budget = "--virtual-time-budget=5000"  # lets the item's script load before the DOM is dumped
    dom = chromium(tmp_path, budget, "--dump-dom", page.as_uri()).stdout
    opened, rest = dom.split('<details class="item" id="item-n2"', 1)
    assert opened.count('<img src="data:image/jpeg;base64,') == 11  # n1, opened, loaded its frames
    assert '→ choose_frames({"start": 1.0, "end": 3.0, "num_frames": 4})' in opened and "Answer: 7" in opened
    assert "loading…" in rest and "data:image" not in rest  # the closed items' bodies wait until opened
    assert '<span id="shown" class="muted">8 of 8 items</span>' in dom
    filtered = chromium(tmp_path, budget, "--dump-dom", page.as_uri() + "#q=tennis%20recognition").stdout
    assert '<span id="shown" class="muted">1 of 8 items</span>' in filtered
    assert '<details class="item" id="item-n2" data-chunk="0">' in filtered  # n2: tennis, recognition
    assert '<details class="item" id="item-n1" data-chunk="0" open="" hidden="">' in filtered


def test_report_caps_thumbnails(agent_run, tmp_path):
    run = shutil.copytree(agent_run, tmp_path / "run")
    result = CliRunner().invoke(app, ["eval", "report", str(run), "--thumbnail-items", "1"])
    assert result.exit_code == 0, result.output
    page = (run / "report.html").read_text()
    assert page.count("<img src='data:image/jpeg") == len(set(load_results(run)["n1"].trajectory.frame_times))
    assert page.count("class='tick'") > 0 and "<details class='item' id='item-n1' open>" in page


def test_datasets_folder_benchmark(bench, tmp_path):
    datasets = pytest.importorskip("datasets")
    lines = bench.read_text().splitlines()
    qa = {"id": [json.loads(line)["id"] for line in lines], "qa": lines}
    split = datasets.Dataset.from_dict(qa)
    datasets.DatasetDict({"train": split.select(range(2)), "test": split}).save_to_disk(tmp_path / "dict")
    loaded = load_benchmark(tmp_path / "dict", bench.parent)
    assert [item.id for item in loaded.items] == list(ITEMS) and not loaded.problems
    columns = [json.loads(line) for line in lines[:3]]
    datasets.Dataset.from_list(columns).save_to_disk(tmp_path / "flat")
    assert [item.id for item in load_benchmark(tmp_path / "flat", bench.parent).items] == ["n1", "n2", "n3"]
    result = CliRunner().invoke(app, ["eval", "validate", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_local_checkpoint_runs_in_process(bench, tiny_model_dir, tmp_path):
    out = tmp_path / "tiny"
    args = ["eval", "--benchmark", bench, "--model", tiny_model_dir("qwen3-vl"), "--device", "cpu", "--limit", "2"]
    args += ["--max-turns", "1", "--max-new-tokens", "8", "--concurrency", "4", "--out", out]
    result = CliRunner().invoke(app, [str(a) for a in args], env={"HF_HUB_OFFLINE": "1"})
    assert result.exit_code == 0, result.output
    rows = load_results(out)
    assert sorted(rows) == ["n1", "n2"] and {row.status for row in rows.values()} == {"ok"}
    assert {row.trajectory.backend for row in rows.values()} == {"transformers"}
    assert all(row.score in (0.0, 1.0) for row in rows.values())  # the tiny model's noise, scored by rule


def test_sports_and_dimensions_select_items(bench, url, tmp_path):
    result = evaluate(bench, url, tmp_path / "sel", "--sports", "tennis,soccer", "--dimensions", "rules")
    assert result.exit_code == 0, result.output
    assert scores(tmp_path / "sel") == {"n3": 0.5, "n6": 1.0}
    none = evaluate(bench, url, tmp_path / "none", "--sports", "curling")
    assert none.exit_code == 1 and "no benchmark items match" in none.output


def test_results_written_before_eval_row_load_and_round_trip(tmp_path):
    """tests/data/results.jsonl was written by the runner when rows were plain dicts (a rescored row with a tool
    call, a judged row, an error row): each loads as an EvalRow and is written back as the same JSON."""
    lines = (Path(__file__).parent / "data" / "results.jsonl").read_text().splitlines()
    shutil.copy(Path(__file__).parent / "data" / "results.jsonl", tmp_path / "results.jsonl")
    rows = load_results(tmp_path)
    assert [json.loads(row.model_dump_json()) for row in rows.values()] == [json.loads(line) for line in lines]
    assert rows["n1"].trajectory.tool_calls[0].frame_times == [1.0, 1.7, 2.3, 3.0] and rows["n1"].judge_error is None
    assert rows["n7"].status == "error" and rows["n7"].trajectory is None
    assert "score" not in json.loads(rows["n7"].model_dump_json())  # fields an error row never had stay out


def test_corrupt_result_row_is_one_line_naming_file_and_line(agent_run, tmp_path):
    run = shutil.copytree(agent_run, tmp_path / "run")
    lines = (run / "results.jsonl").read_text().splitlines(keepends=True)
    lines[2] = json.dumps({**json.loads(lines[2]), "status": "maybe"}) + "\n"
    (run / "results.jsonl").write_text("".join(lines))
    result = CliRunner().invoke(app, ["eval", "report", str(run)])
    message = " ".join(result.stderr.split())
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{run / 'results.jsonl'}:3: not a valid EvalRow (status: Input should be 'ok' or 'error')" in message
