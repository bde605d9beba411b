"""The estimate_pose tool through the Toolbox and the agent, and the ``deepsport pose`` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shared_data import CLIPS
from typer.testing import CliRunner

from deepsport.agent import Agent, AgentConfig
from deepsport.backends.replay import ReplayChatModel
from deepsport.cli import app
from deepsport.dev.synthetic import make_video, read_index
from deepsport.pose.report import COLUMNS, NOBODY
from deepsport.tools import Budget, Episode, Toolbox

GOALKEEPER = CLIPS / "goalkeeper_dive_save.mp4"  # 13.1 s, 10 fps, one goalkeeper in view
needs_clip = pytest.mark.skipif(not GOALKEEPER.exists(), reason="../shared/clips is absent")
pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def counter(tmp_path_factory) -> Path:
    """10 s at 10 fps of numbered frames: no person anywhere."""
    return make_video(tmp_path_factory.mktemp("pose_tool") / "counter.mp4", duration=10.0, fps=10.0)


def toolbox(path: Path, **budget) -> Toolbox:
    return Toolbox(Episode.open(path, Budget(**budget)), ["estimate_pose"])


def table(text: str) -> list[dict[str, str]]:
    """The rows of the tool's table as {column: cell}."""
    lines = text.splitlines()
    start = lines.index(" | ".join(COLUMNS)) + 1
    return [dict(zip(COLUMNS, line.split(" | "), strict=False)) for line in lines[start:]]


def test_offered_to_the_agent_with_its_schema(counter):
    box = Toolbox(Episode.open(counter))
    assert "estimate_pose" in box.tools
    schema = next(s for s in box.schemas() if s["function"]["name"] == "estimate_pose")
    assert set(schema["function"]["parameters"]["properties"]) == {
        "time",
        "start",
        "end",
        "num_frames",
        "overlay",
        "person",
    }


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({}, "give either `time` (one moment) or `start` and `end`"),
        ({"time": 1.0, "start": 1.0, "end": 2.0}, "give either `time`"),
        ({"start": 1.0}, "a window needs both `start` and `end`"),
        ({"time": 1.0, "num_frames": 4}, "`num_frames` goes with a window"),
        ({"time": 12.0}, "time (12 s) is beyond the end of the video (10.00 s)"),
        ({"start": 11.0, "end": 12.0}, "start (11 s) is beyond the end of the video"),
        ({"start": 4.0, "end": 2.0}, "end (2 s) is before start (4 s)"),
        ({"start": 1.0, "end": 2.0, "num_frames": 100}, "num_frames: 100 is greater than the maximum of 32"),
        ({"time": -1.0}, "time: -1.0 is less than the minimum of 0"),
        ({"time": 1.0, "overlay": "yes"}, "overlay: 'yes' is not of type 'boolean'"),
        ({"time": 1.0, "people": 2}, "Additional properties are not allowed ('people' was unexpected)"),
        ({"time": 1.0, "person": 0}, "person: 0 is not valid under any of the given schemas"),
        ({"time": 1.0, "person": "smallest"}, "person: 'smallest' is not valid under any of the given schemas"),
        ({"time": 1.0, "person": 2}, "no person 2 in these frames: nobody was found in these frames."),
        ({"time": 1.0, "person": [0.5, 0.1, 0.2, 0.9]}, "a person's box is x0 < x1 and y0 < y1"),
    ],
)
def test_bad_arguments_come_back_as_readable_errors(counter, arguments, message):
    result, _ = toolbox(counter).call("estimate_pose", arguments)
    assert not result.ok and result.text.startswith("Error: ") and message in result.text
    assert result.frames == []


def test_nobody_in_a_video_without_people(counter):
    result, _ = toolbox(counter).call("estimate_pose", {"start": 1.0, "end": 3.0, "num_frames": 5})
    assert result.ok and result.text.startswith("Pose from 1.00s to 3.00s: a person in 0 of 5 frames")
    assert "nobody found" in result.text.splitlines()[0] and "choose_frames" in result.text.splitlines()[0]
    rows = table(result.text)
    assert [r["time"] for r in rows] == ["1.00s", "1.50s", "2.00s", "2.50s", "3.00s"]
    assert all(r["box x,y"] == NOBODY for r in rows)
    assert result.window.start == 1.0 and result.window.end == 3.0


def test_overlays_count_against_the_frame_budget(counter):
    box = toolbox(counter, frames_per_call=4, total_frames=6)
    first, _ = box.call("estimate_pose", {"start": 0.0, "end": 9.0, "num_frames": 10, "overlay": True})
    assert first.ok and "4 frames, the most one call may use" in first.text
    assert [read_index(f.image) for f in first.frames] == [0, 30, 60, 90]  # nobody: the frames are unchanged
    second, _ = box.call("estimate_pose", {"start": 1.0, "end": 2.0, "num_frames": 4, "overlay": True})
    assert len(second.frames) == 2 and "2 frames, what is left of the frame budget for overlays" in second.text
    assert len(table(second.text)) == 2
    spent, _ = box.call("estimate_pose", {"start": 5.0, "end": 6.0, "num_frames": 3, "overlay": True})
    assert spent.ok and spent.frames == [] and "no overlay: the frame budget is spent" in spent.text
    assert len(table(spent.text)) == 3  # the numbers still come
    numbers, _ = box.call("estimate_pose", {"start": 5.0, "end": 6.0, "num_frames": 3})  # no overlay: no budget
    assert numbers.ok and box.episode.frames_returned == 6


