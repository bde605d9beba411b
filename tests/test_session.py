"""One Session per question: the agent and the GRPO environment record the same trajectory through it."""

import json

import pytest

from deepsport.agent import Agent, AgentConfig
from deepsport.backends.base import Completion
from deepsport.backends.replay import ReplayChatModel
from deepsport.config import load_config
from deepsport.dev.synthetic import make_video
from deepsport.parsing import parse_turn
from deepsport.schemas import QAItem
from deepsport.session import Session, final_answer, tool_message
from deepsport.spotting.model import CheckpointError
from deepsport.tools import Budget, Episode, Toolbox
from rl.env import environment_factory, rollout_message, rollout_trajectory

QUESTION = "What number is shown?"
ARGS = {"start": 2.0, "end": 4.0, "num_frames": 4}


def call(start: float, end: float) -> str:
    arguments = json.dumps({**ARGS, "start": start, "end": end})
    return (
        f'<think>Look closer.</think>\n<tool_call>\n{{"name": "choose_frames", "arguments": {arguments}}}\n</tool_call>'
    )


CALL = call(2.0, 4.0)
ANSWER = "<think>The number is 7.</think>\n<answer>7</answer>"
RECORDED = ("turns", "tool_calls", "windows", "frame_times", "answer", "stop_reason", "video_duration", "question")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("session") / "counter.mp4", duration=10.0, fps=10.0)


def recorded(trajectory) -> dict:
    """What a run recorded, without what differs between any two runs (ids, clocks)."""
    data = trajectory.model_dump(mode="json", include=set(RECORDED))
    for call in data["tool_calls"]:
        call.pop("seconds")
    return data


def agent_run(video, texts, **config):
    return Agent(ReplayChatModel(texts), AgentConfig(**config), backend="replay").run(video, QUESTION)


def rollout_environment(video, settings: AgentConfig, item_id: str = "q1"):
    """A GRPO environment reset on `video` (its folder is the video root), as TRL makes one per rollout."""
    environment = environment_factory(settings, video.parent)()
    environment.reset(qa=QAItem(id=item_id, video=video.name, question=QUESTION, answer="7").model_dump_json())
    return environment


def run_like_trl(environment, texts: list[str], max_turns: int) -> list[list[dict]]:
    """What TRL's tool loop does with generated turns, with rl.grpo's parser in place: the requests of each turn
    but the last allowed one go to the environment's method, in order; returns the tool messages' contents."""
    replies = []
    for text in texts[: max_turns - 1]:
        calls = rollout_message(text, AgentConfig().max_calls_per_turn).get("tool_calls", [])
        if not calls:
            break  # TRL ends the rollout at a turn without tool calls
        for call in calls:
            replies.append(getattr(environment, call["function"]["name"])(**call["function"]["arguments"]))
    return replies


def spy_on_close(monkeypatch) -> list[str]:
    """What gets closed, in order: "tools" (the Toolbox) and "video" (the Episode)."""
    closed: list[str] = []

    def spy(cls, name: str) -> None:
        close = cls.close

        def recorded(self) -> None:
            closed.append(name)
            close(self)

        monkeypatch.setattr(cls, "close", recorded)

    spy(Toolbox, "tools")
    spy(Episode, "video")
    return closed


def test_driving_a_session_by_hand_records_what_the_agent_records(video):
    with Session(video, QUESTION, AgentConfig()) as session:
        session.record_turn(Completion(CALL, prompt_tokens=0, completion_tokens=0))
        result, record = session.call(0, "choose_frames", ARGS)
        session.messages.append(tool_message(result))
        session.record_turn(Completion(ANSWER, prompt_tokens=0, completion_tokens=0))
        by_hand = session.finish("replay", "replay")
    by_agent = agent_run(video, [CALL, ANSWER])
    assert record == by_hand.tool_calls[0] and record.turn == 0 and record.ok
    assert recorded(by_hand) == recorded(by_agent)
    assert by_hand.messages == by_agent.messages and by_hand.config == by_agent.config
    assert [(w.start, w.end) for w in by_hand.windows] == [(2.0, 4.0)]  # the whole-video glance is not recorded


@pytest.mark.parametrize(
    ("texts", "stop_reason", "answer"),
    [
        ([CALL, ANSWER], "answer", "7"),
        (["<think>Let me think.</think>", "It is seven."], "untagged_answer", "It is seven."),
        ([CALL, call(6.0, 8.0), "<think>I cannot tell.</think>"], "no_answer", None),
    ],
    ids=["answer", "untagged", "out of turns"],
)
def test_the_grpo_rollout_and_the_agent_record_the_same_trajectory(video, texts, stop_reason, answer):
    budget = Budget(max_turns=3)
    settings = AgentConfig(initial_frames=8, budget=budget, tools=["choose_frames"])
    environment = rollout_environment(video, settings)
    run_like_trl(environment, texts, budget.max_turns)
    from_rollout = rollout_trajectory(environment, texts, "policy")
    from_agent = Agent(ReplayChatModel(texts), settings, backend="replay").run(video, QUESTION)
    assert (from_rollout.stop_reason, from_rollout.answer) == (from_agent.stop_reason, from_agent.answer)
    assert (from_rollout.stop_reason, from_rollout.answer) == (stop_reason, answer)
    assert recorded(from_rollout) == recorded(from_agent)
    named = from_rollout.model_dump(include={"id", "video", "backend", "messages"})
    assert named == {"id": "q1", "video": video.name, "backend": "trl", "messages": []}


