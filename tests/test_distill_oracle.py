"""The oracle teacher through the real agent loop on a synthetic video: well-formed, grounded, right, replayable."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from shared_data import CLIPS

from data_distill.checks import format_problems, overlaps_evidence
from data_distill.filter import check_job
from data_distill.oracle import oracle_plan, oracle_trajectory
from data_distill.questions import make_item, seconds
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


# --- each tool where it helps: spot_actions on long videos, estimate_pose on technique ------------------------------

needs_clips = pytest.mark.skipif(not CLIPS.is_dir(), reason=f"no real clips at {CLIPS}")


def filter_problems(qa: QAItem, trajectory: Trajectory) -> list:
    """What the distillation's filter finds wrong with the stored trajectory (format, answer, grounding)."""
    return check_job({qa.id: {"trajectory": json.loads(trajectory.model_dump_json())}}, None, 0.7)(qa)["problems"]


def when_item(video: str, label: str, time: float, template: str = "when_event", **fields) -> QAItem:
    """A "when" question as the distillation writes it (template, label, a moment as evidence)."""
    item = make_item(
        template,
        source="test",
        sport="test",
        video=video,
        key=[label, time],
        answer=seconds(time),
        evidence=Span(start=time, end=time),
        metadata={"label": label},
        label=label,
        **fields,
    )
    assert item is not None
    return item


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """64 s (a long video for the oracle), 5 fps; the background flashes white at 37 s."""
    root = tmp_path_factory.mktemp("oracle-long")
    return make_video(root / "long.mp4", duration=64.0, fps=5.0, size=(96, 64), gop=10, flashes=[37.0])


def test_a_when_question_on_a_long_video_spots_then_looks_around_the_spotted_moment(long_video):
    qa = when_item("long.mp4", "flash", 37.0)
    trajectory = oracle_trajectory(qa, long_video)
    assert filter_problems(qa, trajectory) == [] and trajectory.answer == "37.0"
    spot, look = trajectory.tool_calls
    assert spot.name == "spot_actions" and spot.ok and "37.00s" in spot.result
    assert look.name == "choose_frames" and look.ok
    assert look.arguments == {"start": 35.0, "end": 39.0, "num_frames": 8}  # around the time the spotter returned
    assert min(look.frame_times) <= 37.0 <= max(look.frame_times) and overlaps_evidence(trajectory, qa.evidence)
    assert "37.00 s" in trajectory.turns[1].think  # the turn after the spot result names the moment it chose
    assert [m["role"] for m in trajectory.messages][2:] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert score_answer(qa, trajectory.answer).value == 1.0


@pytest.mark.parametrize(
    "time, tools",
    [
        (28.0, None),  # nothing happens near 28 s (the counter's third digit appears at 20 s): no moment near it
        (37.0, ["choose_frames"]),  # spot_actions is not offered
    ],
)
def test_without_a_spotted_moment_near_the_evidence_the_oracle_looks_at_the_evidence(long_video, time, tools):
    qa = when_item("long.mp4", "flash", time)
    (call,) = oracle_trajectory(qa, long_video, AgentConfig(tools=tools)).tool_calls
    assert call.name == "choose_frames" and call.arguments["start"] == time - 2.0


def test_a_when_question_on_a_short_video_looks_at_the_evidence(video):
    (call,) = oracle_trajectory(when_item("game.mp4", "goal", 12.0), video).tool_calls
    assert call.name == "choose_frames" and call.arguments == {"start": 10.0, "end": 14.0, "num_frames": 8}


@pytest.mark.parametrize(
    "tools, budget, plan",
    [
        (None, Budget(), "pose"),
        (["choose_frames"], Budget(), "look"),  # estimate_pose not offered
        (None, Budget(total_frames=1), "look"),  # no room for the skeleton frames
        (None, Budget(max_turns=1), "answer"),
    ],
)
def test_a_technique_question_measures_the_pose_when_it_can(tools, budget, plan):
    qa = when_item("clip.mp4", "right wrist highest", 3.9, template="when_joint_highest", joint="right wrist")
    assert oracle_plan(qa, 20.0, AgentConfig(tools=tools, budget=budget)) == plan
    untagged = qa.model_copy(update={"metadata": {"label": "right wrist highest"}})  # not from a pose template
    assert oracle_plan(untagged, 20.0, AgentConfig(tools=tools, budget=budget)) in {"look", "answer"}


@needs_clips
def test_real_clip_technique_question_measures_the_pose_end_to_end():
    """When a weightlifter's right wrist is highest (hand-labelled 3.9 s: the bar overhead, arms extended)."""
    qa = when_item(
        "weightlifting_snatch.mp4", "right wrist highest", 3.9, template="when_joint_highest", joint="right wrist"
    )
    trajectory = oracle_trajectory(qa, CLIPS / qa.video)
    assert filter_problems(qa, trajectory) == []  # well-formed, right and grounded: kept as SFT data
    (call,) = trajectory.tool_calls
    assert call.name == "estimate_pose" and call.ok
    assert call.arguments == {"start": 1.9, "end": 5.9, "num_frames": 8, "overlay": True}
    found, total = map(int, re.search(r"a person in (\d+) of (\d+) frames", call.result).groups())
    assert total == 8 and found >= 6  # the athlete is measured over the lift
    assert len(call.frame_times) == 8 and call.window.start <= 3.9 <= call.window.end  # the skeleton frames


@pytest.fixture(scope="module")
def joined_clips(tmp_path_factory) -> tuple[Path, float]:
    """Real clips joined into one 72 s video at 320x180, 25 fps (squash, cricket, volleyball, goalkeeper), and the
    time the cricket clip starts in it."""
    parts = ["squash_rally_portrait", "cricket_odi_shot", "volleyball_rally_reel", "goalkeeper_dive_save"]
    out = tmp_path_factory.mktemp("joined") / "joined.mp4"
    fit = "scale=320:180:force_original_aspect_ratio=decrease,pad=320:180:(ow-iw)/2:(oh-ih)/2,fps=25,setsar=1"
    graph = ";".join(f"[{i}:v]{fit}[v{i}]" for i in range(len(parts)))
    graph += ";" + "".join(f"[v{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=1:a=0[v]"
    inputs = [arg for name in parts for arg in ("-i", str(CLIPS / f"{name}.mp4"))]
    command = ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]"]
    subprocess.run([*command, "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", str(out)], check=True)
    with Video(CLIPS / f"{parts[0]}.mp4") as first:
        cricket_start = round(first.info.duration * 25) / 25  # the first clip's frames at 25 fps
    return out, cricket_start


@needs_clips
def test_real_long_video_when_question_spots_then_looks_end_to_end(joined_clips):
    """When the batter hits the ball in the cricket clip (1.95 s into it) inside 72 s of joined real clips."""
    video, cricket_start = joined_clips
    hit = round(cricket_start + 1.95, 2)
    qa = when_item("joined.mp4", "batter's shot", hit)
    trajectory = oracle_trajectory(qa, video)
    assert filter_problems(qa, trajectory) == []
    spot, look = trajectory.tool_calls
    assert spot.name == "spot_actions" and spot.ok
    assert look.name == "choose_frames" and look.ok and look.window is not None
    spotted = float(re.search(r"the one at ([\d.]+) s", trajectory.turns[1].think).group(1))
    assert f"{spotted:.2f}s" in spot.result and abs(spotted - hit) <= 2.0  # a moment the spotter returned
    assert look.window.start <= hit <= look.window.end
