"""Real endpoints' reply shapes through `deepsport ask`: every server behaviour of ``deepsport.dev.endpoint.MODES``
(vLLM with and without its reasoning and tool parsers, the OpenAI API) answers on a real local HTTP server, and
the trajectory comes back in the one Hermes form; native tool calling sends what those servers expect; malformed
replies are recoverable tool errors or one-line errors; ``deepsport serve`` answers in vLLM's shapes."""

import json
import threading
import time
import urllib.request

import pytest
import uvicorn
from typer.testing import CliRunner

from deepsport.agent import Agent, AgentConfig
from deepsport.backends.openai_backend import OpenAIChatModel
from deepsport.backends.replay import ReplayChatModel
from deepsport.cli import app
from deepsport.dev.endpoint import LocalEndpoint, Reply, completion, scripted
from deepsport.dev.synthetic import make_video
from deepsport.parsing import parse_turn
from deepsport.prompts import CUT_PROMPT
from deepsport.serve import create_app
from deepsport.session import turn_requests

LOOK = "The number must be in the middle of the video. Look at 2 to 4 s."
SEEN = "The frames at 2 to 4 s show a 7."
CALL = {"name": "choose_frames", "arguments": {"start": 2.0, "end": 4.0, "num_frames": 2}}
TURNS = [
    f"<think>\n{LOOK}\n</think>\n\n<tool_call>\n{json.dumps(CALL)}\n</tool_call>",
    f"<think>\n{SEEN}\n</think>\n\n<answer>7</answer>",
]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("endpoints") / "n.mp4", duration=6.0, fps=5.0, size=(96, 64))


def by_turn(messages):
    """The scripted model: its turn number is the number of assistant messages so far."""
    return TURNS[sum(m["role"] == "assistant" for m in messages)]


def ask(video, url, *extra):
    args = ["ask", str(video), "What number?", "--backend", "openai", "--base-url", url, "--model", "m"]
    result = CliRunner().invoke(app, [*args, "--initial-frames", "2", "--json", *extra])
    return result


@pytest.mark.parametrize(
    "mode, protocol",
    [
        ("plain", "hermes"),
        ("vllm-reasoning", "hermes"),
        ("vllm-reasoning-0.11", "hermes"),
        ("vllm-tools", "native"),
        ("vllm-thinking-tools", "native"),
        ("openai", "native"),
    ],
)
def test_every_reply_shape_becomes_the_same_hermes_trajectory(video, mode, protocol):
    with LocalEndpoint(scripted(by_turn, mode)) as endpoint:
        result = ask(video, endpoint.url, "--tool-protocol", protocol)
    assert result.exit_code == 0, result.output
    trajectory = json.loads(result.stdout)
    assert trajectory["answer"] == "7" and trajectory["stop_reason"] == "answer"
    call = trajectory["tool_calls"][0]
    assert call["ok"] and call["arguments"] == CALL["arguments"] and call["frame_times"] == [2.0, 4.0]
    thoughts = [turn["think"] for turn in trajectory["turns"]]
    assert thoughts == ([None, None] if mode == "openai" else [LOOK, SEEN])  # the OpenAI API returns no thought
    stored = [m["content"] for m in trajectory["messages"] if m["role"] == "assistant"]
    assert stored == [t["text"] for t in trajectory["turns"]]
    assert parse_turn(stored[0]).tool_calls[0].arguments == CALL["arguments"]  # Hermes <tool_call> text
    if mode != "openai":
        assert stored == TURNS
    second = endpoint.requests[1].body
    if protocol == "hermes":
        assert "tools" not in second and "# Tools" in second["messages"][0]["content"]
        assert f"<think>\n{LOOK}" in second["messages"][2]["content"]  # sent back as stored
        return
    # native: tools=, the call with its id, the result as a tool message, the frames in a user message after it
    assert [t["function"]["name"] for t in second["tools"]][0] == "choose_frames"
    assert "# Tools" not in second["messages"][0]["content"]
    assistant, tool, frames = second["messages"][2:5]
    assert assistant["content"] == "" and LOOK not in json.dumps(second)  # no earlier thought goes back
    assert assistant["tool_calls"][0]["id"] == "call_0_0" and assistant["tool_calls"][0]["function"] == {
        "name": "choose_frames",
        "arguments": json.dumps(CALL["arguments"]),
    }
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_0_0" and tool["content"].startswith("2 frames")
    assert frames["role"] == "user" and frames["content"][0]["text"] == "\nFrames returned by call_0_0:\n2.00s: "
    assert [p["type"] for p in frames["content"]] == ["text", "image_url", "text", "image_url"]


