"""Pose: the kinematics maths on hand-made keypoints (exact), and MediaPipe on synthetic and real videos."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from shared_data import CLIPS

from deepsport.dev.synthetic import make_video
from deepsport.pose.kinematics import (
    ANGLES,
    INDEX,
    LANDMARKS,
    angles,
    bounding_box,
    box_size,
    joint_angle,
    measure,
    normalize_to_box,
    trunk_lean,
)
from deepsport.pose.report import COLUMNS, NOBODY, row, table_text, to_json
from deepsport.video import Video

# the clips where one athlete fills the view (../shared/clips/SOURCES.md); cricket, badminton and volleyball show
# several players and cut between shots, the two broadcasts show players too small for the detector
SINGLE_ATHLETE = ["goalkeeper_dive_save", "squash_rally_portrait", "tennis_coach_talking", "weightlifting_snatch"]


def skeleton(**moved: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A person standing upright facing the camera, in pixels (y down), every keypoint seen: arms hanging straight,
    legs straight; the face and hand landmarks sit on the nose. Keyword arguments move keypoints, e.g.
    right_wrist=(x, y)."""
    points = np.tile([100.0, 60.0], (len(LANDMARKS), 1))
    for side, x in (("left", 120.0), ("right", 80.0)):
        for name, y in (("shoulder", 100), ("elbow", 150), ("wrist", 200), ("hip", 200), ("knee", 280), ("ankle", 360)):
            points[INDEX[f"{side}_{name}"]] = (x, y)
    for name, point in moved.items():
        points[INDEX[name]] = point
    return points, np.ones(len(LANDMARKS))


# --- kinematics ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, c, expected",
    [
        ((0, 0), (1, 0), (1, 1), 90.0),  # a right angle
        ((0, 0), (1, 0), (2, 0), 180.0),  # a straight limb
        ((2, 0), (0, 0), (1, 1), 45.0),
        ((1, 0), (0, 0), (1, 0), 0.0),  # folded back on itself
        ((0, 0), (0, 0), (1, 1), math.nan),  # a zero-length segment has no angle
    ],
)
def test_joint_angle(a, b, c, expected):
    result = joint_angle(np.array(a, float), np.array(b, float), np.array(c, float))
    assert math.isnan(result) if math.isnan(expected) else result == pytest.approx(expected, abs=1e-9)


def test_angles_of_a_standing_person_with_a_bent_elbow():
    # right forearm horizontal, toward the image's left: a right angle at the elbow
    points, visibility = skeleton(right_wrist=(30, 150))
    result = angles(points, visibility)
    assert set(result) == set(ANGLES)
    assert result["right_elbow"] == pytest.approx(90.0)
    assert result["left_elbow"] == pytest.approx(180.0)
    for joint in ("left_knee", "right_knee", "left_hip", "right_hip"):
        assert result[joint] == pytest.approx(180.0)
    assert result["left_shoulder"] == pytest.approx(0.0)  # arms along the trunk
    assert result["trunk_lean"] == pytest.approx(0.0)


def test_arm_overhead_and_hidden_keypoints():
    points, visibility = skeleton(left_elbow=(120, 50), left_wrist=(120, 0))
    visibility[INDEX["right_ankle"]] = 0.2
    result = angles(points, visibility)
    assert result["left_shoulder"] == pytest.approx(180.0)
    assert math.isnan(result["right_knee"])  # its ankle is not seen
    assert result["left_knee"] == pytest.approx(180.0)


@pytest.mark.parametrize(
    "shoulders_dx, shoulders_dy, expected",
    [(0, -100, 0.0), (100, -100, 45.0), (-100, 0, -90.0), (0, 100, 180.0), (-100, -100 * math.sqrt(3), -30.0)],
)
def test_trunk_lean_is_signed_from_vertical(shoulders_dx, shoulders_dy, expected):
    hips_y, hips_x = 200.0, 100.0
    points, _ = skeleton(
        left_shoulder=(hips_x + 20 + shoulders_dx, hips_y + shoulders_dy),
        right_shoulder=(hips_x - 20 + shoulders_dx, hips_y + shoulders_dy),
        left_hip=(hips_x + 20, hips_y),
        right_hip=(hips_x - 20, hips_y),
    )
    assert trunk_lean(points) == pytest.approx(expected)


