"""Distillation with a Thinking teacher served as vLLM serves Qwen3-VL-Thinking (``--reasoning-parser qwen3
--enable-auto-tool-choice --tool-call-parser hermes``), asked natively: the SFT trajectories hold the teacher's
reasoning in <think>, thoughts over ``teacher.max_think_chars`` are cut at a sentence end (the turn records the
original length), and a turn whose thought is empty is rejected when the teacher is asked to think."""

import json

import pytest
from typer.testing import CliRunner

from data_distill.cli import app
from deepsport.dev.endpoint import LocalEndpoint, message_text, scripted
from deepsport.dev.synthetic import make_video
from deepsport.jsonl import read_jsonl
from deepsport.schemas import Trajectory

LONG = (
    "The question asks for the number on the screen. The initial frames are too small to read it. "
    "I will look at the middle of the clip, where the digits appear, with more frames."
)
CUT = "The question asks for the number on the screen. The initial frames are too small to read it."
QUESTIONS = {"What number is shown?": "think", "Which number appears?": "think", "Name the number.": "silent"}


def teacher(messages: list[dict]) -> str:
    """Looks closer, thinking at length, then answers; on the "silent" question its answer turn has no thought."""
    question = message_text(messages[1]).split("Question: ")[-1].split("\n")[0]  # without the format hint
    if sum(m["role"] == "assistant" for m in messages) == 0:
        call = {"name": "choose_frames", "arguments": {"start": 1.0, "end": 3.0, "num_frames": 2}}
        return f"<think>\n{LONG}\n</think>\n\n<tool_call>\n{json.dumps(call)}\n</tool_call>"
    thought = "" if QUESTIONS[question] == "silent" else "<think>\nThe frames show a 7.\n</think>\n\n"
    return f"{thought}<answer>7</answer>"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("thinking")
    (root / "videos").mkdir()
    make_video(root / "videos" / "a.mp4", duration=4.0, fps=4.0, size=(96, 64), show_number=(7, 1.0, 3.0))
    rows = [
        {"video": "a.mp4", "question": q, "answer": "7", "answer_type": "number", "sport": "soccer"} for q in QUESTIONS
    ]
    (root / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_thinking_teacher_reasoning_lands_in_sft_trajectories(root):
    with LocalEndpoint(scripted(teacher, "vllm-thinking-tools")) as endpoint:
        path = root / "distill.yaml"
        path.write_text(
            f"video_root: {root / 'videos'}\nout_dir: {root / 'out'}\nconcurrency: 2\n"
            f"sources: [{{name: custom, path: {root / 'qa.jsonl'}}}]\n"
            f"teacher: {{kind: api, endpoint: {{model: thinker, base_url: '{endpoint.url}', max_retries: 0}},"
            " agent: {initial_frames: 2, tool_protocol: native, tool_images: tool}, max_think_chars: 120}\n"
            "export: {test_fraction: 0, validation_fraction: 0}\n"
        )
        result = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 0, result.output
    first = endpoint.requests[0].body
    assert first["tools"][0]["function"]["name"] == "choose_frames"  # asked natively, as vLLM's tool parser needs
    reply = next(r.body["messages"] for r in endpoint.requests if len(r.body["messages"]) > 2)
    assert reply[2]["tool_calls"][0]["id"] == "call_0_0" and LONG not in json.dumps(reply)
    verdicts = {v["id"]: v for v in read_jsonl(root / "out" / "verdicts.jsonl")}
    items = {r["id"]: r["question"].split("\n")[0] for r in read_jsonl(root / "out" / "questions.jsonl")}
    silent = next(i for i, q in items.items() if QUESTIONS[q] == "silent")
    assert not verdicts[silent]["keep"] and verdicts[silent]["detail"] == "turn 1: no <think>"
    assert sum(v["keep"] for v in verdicts.values()) == 2
    from datasets import load_from_disk

    rows = load_from_disk(str(root / "out" / "export" / "sft"))["train"].to_list()
    assert len(rows) == 2
    for row in rows:
        trajectory = Trajectory.model_validate_json(row["trajectory"])
        look, answer = trajectory.turns
        assert look.think == CUT and look.think_chars == len(LONG) and answer.think_chars is None
        turns = [m["content"] for m in trajectory.messages if m["role"] == "assistant"]
        assert turns[0].startswith(f"<think>\n{CUT}\n</think>\n\n<tool_call>") and LONG not in row["trajectory"]
        assert turns[1] == "<think>\nThe frames show a 7.\n</think>\n\n<answer>7</answer>"


def test_the_response_cache_keeps_each_tool_protocol_apart(tmp_path, monkeypatch):
    """The same conversation sent with Hermes tools and with native tools is two requests on the wire: a switch of
    protocol on the same out_dir asks the endpoint again instead of reusing the other protocol's answers."""
    from data_distill.config import EndpointConfig
    from data_distill.teacher import endpoint_model
    from deepsport.agent_config import AgentConfig
    from deepsport.backends.base import GenerationConfig
    from deepsport.cache import DiskCache

    monkeypatch.setenv("OPENAI_API_KEY", "test")
    messages = [{"role": "system", "content": "You are a referee."}, {"role": "user", "content": "Offside?"}]
    with LocalEndpoint(scripted(lambda _: "<answer>no</answer>")) as endpoint:
        cache = DiskCache(tmp_path / "cache.sqlite")
        config = EndpointConfig(model="teacher", base_url=endpoint.url)
        for protocol in ("hermes", "native", "hermes"):
            model = endpoint_model(config, cache, "teacher", AgentConfig(tool_protocol=protocol))
            assert model.chat(messages, GenerationConfig()).text == "<answer>no</answer>"
        assert len(endpoint.requests) == 2  # hermes asked once, native once; the second hermes call was cached
