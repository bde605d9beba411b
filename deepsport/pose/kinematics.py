"""Pose kinematics as pure numpy: box normalisation, joint angles, velocities. No detector here, so every number
can be checked exactly on hand-made keypoints.

Keypoints are the 33 MediaPipe Pose landmarks as (x, y) pixels in the frame (x right, y down). Angles are measured
in the image plane, in degrees. A keypoint counts as seen when its visibility is at least MIN_VISIBILITY; angles
and velocities that need an unseen keypoint are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LANDMARKS = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
INDEX = {name: i for i, name in enumerate(LANDMARKS)}
# joint -> (a, b, c): the angle at b between b->a and b->c. 180 = straight elbow, knee or hip; the shoulder angle
# is 0 with the arm along the trunk and 180 with the arm straight overhead.
JOINTS = {
    f"{side}_{joint}": (f"{side}_{a}", f"{side}_{joint}", f"{side}_{c}")
    for joint, a, c in (
        ("elbow", "shoulder", "wrist"),
        ("shoulder", "hip", "elbow"),
        ("hip", "shoulder", "knee"),
        ("knee", "hip", "ankle"),
    )
    for side in ("left", "right")
}
ANGLES = (*JOINTS, "trunk_lean")  # trunk_lean: shoulders' midpoint about the hips' midpoint, from vertical
MIN_VISIBILITY = 0.5


@dataclass(frozen=True)
class PoseFrame:
    """The pose found in one frame, or found=False. Velocities are since the previous frame of the same request
    (None for the first frame, or when the previous frame had nobody)."""

    time: float  # seconds from the video start
    frame_size: tuple[int, int]  # (width, height) of the frame the pixels refer to
    points: np.ndarray | None = None  # (33, 2) pixels
    visibility: np.ndarray | None = None  # (33,) in [0, 1]
    box: np.ndarray | None = None  # (x0, y0, x1, y1) pixels around the seen keypoints
    keypoints: np.ndarray | None = None  # (33, 2) normalised to the box: (0, 0) top-left, (1, 1) bottom-right
    angles: dict[str, float] | None = None  # ANGLES -> degrees (NaN: not seen)
    dt: float | None = None  # seconds since the previous frame
    velocity: np.ndarray | None = None  # (33, 2) box sizes per second (see box_size), NaN where not seen
    angular_velocity: dict[str, float] | None = None  # ANGLES -> degrees per second

    @property
    def found(self) -> bool:
        return self.points is not None


def joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Angle at `b` between the segments to `a` and to `c`, in degrees in [0, 180]; NaN for a zero-length segment."""
    u, v = np.asarray(a, float) - b, np.asarray(c, float) - b
    norms = np.linalg.norm(u) * np.linalg.norm(v)
    if norms == 0:
        return float("nan")
    return float(np.degrees(np.arctan2(abs(u[0] * v[1] - u[1] * v[0]), float(u @ v))))


def trunk_lean(points: np.ndarray) -> float:
    """Signed angle of the trunk (hips' midpoint to shoulders' midpoint) from upright, in degrees in (-180, 180]:
    0 upright, +90 lying with the head toward the image's right, -90 toward its left, 180 upside down."""
    shoulders = (points[INDEX["left_shoulder"]] + points[INDEX["right_shoulder"]]) / 2
    hips = (points[INDEX["left_hip"]] + points[INDEX["right_hip"]]) / 2
    dx, dy = shoulders - hips
    if dx == 0 and dy == 0:
        return float("nan")
    return float(np.degrees(np.arctan2(dx, -dy)))  # image y points down, so up is -y


def angles(points: np.ndarray, visibility: np.ndarray, min_visibility: float = MIN_VISIBILITY) -> dict[str, float]:
    """Every angle in ANGLES, NaN when one of its keypoints is not seen."""
    seen = visibility >= min_visibility
    result = {}
    for joint, names in JOINTS.items():
        a, b, c = (INDEX[n] for n in names)
        result[joint] = joint_angle(points[a], points[b], points[c]) if seen[[a, b, c]].all() else float("nan")
    trunk = [INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    result["trunk_lean"] = trunk_lean(points) if seen[trunk].all() else float("nan")
    return result


def bounding_box(points: np.ndarray, visibility: np.ndarray, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """(x0, y0, x1, y1) around the seen keypoints (around all of them when none is seen)."""
    seen = visibility >= min_visibility
    chosen = points[seen] if seen.any() else points
    return np.concatenate([chosen.min(axis=0), chosen.max(axis=0)])


def box_size(box: np.ndarray) -> float:
    """The longer side of a box: about the person's length whether standing, crouching or lying."""
    return float(max(box[2] - box[0], box[3] - box[1]))


def normalize_to_box(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Keypoints in box coordinates, each axis on its own: (0, 0) is the box's top-left, (1, 1) its bottom-right."""
    size = np.maximum(box[2:] - box[:2], 1e-9)
    return (points - box[:2]) / size


def velocities(previous: np.ndarray, current: np.ndarray, dt: float, scale: float) -> np.ndarray:
    """Displacement of each keypoint over `dt` seconds, in units of `scale` pixels per second."""
    return (current - previous) / (dt * scale)


def angular_velocities(previous: dict[str, float], current: dict[str, float], dt: float) -> dict[str, float]:
    """Change of each angle over `dt` seconds, in degrees per second (trunk lean wrapped to the shorter turn)."""
    rates = {}
    for name, angle in current.items():
        change = angle - previous[name]
        if name == "trunk_lean":
            change = (change + 180) % 360 - 180
        rates[name] = change / dt
    return rates


def measure(
    time: float,
    frame_size: tuple[int, int],
    points: np.ndarray | None,
    visibility: np.ndarray | None,
    previous: PoseFrame | None = None,
    min_visibility: float = MIN_VISIBILITY,
) -> PoseFrame:
    """Everything about one frame's keypoints (None: nobody found), with velocities since `previous`."""
    if points is None or visibility is None:
        return PoseFrame(time=time, frame_size=frame_size)
    box = bounding_box(points, visibility, min_visibility)
    joint_angles = angles(points, visibility, min_visibility)
    dt = velocity = angular_velocity = None
    if previous is not None and previous.found and time > previous.time:
        assert previous.points is not None and previous.visibility is not None  # set when found
        assert previous.box is not None and previous.angles is not None
        dt = time - previous.time
        scale = (box_size(box) + box_size(previous.box)) / 2
        seen = (visibility >= min_visibility) & (previous.visibility >= min_visibility)
        velocity = np.where(seen[:, None], velocities(previous.points, points, dt, max(scale, 1e-9)), np.nan)
        angular_velocity = angular_velocities(previous.angles, joint_angles, dt)
    return PoseFrame(
        time=time,
        frame_size=frame_size,
        points=points,
        visibility=visibility,
        box=box,
        keypoints=normalize_to_box(points, box),
        angles=joint_angles,
        dt=dt,
        velocity=velocity,
        angular_velocity=angular_velocity,
    )


def centre(values: np.ndarray) -> np.ndarray:
    """The hips' midpoint of per-keypoint values (positions or velocities): the body's centre."""
    return (values[INDEX["left_hip"]] + values[INDEX["right_hip"]]) / 2