MALFORMED = '<tool_call>{"name": "choose_frames", "arguments": {"start": 2.0,</tool_call>'
UNKNOWN = '<tool_call>{"name": "zoom_in", "arguments": {"factor": 2}}</tool_call>'
FIVE = "".join(
    f'<tool_call>{{"name": "choose_frames", "arguments": {json.dumps({**ARGS, "start": s})}}}</tool_call>'
    for s in (0.0, 1.0, 2.0, 3.0, 4.0)
)


@pytest.mark.parametrize(
    ("texts", "budget"),
    [
        ([UNKNOWN, CALL, ANSWER], Budget(max_turns=4)),
        ([MALFORMED, CALL, ANSWER], Budget(max_turns=4)),
        ([FIVE, ANSWER], Budget(max_turns=3, frames_per_call=4, total_frames=32)),
        ([CALL + CALL.replace("2.0", "5.0"), ANSWER], Budget(max_turns=4, frames_per_call=4, total_frames=8)),
        ([CALL, call(6.0, 8.0), ANSWER], Budget(max_turns=4, frames_per_call=4, total_frames=4)),
    ],
    ids=["unknown tool", "malformed call", "five calls in a turn", "budget spent in a turn", "call after budget"],
)
def test_rollouts_follow_the_agents_turn_rule(video, texts, budget):
    """One parser and one turn rule: the replies a rollout gets and what it records are the agent's."""
    settings = AgentConfig(initial_frames=2, budget=budget, tools=["choose_frames"])
    environment = rollout_environment(video, settings)
    replies = run_like_trl(environment, texts, budget.max_turns)
    from_rollout = rollout_trajectory(environment, texts)
    from_agent = Agent(ReplayChatModel(texts), settings, backend="replay").run(video, QUESTION)
    assert recorded(from_rollout) == recorded(from_agent)
    agent_replies = [m["content"] for m in from_agent.messages if m["role"] == "tool"]
    strip = [[{k: v for k, v in block.items() if k != "image"} for block in reply] for reply in replies]
    assert strip[: len(agent_replies)] == agent_replies


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>x</think><answer> 7 </answer>", ("7", "answer")),
        (CALL + "\n<answer>7</answer>", ("7", "answer")),
        ("It is seven.", ("It is seven.", "untagged_answer")),
        (CALL + "\nI think it is seven.", (None, "no_answer")),  # text beside a call is not an answer
        ("<think>Only thinking.</think>", (None, "no_answer")),
    ],
)
def test_the_stop_reason_is_read_from_the_last_turn_in_one_place(video, text, expected):
    assert final_answer(parse_turn(text)) == expected
    with Session(video, QUESTION, AgentConfig(tools=[])) as session:
        assert session.finish("m", "b").stop_reason == "no_answer"  # no turn yet
        session.record_turn(Completion(text, prompt_tokens=0, completion_tokens=0))
        finished = session.finish("m", "b")
        failed = session.finish("m", "b", error="the endpoint timed out")
    assert (finished.answer, finished.stop_reason) == expected
    assert (failed.answer, failed.stop_reason, failed.error) == (None, "error", "the endpoint timed out")


def test_tool_options_reach_the_tool(video, tmp_path, monkeypatch):
    missing = tmp_path / "missing.pt"
    with pytest.raises(CheckpointError, match="missing.pt"):
        Session(video, QUESTION, AgentConfig(tool_options={"spot_actions": {"checkpoint": str(missing)}}))
    config_file = tmp_path / "agent.yaml"
    config_file.write_text("tools: [spot_actions]\ntool_options:\n  spot_actions: {checkpoint: spotter.pt}\n")
    config = load_config(AgentConfig, config_file)
    assert config.tool_options == {"spot_actions": {"checkpoint": "spotter.pt"}}
    loaded = []
    monkeypatch.setattr("deepsport.tools.spot.make_spotter", lambda checkpoint: loaded.append(checkpoint))
    with Session(video, QUESTION, config):
        assert loaded == ["spotter.pt"]
    with Session(video, QUESTION, AgentConfig(tools=["spot_actions"])):
        assert loaded == ["spotter.pt", None]  # no option: the training-free spotter


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"spot_actions": {"checkpiont": "x.pt"}},
            "spot_actions has no option 'checkpiont'; its options: checkpoint, text_model",
        ),
        ({"choose_frames": {"fps": 2}}, "choose_frames has no option 'fps'; it takes no options"),
        ({"spot_action": {"checkpoint": "x.pt"}}, "unknown tool 'spot_action'; available: choose_frames, "),
    ],
)
def test_an_unknown_tool_option_is_a_one_line_error_and_the_video_is_closed(video, monkeypatch, options, message):
    closed = spy_on_close(monkeypatch)
    with pytest.raises(ValueError) as raised:
        Session(video, QUESTION, AgentConfig(tool_options=options))
    assert str(raised.value).startswith(f"tool_options: {message}") and "\n" not in str(raised.value)
    assert closed == ["video"]
    episode = Episode.open(video)
    with pytest.raises(ValueError, match=message.split(";")[0]):
        Toolbox(episode, [], options)  # checked even for tools not offered
    episode.close()


def test_leaving_a_session_closes_the_tools_then_the_video(video, monkeypatch):
    closed = spy_on_close(monkeypatch)
    with Session(video, QUESTION, AgentConfig()) as session:
        assert [m["role"] for m in session.messages] == ["system", "user"] and len(session.frames) == 8
    assert closed == ["tools", "video"]
