"""The agent loop driven by recorded model turns (ReplayChatModel) over the real tools and real videos."""

import json

import jsonschema
import pytest

from deepsport.agent import Agent, AgentConfig, Observer
from deepsport.backends.base import BackendError
from deepsport.backends.replay import ReplayChatModel
from deepsport.conversation import restore_images
from deepsport.dev.synthetic import make_video, read_index
from deepsport.prompts import FINAL_PROMPT, NUDGE_PROMPT
from deepsport.schemas import Trajectory, json_schema
from deepsport.tools import Budget
from deepsport.video import Video

CALL = (
    "<think>Look closer.</think>\n<tool_call>\n"
    '{"name": "choose_frames", "arguments": {"start": 2.0, "end": 4.0, "num_frames": 4}}\n</tool_call>'
)
ANSWER = "<think>The number is 7.</think>\n<answer>7</answer>"


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("agent") / "counter.mp4", duration=10.0, fps=10.0)


def run(video, texts, **config):
    return Agent(ReplayChatModel(texts), AgentConfig(**config)).run(video, "What number is shown?")


def roles(trajectory):
    return [m["role"] for m in trajectory.messages]


def test_tool_call_then_answer(video):
    trajectory = run(video, [CALL, ANSWER])
    assert trajectory.answer == "7" and trajectory.stop_reason == "answer"
    assert roles(trajectory) == ["system", "user", "assistant", "tool", "assistant"]
    call = trajectory.tool_calls[0]
    assert call.ok and call.name == "choose_frames" and call.turn == 0
    assert call.frame_times == pytest.approx([2.0, 2.7, 3.3, 4.0])
    assert [(w.start, w.end) for w in trajectory.windows] == [(2.0, 4.0)]
    assert trajectory.frames_used == 8 + 4
    # the initial frames are uniform over the video and labelled with their time
    assert trajectory.frame_times[:8] == pytest.approx([0.6, 1.9, 3.1, 4.4, 5.6, 6.9, 8.1, 9.4], abs=0.051)
    user = trajectory.messages[1]["content"]
    assert sum(block["type"] == "image" for block in user) == 8
    assert user[-1]["text"].endswith("Question: What number is shown?")
    tool = trajectory.messages[3]["content"]
    assert [b["time"] for b in tool if b["type"] == "image"] == pytest.approx(call.frame_times)
    # the system prompt lists the tool with its JSON Schema
    assert '"name": "choose_frames"' in trajectory.messages[0]["content"]


def test_trajectory_json_is_schema_valid_and_round_trips(video):
    trajectory = run(video, [CALL, ANSWER])
    payload = trajectory.model_dump(mode="json")
    jsonschema.validate(payload, json_schema("trajectory"))
    again = Trajectory.model_validate_json(trajectory.model_dump_json())
    assert again.answer == "7" and again.frames_used == 12 and again.messages == trajectory.messages


def test_replayed_messages_get_their_frames_back(video):
    trajectory = run(video, [CALL, ANSWER])
    with Video(video) as opened:
        messages = restore_images(trajectory.messages, lambda t: opened.frames_at([t])[0].image)
    images = [b for m in messages if isinstance(m["content"], list) for b in m["content"] if b["type"] == "image"]
    assert [read_index(b["image"]) for b in images] == [round(b["time"] * 10) for b in images]


def test_malformed_and_unknown_calls_are_answered_and_the_loop_goes_on(video):
    bad_json = '<tool_call>{"name": "choose_frames", "arguments": {"start": 2.0,,}}</tool_call>'
    unknown = '<tool_call>{"name": "zoom_in", "arguments": {"factor": 2}}</tool_call>'
    trajectory = run(video, [bad_json, unknown, ANSWER])
    assert trajectory.answer == "7"
    assert roles(trajectory) == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert "not valid JSON" in trajectory.messages[3]["content"][0]["text"]
    assert "unknown tool 'zoom_in'" in trajectory.messages[5]["content"][0]["text"]
    assert trajectory.turns[0].parse_errors and not trajectory.tool_calls[0].ok


def test_a_model_that_never_answers_gets_a_last_turn_then_stops(video):
    calls = [CALL.replace("2.0", str(float(s))) for s in range(0, 9, 2)]  # always a fresh window, never an answer
    trajectory = run(video, calls, budget=Budget(max_turns=4))
    assert trajectory.answer is None and trajectory.stop_reason == "no_answer"
    assert len(trajectory.turns) == 4 and len(trajectory.tool_calls) == 3  # the last turn's call is not run
    assert roles(trajectory)[-3:] == ["assistant", "tool", "assistant"]  # no extra user turn before the last
    assert trajectory.messages[-2]["content"][-1] == {"type": "text", "text": f"\n{FINAL_PROMPT}"}
    assert sum(FINAL_PROMPT in json.dumps(m) for m in trajectory.messages) == 1


def test_spent_frame_budget_asks_for_the_answer(video):
    trajectory = run(video, [CALL, ANSWER], budget=Budget(total_frames=4))
    assert trajectory.answer == "7"
    assert roles(trajectory) == ["system", "user", "assistant", "tool", "assistant"]
    assert trajectory.messages[3]["content"][-1] == {"type": "text", "text": f"\n{FINAL_PROMPT}"}


def test_one_turn_asks_for_the_answer_with_the_question_and_a_nudge_before_the_last_turn_asks_for_it(video):
    trajectory = run(video, [ANSWER], budget=Budget(max_turns=1))
    assert roles(trajectory) == ["system", "user", "user", "assistant"]
    assert trajectory.messages[2] == {"role": "user", "content": FINAL_PROMPT}
    trajectory = run(video, ["<think>Hmm.</think>", ANSWER], budget=Budget(max_turns=2))
    assert trajectory.messages[3] == {"role": "user", "content": FINAL_PROMPT}


def test_untagged_answer_and_thought_only_turns(video):
    trajectory = run(video, ["<think>Let me think.</think>", "It is seven."])
    assert trajectory.answer == "It is seven." and trajectory.stop_reason == "untagged_answer"
    assert trajectory.messages[3] == {"role": "user", "content": NUDGE_PROMPT}


def test_backend_failure_is_recorded_not_raised(video):
    trajectory = run(video, [CALL])  # the recording ends before an answer: the backend raises
    assert trajectory.stop_reason == "error" and "only 1 turns" in trajectory.error
    assert len(trajectory.tool_calls) == 1


def test_observer_sees_each_step(video):
    seen = []

    class Recorder(Observer):
        def started(self, video, duration, frames):
            seen.append(("started", len(frames)))

        def turn(self, record, parsed):
            seen.append(("turn", record.index))

        def tool(self, record):
            seen.append(("tool", record.name))

    Agent(ReplayChatModel([CALL, ANSWER]), AgentConfig(initial_frames=4)).run(video, "Q?", Recorder())
    assert seen == [("started", 4), ("turn", 0), ("tool", "choose_frames"), ("turn", 1)]


def test_replay_model_raises_backend_error_when_exhausted():
    with pytest.raises(BackendError):
        ReplayChatModel([]).chat([], None)
