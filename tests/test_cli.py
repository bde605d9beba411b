"""The small commands: frames, info, schema and dev tiny-model, as a user runs them."""

import dataclasses
import json
import subprocess
import sys

import pytest
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor
from typer.testing import CliRunner

from deepsport.agent_config import AgentConfig
from deepsport.backends.replay import ReplayChatModel
from deepsport.cli import app
from deepsport.config import to_dict
from deepsport.dev.synthetic import make_video, read_index


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("cli") / "counter.mp4", duration=5.0, fps=10.0, size=(160, 120))


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_frames_writes_the_tool_frames_as_jpegs(video, tmp_path):
    result = run("frames", video, "--start", 1.0, "--end", 2.0, "-n", 3, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").glob("*.jpg"))
    assert [f.name for f in files] == ["frame_00001.000s.jpg", "frame_00001.500s.jpg", "frame_00002.000s.jpg"]
    assert [read_index(Image.open(f)) for f in files] == [10, 15, 20]
    assert "3 frames from 1.00s to 2.00s" in result.stdout


def test_frames_reports_bad_windows_in_one_line(video, tmp_path):
    result = run("frames", video, "--start", 9.0, "--end", 12.0, "--out", tmp_path)
    assert result.exit_code == 1 and "beyond the end of the video (5.00 s)" in result.stderr
    assert "Traceback" not in result.output


def test_info(video):
    result = run("info", video)
    assert result.exit_code == 0
    for fragment in ["5.000 s", "10.000", "50", "160x120", "h264"]:
        assert fragment in result.stdout


def test_info_on_a_missing_file(tmp_path):
    result = run("info", tmp_path / "nope.mp4")
    assert result.exit_code == 1 and result.stderr.startswith("Error:") and "Traceback" not in result.output


@pytest.mark.parametrize("name, key", [("trajectory", "messages"), ("qaitem", "answer_type"), ("evalrow", "score")])
def test_schema(name, key):
    result = run("schema", name)
    assert result.exit_code == 0 and key in json.loads(result.stdout)["properties"]


def test_unknown_schema():
    result = run("schema", "nope")
    assert result.exit_code == 1 and "choose one of: trajectory, qaitem" in result.stderr


@pytest.mark.parametrize("family, model_type", [("qwen3-vl", "qwen3_vl"), ("qwen2.5-vl", "qwen2_5_vl")])
def test_dev_tiny_model_is_loadable(tmp_path, family, model_type):
    result = run("dev", "tiny-model", tmp_path / family, "--family", family)
    assert result.exit_code == 0, result.output
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / family)
    processor = AutoProcessor.from_pretrained(tmp_path / family)
    assert model.config.model_type == model_type and "tool_response" in processor.chat_template


def test_ask_path_imports_no_training_stack():
    code = (
        "import sys, deepsport.cli, deepsport.agent, deepsport.backends.transformers_backend, "
        "deepsport.backends.openai_backend, deepsport.serve, deepsport.dev.tiny_model; "
        "print(sorted(m for m in ('trl', 'datasets', 'peft', 'deepspeed') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_spot_a_video_without_training(tmp_path):
    flashes = make_video(tmp_path / "flashes.mp4", duration=8.0, fps=10.0, size=(160, 120), flashes=[2.0, 6.0])
    result = run("spot", flashes, "--json")
    assert result.exit_code == 0, result.output
    cuts = [e["time"] for e in json.loads(result.stdout) if e["label"] == "shot_cut"]  # a flash changes every colour
    assert any(abs(t - 2.0) <= 0.5 for t in cuts) and any(abs(t - 6.0) <= 0.5 for t in cuts)
    table = run("spot", flashes)
    assert "shot_cut" in table.stdout and "cannot name specific actions" in table.stdout


def test_ask_rejects_a_missing_spotter_checkpoint(video, tmp_path):
    result = run("ask", video, "Q?", "--spotter", tmp_path / "nope.pt")
    assert result.exit_code == 1 and "nope.pt" in result.stderr and "Traceback" not in result.output


def test_ask_builds_its_agent_through_the_config_keys(video, monkeypatch):
    monkeypatch.setattr("deepsport.backends.load_chat_model", lambda *a, **k: ReplayChatModel(["<answer>7</answer>"]))
    plain = run("ask", video, "Q?", "--json")
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)["config"] == to_dict(AgentConfig())  # the defaults of eval, GRPO and distill
    args = ["--config", "configs/eval.yaml", "preset=baseline", "budget.max_turns=2", "--initial-frames", 4]
    tuned = run("ask", video, "Q?", *args, "--json")
    assert tuned.exit_code == 0, tuned.output
    baseline = AgentConfig.preset("baseline")
    budget = dataclasses.replace(baseline.budget, max_turns=2)
    expected = dataclasses.replace(baseline, initial_frames=4, budget=budget)
    assert json.loads(tuned.stdout)["config"] == to_dict(expected)
    bad = run("ask", video, "Q?", "budget.max_turn=3")
    assert bad.exit_code == 1 and "unknown key 'budget.max_turn'" in bad.stderr and "Traceback" not in bad.output