def test_frames_inside_tool_messages_for_vllm_and_refused_by_openai(video):
    with LocalEndpoint(scripted(by_turn, "vllm-tools")) as endpoint:
        result = ask(video, endpoint.url, "tool_protocol=native", "tool_images=tool")
    assert result.exit_code == 0, result.output
    tool = endpoint.requests[1].body["messages"][3]
    assert tool["role"] == "tool" and [p["type"] for p in tool["content"]] == ["text", "image_url"] * 2
    assert len(endpoint.requests[1].body["messages"]) == 4  # no user message for the frames
    with LocalEndpoint(scripted(by_turn, "openai")) as endpoint:
        result = ask(video, endpoint.url, "tool_protocol=native", "tool_images=tool")
    assert result.exit_code == 1 and "answered 400: Image URLs are only allowed" in result.output
    assert "Traceback" not in result.output


def native(*calls, content=None, reasoning=None, finish="tool_calls"):
    message = {"role": "assistant", "content": content, "reasoning": reasoning, "tool_calls": list(calls)}
    payload = completion("")
    payload["choices"][0] |= {"message": message, "finish_reason": finish}
    return Reply(payload=payload)


def function(name, arguments, **extra):
    return {"id": "chatcmpl-tool-1", "type": "function", "function": {"name": name, "arguments": arguments}, **extra}


def run_agent(video, replies, **config):
    """The agent against an endpoint answering `replies` in order; returns the trajectory and the requests."""
    with LocalEndpoint(lambda body, n: replies[n]) as endpoint:
        model = OpenAIChatModel("m", endpoint.url, max_retries=0, tool_protocol="native")
        trajectory = Agent(model, AgentConfig(initial_frames=2, **config)).run(video, "What number?")
    return trajectory, [r.body for r in endpoint.requests]


def test_malformed_native_calls_are_recoverable_tool_errors(video):
    good = {"start": 2.0, "end": 4.0, "num_frames": 2}
    bad = native(
        function("choose_frames", '{"start": 2.0, "end": '),  # arguments cut mid-JSON
        function("zoom_in", "{}"),  # no such tool
        {"type": "function", "function": {"arguments": "{}"}},  # no name, no id
        {"type": "function", "function": {"name": "choose_frames", "arguments": json.dumps(good)}},  # no id: fine
    )
    answer = native(content="<answer>7</answer>", finish="stop")
    trajectory, requests = run_agent(video, [bad, answer])
    assert trajectory.answer == "7"
    turn = trajectory.turns[0]
    assert len(turn.parse_errors) == 2 and "arguments of choose_frames are not a JSON object" in turn.parse_errors[0]
    assert 'needs a "name" string' in turn.parse_errors[1]
    assert [(c.name, c.ok) for c in trajectory.tool_calls] == [("zoom_in", False), ("choose_frames", True)]
    assert "unknown tool 'zoom_in'" in trajectory.tool_calls[0].result
    # one tool message per call, in the order called, each answering its id
    sent = requests[1]["messages"]
    ids = [c["id"] for c in sent[2]["tool_calls"]]
    tools = [m for m in sent if m["role"] == "tool"]
    assert ids == [f"call_0_{k}" for k in range(4)] == [m["tool_call_id"] for m in tools]
    assert tools[0]["content"].startswith("Error: the arguments of choose_frames are not a JSON object")
    assert tools[1]["content"].startswith("Error: unknown tool 'zoom_in'") and tools[3]["content"].startswith("2 ")
    assert sent[2]["tool_calls"][2]["function"]["name"] == "invalid_tool_call"


