"""``deepsport ask`` end to end with a real tiny model fitted to call the frame tool and then answer.

The model is fitted on the exact conversation the agent builds (recorded by replaying the scripted turns
through the real tools), so under greedy decoding it must ask for frames 2-4 s, receive them through the
processor, and answer "7". The same must happen through ``deepsport serve`` and the OpenAI backend.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import jsonschema
import pytest
from memorize import memorize
from shared_data import CLIPS
from typer.testing import CliRunner

from deepsport.agent import Agent
from deepsport.backends.replay import ReplayChatModel
from deepsport.cli import app
from deepsport.conversation import restore_images
from deepsport.dev.synthetic import make_video
from deepsport.schemas import json_schema
from deepsport.video import Video

TENNIS = CLIPS / "tennis_rally_montecarlo.mp4"
NUMBER_Q = "What number is shown?"
TENNIS_Q = "Who hits the ball first?"


def call(start, end, n):
    payload = json.dumps({"name": "choose_frames", "arguments": {"start": start, "end": end, "num_frames": n}})
    return f"<think>I should look closer.</think>\n<tool_call>\n{payload}\n</tool_call>"


SCRIPTS = {
    NUMBER_Q: [call(2.0, 4.0, 4), "<think>The number is 7.</think>\n<answer>7</answer>"],
    TENNIS_Q: [call(0.4, 0.8, 2), "<think>The red player swings first.</think>\n<answer>the near player</answer>"],
}


def recorded_conversation(video, question):
    trajectory = Agent(ReplayChatModel(SCRIPTS[question])).run(video, question)
    with Video(video) as opened:
        return restore_images(trajectory.messages, lambda t: opened.frames_at([t])[0].image)


@pytest.fixture(scope="session")
def number_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("e2e") / "number.mp4", duration=6.0, fps=10.0, show_number=(7, 2.0, 4.0))


@pytest.fixture(scope="session")
def fitted_model(tiny_model_dir, number_video, tmp_path_factory):
    conversations = [recorded_conversation(number_video, NUMBER_Q)]
    if TENNIS.exists():
        conversations.append(recorded_conversation(TENNIS, TENNIS_Q))
    return memorize(tiny_model_dir("qwen3-vl"), conversations, out_dir=tmp_path_factory.mktemp("fitted"))


def ask(*args):
    result = CliRunner().invoke(app, ["ask", *map(str, args)])
    return result


def ask_json(*args):
    result = ask(*args, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    jsonschema.validate(payload, json_schema("trajectory"))
    return payload


def assert_number_trajectory(payload):
    assert payload["answer"] == "7" and payload["stop_reason"] == "answer"
    [tool_call] = payload["tool_calls"]
    assert tool_call["ok"] and tool_call["arguments"] == {"start": 2.0, "end": 4.0, "num_frames": 4}
    assert tool_call["frame_times"] == pytest.approx([2.0, 2.7, 3.3, 4.0])
    assert payload["frames_used"] == 12 and len(payload["turns"]) == 2


@pytest.mark.slow
def test_ask_calls_the_tool_and_answers(fitted_model, number_video, tmp_path):
    trace = tmp_path / "trace.json"
    payload = ask_json(number_video, NUMBER_Q, "--model", fitted_model, "--save-trace", trace)
    assert_number_trajectory(payload)
    assert json.loads(trace.read_text())["id"] == payload["id"]
    # turn 2 prefilled only what was new: all of turn 1 came from the KV cache but its final <|im_end|>,
    # which was sampled and never fed back
    first, second = payload["turns"]
    assert second["cached_tokens"] == first["prompt_tokens"] + first["completion_tokens"] - 1


@pytest.mark.slow
def test_live_display_shows_thought_call_frames_and_answer(fitted_model, number_video):
    result = ask(number_video, NUMBER_Q, "--model", fitted_model)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for fragment in [
        "I should look closer.",
        "→ choose_frames(start=2.0, end=4.0, num_frames=4)",
        "← 4 frames from 2.00s to 4.00s at 2.00s, 2.70s, 3.30s, 4.00s",
        "answer",
        "7",
        "2 turns · 1 tool calls · 12 frames",
    ]:
        assert fragment in out, out


@pytest.mark.slow
@pytest.mark.skipif(not TENNIS.exists(), reason="../shared/clips is absent")
def test_ask_on_a_real_clip(fitted_model):
    payload = ask_json(TENNIS, TENNIS_Q, "--model", fitted_model)
    assert payload["answer"] == "the near player"
    assert payload["tool_calls"][0]["frame_times"] == pytest.approx([0.4, 0.8], abs=0.02)


@pytest.fixture(scope="session")
def served(fitted_model):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "deepsport", "serve", "--model", str(fitted_model), "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"deepsport serve did not start: {server.stdout.read()}") from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_same_run_through_deepsport_serve_and_the_openai_backend(served, fitted_model, number_video):
    local = ask_json(number_video, NUMBER_Q, "--model", fitted_model)
    remote = ask_json(number_video, NUMBER_Q, "--backend", "openai", "--base-url", served, "--model", fitted_model)
    assert_number_trajectory(remote)
    assert remote["messages"] == local["messages"]
    assert [t["text"] for t in remote["turns"]] == [t["text"] for t in local["turns"]]
    assert [t["prompt_tokens"] for t in remote["turns"]] == [t["prompt_tokens"] for t in local["turns"]]
    assert remote["turns"][1]["cached_tokens"] > 0  # the server reused its KV cache across the two requests


def test_qwen2_5_vl_tiny_model_runs_the_loop(tiny_model_dir, number_video):
    payload = ask_json(
        number_video,
        NUMBER_Q,
        "--model",
        tiny_model_dir("qwen2.5-vl"),
        "--max-turns",
        "2",
        "--max-new-tokens",
        "8",
        "--initial-frames",
        "4",
    )
    assert 1 <= len(payload["turns"]) <= 2 and payload["frames_used"] >= 4
    assert payload["model"] == str(tiny_model_dir("qwen2.5-vl"))


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda d: d / "missing.mp4", "not found"),
        (lambda d: (d / "notes.mp4").write_text("not a video") and d / "notes.mp4", "not a video"),
    ],
)
def test_bad_video_is_one_line_error(tmp_path, make, fragment):
    result = ask(make(tmp_path), "Q?", "--model", "unused")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and fragment in result.stderr.lower()
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_unloadable_model_says_how_to_point_elsewhere(number_video, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    result = ask(number_video, "Q?", "--model", "Qwen/Qwen3-VL-8B-Instruct")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--model /path" in result.stderr and "--backend openai" in result.stderr


def post(url, body):
    request = urllib.request.Request(f"{url}/chat/completions", json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.slow
@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({"messages": []}, 400, "'messages' must be a non-empty list"),
        ({"messages": [{"role": "user", "content": "hi"}], "stream": True}, 400, "streaming is not supported"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, 400, "each message needs a role"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/a.jpg"}}]}
                ]
            },
            400,
            "only data: URLs",
        ),
        ({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}, 404, "is not served here"),
    ],
)
def test_serve_rejects_bad_requests_with_openai_style_errors(served, body, status, fragment):
    code, payload = post(served, body)
    assert code == status and fragment in payload["error"]["message"]


@pytest.mark.slow
def test_serve_answers_a_plain_request(served, fitted_model):
    code, payload = post(
        served, {"model": str(fitted_model), "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    )
    assert code == 200 and payload["object"] == "chat.completion"
    assert payload["usage"]["completion_tokens"] <= 4 and payload["choices"][0]["finish_reason"] in ("stop", "length")