def test_box_ignores_unseen_keypoints_and_normalises_each_axis():
    points, visibility = skeleton()
    visibility[[INDEX["left_ankle"], INDEX["right_ankle"]]] = 0.1
    points[INDEX["left_ankle"]] = (900, 900)  # an unseen outlier does not stretch the box
    box = bounding_box(points, visibility)
    assert box.tolist() == [80.0, 60.0, 120.0, 280.0]  # from the nose down to the knees
    assert box_size(box) == 220.0
    normalised = normalize_to_box(points, box)
    assert normalised[INDEX["right_knee"]].tolist() == pytest.approx([0.0, 1.0])
    assert normalised[INDEX["left_shoulder"]].tolist() == pytest.approx([1.0, 40 / 220])
    assert normalised[INDEX["nose"]].tolist() == pytest.approx([0.5, 0.0])


def test_velocities_over_a_known_displacement():
    points, visibility = skeleton()
    first = measure(1.0, (640, 360), points, visibility)
    assert first.velocity is None and first.angular_velocity is None
    # everything moves 15 px right and 30 px up in 0.5 s; the box's longer side is 300 px (nose to ankles)
    second = measure(1.5, (640, 360), points + (15.0, -30.0), visibility, previous=first)
    assert second.dt == pytest.approx(0.5)
    assert np.allclose(second.velocity, [0.1, -0.2])
    assert all(rate == pytest.approx(0.0) for rate in second.angular_velocity.values())


def test_angular_velocity_and_hidden_keypoints_in_motion():
    points, visibility = skeleton()
    first = measure(0.0, (640, 360), points, visibility)
    # the right forearm swings up to horizontal (180 -> 90 degrees) in 0.25 s, and the left wrist disappears
    bent, seen = skeleton(right_wrist=(30, 150))
    seen[INDEX["left_wrist"]] = 0.0
    second = measure(0.25, (640, 360), bent, seen, previous=first)
    assert second.angular_velocity["right_elbow"] == pytest.approx(-360.0)
    assert math.isnan(second.angular_velocity["left_elbow"])
    assert np.isnan(second.velocity[INDEX["left_wrist"]]).all()
    assert np.allclose(second.velocity[INDEX["right_wrist"]], [-50 / 0.25 / 300, -50 / 0.25 / 300])


def test_trunk_lean_rate_takes_the_shorter_turn():
    lying = {"left_shoulder": (80, 290), "right_shoulder": (80, 250), "left_hip": (180, 290), "right_hip": (180, 250)}
    points, visibility = skeleton(**lying)  # head toward the image's left: lean -90
    first = measure(0.0, (640, 360), points, visibility)
    flipped, _ = skeleton(**{name: (360 - x, y) for name, (x, y) in lying.items()})  # head to the right: +90
    points_upside_down, _ = skeleton(
        left_shoulder=(120, 300), right_shoulder=(80, 300), left_hip=(120, 200), right_hip=(80, 200)
    )
    second = measure(0.5, (640, 360), points_upside_down, visibility, previous=first)
    assert first.angles["trunk_lean"] == pytest.approx(-90.0) and second.angles["trunk_lean"] == pytest.approx(180.0)
    assert second.angular_velocity["trunk_lean"] == pytest.approx(-180.0)  # -90 -> 180 is 90 degrees backwards
    assert measure(0.0, (640, 360), flipped, visibility).angles["trunk_lean"] == pytest.approx(90.0)


def test_no_velocity_after_a_frame_without_a_person():
    points, visibility = skeleton()
    nobody = measure(0.0, (640, 360), None, None)
    assert not nobody.found and nobody.angles is None
    after = measure(0.1, (640, 360), points, visibility, previous=nobody)
    assert after.found and after.velocity is None


