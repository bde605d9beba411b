"""Pose on broadcast footage: every athlete found, tracked and posed; nobody claimed where nobody is; the `person`
choice; MediaPipe's native log lines kept off the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shared_data import CLIPS

from deepsport.dev.synthetic import make_video
from deepsport.pose.kinematics import PoseFrame
from deepsport.pose.report import TOO_SMALL, row, to_json
from deepsport.pose.tracking import Person, choose, parse_person
from deepsport.video import Video

pytest.importorskip("mediapipe")
from deepsport.pose.people import PeopleEstimator  # noqa: E402  (needs MediaPipe)
from deepsport.tools.pose import MOTION_FRAMES, POSE_PIXELS  # noqa: E402


def people_in(path: Path, start: float, end: float, count: int = 8) -> list[list[Person]]:
    """The people in `count` frames over [start, end], as the tool samples them."""
    with Video(path, max_pixels=POSE_PIXELS) as video:
        frames = video.window(start, end, count)
        references = video.frames_at([f.time - MOTION_FRAMES / video.info.fps for f in frames])
        estimator = PeopleEstimator()
        try:
            return estimator.estimate(frames, references)
        finally:
            estimator.close()


def clip(name: str) -> Path:
    path = CLIPS / f"{name}.mp4"
    if not path.exists():
        pytest.skip("../shared/clips is absent")
    return path


def test_broadcast_tennis_finds_the_players_in_most_frames():
    people = people_in(clip("tennis_rally_montecarlo"), 0.2, 5.5)
    assert sum(bool(found) for found in people) >= 6  # of 8 (the target: 70%)
    posed = [p for found in people for p in found if p.pose.found]
    assert len(posed) >= 4 and all(p.pose.frame_size == (1920, 1080) for p in posed)
    # the near player (red shirt, bottom half) is posed with most keypoints seen
    assert any(p.box[1] > 540 and (p.pose.visibility >= 0.5).sum() >= 20 for p in posed)


def test_broadcast_soccer_finds_several_players_per_frame():
    people = people_in(clip("soccer_broadcast_wide"), 0.5, 6.5)
    counts = [len(found) for found in people]
    assert sum(c > 0 for c in counts) >= 6 and np.median(counts) >= 2
    boxes = [p.box for found in people for p in found]
    heights = [b[3] - b[1] for b in boxes]
    assert max(heights) < 0.3 * 478  # players, not the stands or the whole pitch
    assert len({p.id for found in people for p in found}) < sum(counts)  # some keep their id from frame to frame


def test_nobody_claimed_on_an_end_card_or_synthetic_video(tmp_path):
    assert people_in(clip("badminton_olympics2012"), 17.5, 20.2) == [[]] * 8
    moving = make_video(tmp_path / "v.mp4", duration=4.0, fps=25.0, size=(640, 360), objects=[1.0], texture=True)
    assert people_in(moving, 0.5, 3.9) == [[]] * 8  # a white square sliding in, digits and a barcode changing


def test_a_person_too_small_to_pose_is_a_box_in_the_table_and_json():
    box = np.array([100.0, 50.0, 110.0, 80.0])
    small = PoseFrame(time=1.0, frame_size=(200, 100), box=box)
    cells = row(small)
    assert cells[:4] == ["1.00s", "0.50-0.55,0.50-0.80", "0/33", TOO_SMALL]
    assert to_json(small) == {"time": 1.0, "found": False, "frame_size": [200, 100], "box": box.tolist()}


def test_choosing_a_person():
    def person(number: int, box: list[float]) -> Person:
        return Person(number, PoseFrame(time=0.0, frame_size=(100, 100), box=np.array(box)))

    frames = [[person(1, [0, 0, 10, 20]), person(2, [40, 40, 90, 95])], [person(1, [0, 0, 10, 20])]]
    assert choose(frames, 1) == 1 and choose(frames, 3) is None
    assert choose(frames, "largest") == 2
    assert choose(frames, [0.0, 0.0, 0.2, 0.2]) == 1 and choose(frames, [0.95, 0.95, 1.0, 1.0]) is None
    assert parse_person("2") == 2 and parse_person("largest") == "largest"
    assert parse_person("0.1,0.2,0.3,0.4") == [0.1, 0.2, 0.3, 0.4]
    with pytest.raises(ValueError, match='an id, "largest" or a box'):
        parse_person("tallest")


def test_mediapipe_log_lines_do_not_reach_the_terminal(tmp_path):
    video = make_video(tmp_path / "v.mp4", duration=2.0, fps=10.0)
    result = subprocess.run(
        [sys.executable, "-m", "deepsport", "pose", str(video), "--start", "0", "--end", "1.5", "-n", "4"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "A person in 0 of 4 frames" in result.stdout
    for line in result.stderr.splitlines():  # what may remain: the progress display, cleared
        assert not line.strip() or line.startswith("\x1b"), line


def test_the_tool_lists_several_people_and_follows_one():
    from deepsport.tools import Episode, Toolbox

    box = Toolbox(Episode.open(clip("tennis_rally_montecarlo")), ["estimate_pose"])
    result, _ = box.call("estimate_pose", {"start": 2.0, "end": 2.3, "num_frames": 4})
    assert result.ok and result.text.startswith("Pose from 2.00s to 2.30s: people in 4 of 4 frames, up to ")
    header = result.text.splitlines()[2]
    assert header.startswith("person | time | box x,y | seen")
    rows = [line.split(" | ") for line in result.text.splitlines()[3:] if line[0].isdigit()]
    ids = {int(r[0]) for r in rows}
    assert len(ids) >= 2 and all(r[3].endswith("/33") for r in rows)
    # the near player (bottom half of the frame) is the largest; following them gives the single-athlete table
    largest, _ = box.call("estimate_pose", {"start": 2.0, "end": 2.3, "num_frames": 4, "person": "largest"})
    assert largest.ok and largest.text.startswith("Pose from 2.00s to 2.30s: person ")
    lines = largest.text.splitlines()
    assert lines[2].startswith("time | box x,y") and len(lines) == 7
    boxes = [line.split(" | ")[1] for line in lines[3:] if "nobody" not in line]
    assert boxes and all(float(b.split(",")[1].split("-")[0]) > 0.5 for b in boxes)
    followed = int(largest.text.split("person ")[1].split(" ")[0])
    again, _ = box.call("estimate_pose", {"start": 2.0, "end": 2.3, "num_frames": 4, "person": followed})
    assert again.ok and again.text.splitlines()[3:] == lines[3:]