@needs_clip
def test_pose_over_a_window_with_skeleton_overlays():
    box = toolbox(GOALKEEPER, frames_per_call=8, total_frames=32)
    result, _ = box.call("estimate_pose", {"start": 2.0, "end": 2.6, "num_frames": 4, "overlay": True})
    assert result.ok and result.text.startswith("Pose from 2.00s to 2.60s: a person in 4 of 4 frames.")
    rows = table(result.text)
    assert [r["time"] for r in rows] == ["2.00s", "2.20s", "2.40s", "2.60s"]
    assert len(rows[0]) == 8 and rows[0]["seen"].endswith("/33")  # no velocities for the first frame
    assert all(len(r) == len(COLUMNS) for r in rows[1:])  # velocities from the second frame on
    assert all(r["fastest turn"].endswith("°/s") for r in rows[1:])
    assert box.episode.frames_returned == 4 and [f.time for f in result.frames] == pytest.approx([2.0, 2.2, 2.4, 2.6])
    raw = box.episode.video.frames_at([2.0])[0].image
    drawn = np.asarray(result.frames[0].image, dtype=int)
    changed = np.abs(drawn - np.asarray(raw, dtype=int)).sum(axis=2) > 60
    assert 0.002 < changed.mean() < 0.2  # a skeleton drawn over the frame, which itself is left untouched
    assert len(result.text) < 1500  # compact numbers, not 33 landmarks per frame


@needs_clip
def test_pose_at_one_moment_has_velocities():
    result, _ = toolbox(GOALKEEPER).call("estimate_pose", {"time": 2.5})
    assert result.ok and result.text.startswith("Pose at 2.50s: a person in 1 of 1 frame.") and not result.frames
    (row,) = table(result.text)
    assert row["time"] == "2.50s" and row["centre v"].count(",") == 1 and row["fastest turn"].endswith("°/s")


def test_the_agent_calls_it_and_reads_the_table(counter):
    call = '<tool_call>\n{"name": "estimate_pose", "arguments": {"time": 2.0}}\n</tool_call>'
    model = ReplayChatModel([call, "<answer>nobody</answer>"])
    trajectory = Agent(model, AgentConfig(initial_frames=2)).run(counter, "Who is there?")
    assert '"name": "estimate_pose"' in trajectory.messages[0]["content"]
    (record,) = trajectory.tool_calls
    assert record.ok and record.name == "estimate_pose" and "a person in 0 of 1 frame" in record.result
    assert trajectory.answer == "nobody"


def test_not_offered_without_mediapipe(counter, monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # what Python does when a package is not installed
    episode = Episode.open(counter)
    assert list(Toolbox(episode).tools) == ["choose_frames", "spot_actions"]
    with pytest.raises(ValueError, match=r'estimate_pose cannot run: .*pip install -e "\.\[pose\]"'):
        Toolbox(episode, ["estimate_pose"])
    result = CliRunner().invoke(app, ["pose", str(counter), "--start", "1", "--end", "2"])
    assert result.exit_code == 1 and 'install it with: pip install -e ".[pose]"' in result.stderr
    assert "Traceback" not in result.output


# --- the command -----------------------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(app, ["pose", *(str(a) for a in args)], terminal_width=200)


@needs_clip
def test_cli_table_json_and_overlays(tmp_path):
    result = run(GOALKEEPER, "--start", 3.8, "--end", 4.2, "-n", 3, "--overlay", tmp_path / "ov")
    assert result.exit_code == 0, result.output
    assert "A person in 3 of 3 frames" in result.stdout and "fastest turn" in result.stdout
    files = sorted((tmp_path / "ov").glob("*.jpg"))
    assert [f.name for f in files] == ["pose_00003.800s.jpg", "pose_00004.000s.jpg", "pose_00004.200s.jpg"]
    assert Image.open(files[0]).size == (640, 306)
    result = run(GOALKEEPER, "--start", 3.8, "--end", 4.2, "-n", 3, "--json")
    records = json.loads(result.stdout)
    assert [r["time"] for r in records] == [3.8, 4.0, 4.2] and all(r["found"] for r in records)
    assert len(records[0]["keypoints"]) == 33 and "velocity" not in records[0] and records[1]["dt"] == 0.2
    assert max(abs(r["angles"]["trunk_lean"]) for r in records) > 60  # the goalkeeper lies in the dive


def test_cli_nobody_found_and_errors(counter, tmp_path):
    result = run(counter, "--start", 1, "--end", 2, "-n", 2, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == [
        {"time": 1.0, "found": False},
        {"time": 2.0, "found": False},
    ]
    result = run(counter, "--start", 20, "--end", 30)
    assert result.exit_code == 1 and "beyond the end of the video (10.00 s)" in result.stderr
    result = run(tmp_path / "missing.mp4", "--start", 0, "--end", 1)
    assert result.exit_code == 1 and "Video not found" in result.stderr and "Traceback" not in result.output
