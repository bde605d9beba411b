"""The oracle teacher through the real agent loop on a synthetic video: well-formed, grounded, right, replayable."""

import pytest

from data_distill.checks import format_problems, overlaps_evidence
from data_distill.oracle import oracle_trajectory
from deepsport.agent_config import AgentConfig
from deepsport.conversation import restore_images
from deepsport.dev.synthetic import make_video, read_index
from deepsport.schemas import QAItem, Span, Trajectory
from deepsport.scoring import score_answer
from deepsport.tools import Budget
from deepsport.video import Video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("oracle") / "game.mp4", duration=30.0, fps=10.0, size=(160, 120))


def item(**fields):
    base = {
        "id": "q1",
        "video": "games/game.mp4",
        "question": "Which event happens in this clip?",
        "answer": "B",
        "answer_type": "choice",
        "options": ["Corner", "Goal", "Foul"],
        "evidence": Span(start=12.0, end=12.0),
        "metadata": {"label": "Goal"},
    }
    return QAItem(**(base | fields))


def test_oracle_looks_at_the_evidence_and_answers_the_reference(video):
    qa = item()
    trajectory = oracle_trajectory(qa, video)
    assert format_problems(trajectory) == []
    assert trajectory.id == "q1" and trajectory.video == "games/game.mp4" and trajectory.model == "oracle"
    assert [m["role"] for m in trajectory.messages] == ["system", "user", "assistant", "tool", "assistant"]
    (call,) = trajectory.tool_calls
    assert call.name == "choose_frames" and call.ok
    assert call.arguments == {"start": 10.0, "end": 14.0, "num_frames": 8}
    assert min(call.frame_times) <= 12.0 <= max(call.frame_times)
    assert overlaps_evidence(trajectory, qa.evidence)
    assert "Goal" in trajectory.turns[0].think and "Goal" in trajectory.turns[1].think
    assert trajectory.answer == "B" and score_answer(qa, trajectory.answer).value == 1.0
    # the stored record round-trips and its images come back as the frames shown at those times
    restored = Trajectory.model_validate_json(trajectory.model_dump_json())
    assert restored.messages == trajectory.messages
    with Video(video) as opened:
        messages = restore_images(restored.messages, lambda t: opened.frames_at([t])[0].image)
    images = [b for b in messages[3]["content"] if b["type"] == "image"]
    assert [round(read_index(b["image"]) / 10, 1) for b in images] == pytest.approx(call.frame_times, abs=0.051)


def test_the_window_stays_inside_the_video_and_the_budget(video):
    config = AgentConfig(budget=Budget(frames_per_call=8, total_frames=3))
    trajectory = oracle_trajectory(item(evidence=Span(start=27.0, end=29.5), answer="A"), video, config)
    assert format_problems(trajectory) == []
    (call,) = trajectory.tool_calls
    assert call.arguments == {"start": 25.0, "end": 30.0, "num_frames": 3} and len(call.frame_times) == 3
    assert trajectory.answer == "A"


@pytest.mark.parametrize(
    "fields, config",
    [
        ({"evidence": None, "answer": "3", "answer_type": "number", "options": None}, None),
        ({}, AgentConfig(budget=Budget(max_turns=1))),  # no turn left for a tool call
        ({"evidence": Span(start=40.0, end=41.0)}, None),  # evidence past the end of the video
    ],
)
def test_without_a_usable_window_the_oracle_answers_from_the_initial_frames(video, fields, config):
    qa = item(**fields)
    trajectory = oracle_trajectory(qa, video, config)
    assert format_problems(trajectory) == [] and trajectory.tool_calls == []
    assert [m["role"] for m in trajectory.messages if m["role"] != "user"] == ["system", "assistant"]
    assert score_answer(qa, trajectory.answer).value == 1.0


def test_a_drafted_rationale_is_used(video):
    trajectory = oracle_trajectory(item(metadata={"rationale": "The ball crosses the line."}), video)
    assert trajectory.turns[-1].think.endswith("The ball crosses the line.")


def test_evidence_over_most_of_the_video_is_seen_in_the_initial_frames(video):
    qa = item(evidence=Span(start=0.0, end=25.0))
    trajectory = oracle_trajectory(qa, video)
    assert trajectory.tool_calls == [] and overlaps_evidence(trajectory, qa.evidence)
    shorter = item(evidence=Span(start=1.0, end=22.0))  # with context it would cover most; the span itself does not
    (call,) = oracle_trajectory(shorter, video).tool_calls
    assert (call.arguments["start"], call.arguments["end"]) == (1.0, 22.0)