def test_table_row_and_json():
    points, visibility = skeleton(right_wrist=(30, 150))
    first = measure(2.0, (640, 400), points, visibility)
    second = measure(2.5, (640, 400), points + (30.0, 0.0), visibility, previous=first)  # 0.2 box sizes/s
    cells = dict(zip(COLUMNS, row(second), strict=True))
    assert cells["time"] == "2.50s" and cells["seen"] == "33/33"
    assert cells["elbow L/R"] == "180/90" and cells["knee L/R"] == "180/180" and cells["lean"] == "+0"
    assert cells["box x,y"] == "0.09-0.23,0.15-0.90"  # x 60..150 of 640, y 60..360 of 400
    assert cells["centre v"] == "+0.2,+0.0" and cells["wrist v L/R"] == "0.2/0.2"
    assert row(measure(3.0, (640, 400), None, None))[:2] == ["3.00s", NOBODY]
    assert (
        table_text([first]).splitlines()[1]
        == "2.00s | 0.05-0.19,0.15-0.90 | 33/33 | 180/90 | 0/0 | 180/180 | 180/180 | +0"
    )
    record = to_json(second)
    assert record["keypoints"]["right_knee"] == [round(50 / 90, 4), round(220 / 300, 4), 1.0]
    assert record["angles"]["right_elbow"] == 90.0 and record["dt"] == 0.5
    assert record["velocity"]["nose"] == [0.2, 0.0]
    hidden = measure(4.0, (640, 400), points, np.where(np.arange(len(LANDMARKS)) == INDEX["left_wrist"], 0.0, 1.0))
    assert to_json(hidden)["angles"]["left_elbow"] is None  # NaN becomes null
    assert to_json(measure(3.0, (640, 400), None, None)) == {"time": 3.0, "found": False}


# --- MediaPipe -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def estimator():
    pytest.importorskip("mediapipe")
    from deepsport.pose.estimator import PoseEstimator

    estimator = PoseEstimator()
    yield estimator
    estimator.close()


@pytest.fixture(scope="module")
def no_people(tmp_path_factory) -> Path:
    """Coloured backgrounds, moving noise, a flash and a white square sliding in: everything but a person."""
    return make_video(
        tmp_path_factory.mktemp("pose") / "no_people.mp4",
        duration=4.0,
        fps=10.0,
        size=(640, 360),
        colors=[(1.0, (200, 40, 40)), (2.0, (30, 160, 60)), (3.0, (20, 20, 200))],
        texture=True,
        flashes=[0.5],
        objects=[2.5],
        show_number=(7, 1.5, 3.5),
    )


def test_nobody_claimed_where_there_is_nobody(estimator, no_people):
    with Video(no_people) as video:
        tracked = estimator.estimate(video.frames_at(video.frame_times().tolist()))  # consecutive: tracking
        detected = estimator.estimate(video.window(0.0, 4.0, 6))  # far apart: detection on each frame
    assert len(tracked) == 40 and len(detected) == 6
    assert not any(pose.found for pose in tracked + detected)
    estimator.close()  # closing frees both graphs; the next call builds them again
    with Video(no_people) as video:
        assert not any(pose.found for pose in estimator.estimate(video.window(1.0, 1.3, 4)))


def clip(name: str) -> Path:
    path = CLIPS / f"{name}.mp4"
    if not path.exists():
        pytest.skip("../shared/clips is absent")
    return path


@pytest.mark.parametrize("name", SINGLE_ATHLETE)
def test_a_person_in_most_frames_of_single_athlete_clips(estimator, name):
    with Video(clip(name)) as video:
        spread = estimator.estimate(video.window(0.0, video.info.duration, 16))
        run = estimator.estimate(video.frames_at(video.frame_times()[:30].tolist()))
    assert sum(pose.found for pose in spread) >= 12  # measured: 14 to 16 of 16
    assert sum(pose.found for pose in run) >= 27  # measured: 29 or 30 of 30
    for pose in spread + run:
        if pose.found:
            assert pose.visibility.min() >= 0.0 and pose.visibility.max() <= 1.0
            assert np.isfinite(pose.keypoints).all()
            assert (pose.box[2:] > pose.box[:2]).all()


def test_the_goalkeeper_stands_then_lies_in_the_dive(estimator):
    with Video(clip("goalkeeper_dive_save")) as video:
        standing = estimator.estimate(video.window(0.0, 1.0, 3))
        diving = estimator.estimate(video.window(3.8, 4.2, 5))
    assert all(pose.found and abs(pose.angles["trunk_lean"]) < 15 for pose in standing)
    assert all(pose.found for pose in diving)
    assert max(abs(pose.angles["trunk_lean"]) for pose in diving) > 60  # near horizontal
    tracked = diving[1:]  # 0.1 s apart: tracked, with velocities
    assert all(pose.velocity is not None and pose.dt == pytest.approx(0.1) for pose in tracked)


def test_players_in_a_wide_broadcast_are_too_small(estimator):
    with Video(clip("soccer_broadcast_wide")) as video:  # players ~30 px tall: MediaPipe finds nobody
        assert not any(pose.found for pose in estimator.estimate(video.window(0.0, video.info.duration, 8)))
