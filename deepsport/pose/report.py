"""How poses are shown: a compact table row per frame (for the model and the terminal), JSON, and skeleton overlays."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from deepsport.pose.kinematics import INDEX, JOINTS, LANDMARKS, MIN_VISIBILITY, PoseFrame, centre
from deepsport.prompts import time_label

COLUMNS = (
    "time",
    "box x,y",
    "seen",
    "elbow L/R",
    "shoulder L/R",
    "hip L/R",
    "knee L/R",
    "lean",
    "centre v",
    "wrist v L/R",
    "ankle v L/R",
    "fastest turn",
)
LEGEND = (
    "box: where the person is, as fractions of the frame's width and height; seen: keypoints visible of 33. "
    "Angles in degrees in the image plane: elbow, hip and knee 180 = straight; shoulder 0 = arm along the trunk, "
    "180 = arm overhead; lean = trunk from vertical, + toward the image's right. Velocities since the previous "
    "frame, in person lengths per second: centre v = x,y velocity of the hips' centre (x right, y down); wrist and "
    "ankle speeds; fastest turn = the angle changing fastest, in degrees per second. - = not visible."
)
NOBODY = "nobody found"
SKELETON = (
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    *(
        (f"{side}_{a}", f"{side}_{b}")
        for side in ("left", "right")
        for a, b in (
            ("shoulder", "elbow"),
            ("elbow", "wrist"),
            ("shoulder", "hip"),
            ("hip", "knee"),
            ("knee", "ankle"),
            ("ankle", "heel"),
            ("heel", "foot_index"),
            ("ankle", "foot_index"),
        )
    ),
)
COLORS = {"left": (0, 200, 255), "right": (255, 120, 0), "centre": (255, 255, 255)}


def row(pose: PoseFrame) -> list[str]:
    """The frame's cells under COLUMNS; a frame without a person has its time and NOBODY."""
    if not pose.found:
        return [time_label(pose.time), NOBODY, *[""] * (len(COLUMNS) - 2)]
    assert pose.box is not None and pose.visibility is not None  # a found pose has all its keypoint fields
    width, height = pose.frame_size
    x0, y0, x1, y1 = pose.box / [width, height, width, height]
    angles = pose.angles or {}
    cells = [
        time_label(pose.time),
        f"{x0:.2f}-{x1:.2f},{y0:.2f}-{y1:.2f}",
        f"{int((pose.visibility >= MIN_VISIBILITY).sum())}/{len(LANDMARKS)}",
        *(_pair(angles[f"left_{joint}"], angles[f"right_{joint}"]) for joint in ("elbow", "shoulder", "hip", "knee")),
        _number(angles["trunk_lean"], "{:+.0f}"),
    ]
    if pose.velocity is None or pose.angular_velocity is None:
        return [*cells, "", "", "", ""]
    speed = np.linalg.norm(pose.velocity, axis=1)
    vx, vy = centre(pose.velocity)
    turning = {name: rate for name, rate in pose.angular_velocity.items() if not math.isnan(rate)}
    fastest = max(turning, key=lambda name: abs(turning[name]), default=None)
    return [
        *cells,
        "-" if math.isnan(vx) else f"{vx:+.1f},{vy:+.1f}",
        _pair(speed[INDEX["left_wrist"]], speed[INDEX["right_wrist"]], "{:.1f}"),
        _pair(speed[INDEX["left_ankle"]], speed[INDEX["right_ankle"]], "{:.1f}"),
        "-" if fastest is None else f"{_short(fastest)} {turning[fastest]:+.0f}°/s",
    ]


def table_text(poses: list[PoseFrame]) -> str:
    """The poses as a pipe-separated table under a header line, one line per frame."""
    lines = [" | ".join(COLUMNS)]
    lines += [" | ".join(cell for cell in row(pose) if cell) for pose in poses]
    return "\n".join(lines)


def to_json(pose: PoseFrame) -> dict[str, Any]:
    """One frame as JSON: keypoints normalised to the person's box with their visibility, angles, velocities."""
    record: dict[str, Any] = {"time": round(pose.time, 4), "found": pose.found}
    if not pose.found:
        return record
    assert pose.box is not None and pose.keypoints is not None  # a found pose has all its keypoint fields
    assert pose.visibility is not None and pose.angles is not None
    record["frame_size"] = list(pose.frame_size)
    record["box"] = _rounded(pose.box)
    record["keypoints"] = {
        name: [*_rounded(point), _rounded(seen)]
        for name, point, seen in zip(LANDMARKS, pose.keypoints, pose.visibility, strict=True)
    }
    record["angles"] = {name: _rounded(value) for name, value in pose.angles.items()}
    if pose.velocity is not None:
        assert pose.dt is not None and pose.angular_velocity is not None  # measure sets the three together
        record["dt"] = round(pose.dt, 4)
        record["velocity"] = {name: _rounded(v) for name, v in zip(LANDMARKS, pose.velocity, strict=True)}
        record["angular_velocity"] = {name: _rounded(value) for name, value in pose.angular_velocity.items()}
    return record


def draw(image: Image.Image, pose: PoseFrame) -> Image.Image:
    """A copy of `image` with the person's box and skeleton drawn (left side blue, right side orange)."""
    drawn = image.convert("RGB") if image.mode != "RGB" else image.copy()
    if not pose.found:
        return drawn
    assert pose.points is not None and pose.visibility is not None and pose.box is not None  # set when found
    scale = np.array(drawn.size) / np.array(pose.frame_size)
    points = pose.points * scale
    seen = pose.visibility >= MIN_VISIBILITY
    pen = ImageDraw.Draw(drawn)
    width = max(2, round(max(drawn.size) / 200))
    pen.rectangle([*(pose.box[:2] * scale), *(pose.box[2:] * scale)], outline=(255, 255, 0), width=1)
    for a, b in SKELETON:
        if seen[INDEX[a]] and seen[INDEX[b]]:
            side = a.split("_")[0] if a.split("_")[0] == b.split("_")[0] else "centre"
            pen.line([tuple(points[INDEX[a]]), tuple(points[INDEX[b]])], fill=COLORS[side], width=width)
    for name in {n for joint in JOINTS.values() for n in joint} | {"nose"}:
        if seen[INDEX[name]]:
            x, y = points[INDEX[name]]
            r = width + 1
            pen.ellipse((x - r, y - r, x + r, y + r), fill=COLORS.get(name.split("_")[0], COLORS["centre"]))
    return drawn


def _short(angle: str) -> str:
    side, _, joint = angle.partition("_")
    return {"left": f"L {joint}", "right": f"R {joint}"}.get(side, angle.replace("_", " "))


def _number(value: float, spec: str = "{:.0f}") -> str:
    return "-" if math.isnan(value) else spec.format(value)


def _pair(left: float, right: float, spec: str = "{:.0f}") -> str:
    return f"{_number(left, spec)}/{_number(right, spec)}"


def _rounded(value: Any) -> Any:
    """Floats rounded to 4 decimals, NaN as None, arrays as lists."""
    if isinstance(value, np.ndarray):
        return [_rounded(v) for v in value.tolist()]
    value = float(value)
    return None if math.isnan(value) else round(value, 4)