def test_empty_and_cut_replies_are_nudged_and_a_bad_tool_calls_field_is_one_line(video):
    empty = native(finish="stop")
    cut = native(reasoning="Let me think about every frame one by one, first the", finish="length")
    answer = native(content="<answer>7</answer>", finish="stop")
    trajectory, requests = run_agent(video, [empty, cut, answer])
    assert trajectory.answer == "7" and [t.finish_reason for t in trajectory.turns] == ["stop", "length", "stop"]
    assert trajectory.turns[1].think == "Let me think about every frame one by one, first the"
    assert requests[1]["messages"][-1]["content"].startswith("Call a tool, or give your final answer")
    assert requests[2]["messages"][-1]["content"] == CUT_PROMPT  # the model is told its reply was cut
    broken = completion("")
    broken["choices"][0]["message"]["tool_calls"] = "choose_frames"
    trajectory, _ = run_agent(video, [Reply(payload=broken)])
    assert trajectory.stop_reason == "error" and "\n" not in trajectory.error
    assert "malformed reply: tool_calls must be a list, got str" in trajectory.error


class Recording(ReplayChatModel):
    """Recorded turns, keeping the conversations the server handed the model."""

    def __init__(self, texts):
        super().__init__(texts, name="m")
        self.seen = []

    def chat(self, messages, config):
        self.seen.append(messages)
        return super().chat(messages, config)


@pytest.fixture
def serve_url():
    """``deepsport serve --split-reasoning`` (its app on uvicorn) over a recording of ``TURNS``."""
    model = Recording(TURNS)
    server = uvicorn.Server(uvicorn.Config(create_app(model, split_reasoning=True), port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1", model
    server.should_exit = True
    thread.join(timeout=10)


def test_deepsport_serve_answers_in_vllm_shapes(video, serve_url):
    url, model = serve_url
    result = ask(video, url, "--tool-protocol", "native")
    assert result.exit_code == 0, result.output
    trajectory = json.loads(result.stdout)
    assert [t["text"] for t in trajectory["turns"]] == TURNS and trajectory["answer"] == "7"
    # the model read the native request back in Hermes form: tools in the system text, its call as <tool_call>
    system, _, assistant, tool, frames = model.seen[1]
    assert "<tools>" in system["content"] and "choose_frames" in system["content"]
    assert assistant == {"role": "assistant", "content": f"<tool_call>\n{json.dumps(CALL)}\n</tool_call>"}
    assert tool["role"] == "tool" and frames["role"] == "user"
    # the raw reply: the thought in `reasoning`, the call in `tool_calls`
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}
    model.position = 0
    request = urllib.request.Request(f"{url}/chat/completions", json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    choice = json.load(urllib.request.urlopen(request))["choices"][0]
    message = choice["message"]
    assert choice["finish_reason"] == "tool_calls" and message["reasoning"] == LOOK and message["content"] is None
    assert message["tool_calls"][0]["id"].startswith("chatcmpl-tool-")
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == CALL["arguments"]


def test_requests_answer_each_call_in_the_order_written():
    """One reply per <tool_call>, in order (a native endpoint pairs them with its call ids): calls, parse errors
    where they stand, and a refusal for each call past the per-turn limit."""
    call = '<tool_call>{"name": "choose_frames", "arguments": {"start": %d}}</tool_call>'
    text = call % 1 + "<tool_call>{oops</tool_call>" + call % 2 + call % 3
    requests = turn_requests(parse_turn(text), limit=2)
    assert [r if isinstance(r, str) else r.arguments["start"] for r in requests][::2] == [1, 2]
    assert "not valid JSON" in requests[1] and requests[3] == (
        "only 2 tool calls run per turn; this one (choose_frames) did not run."
    )
