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
TOO_SMALL = "too small to pose"
MAX_ROWS_PER_FRAME = 6  # people listed per frame in a table of several people, posed ones and the largest first
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
    if pose.box is None:
        return [time_label(pose.time), NOBODY, *[""] * (len(COLUMNS) - 2)]
    if not pose.found:  # a person seen moving, too small to pose
        return [time_label(pose.time), _box(pose), f"0/{len(LANDMARKS)}", TOO_SMALL, *[""] * (len(COLUMNS) - 4)]
    assert pose.visibility is not None  # a found pose has all its keypoint fields
    angles = pose.angles or {}
    cells = [
        time_label(pose.time),
        _box(pose),
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


def _box(pose: PoseFrame) -> str:
    assert pose.box is not None
    width, height = pose.frame_size
    x0, y0, x1, y1 = pose.box / [width, height, width, height]
    return f"{x0:.2f}-{x1:.2f},{y0:.2f}-{y1:.2f}"


def people_rows(people: list[tuple[int, PoseFrame]], time: float) -> tuple[list[list[str]], int]:
    """Rows under ("person", *COLUMNS) for one frame's people as (id, pose), posed and largest first, at most
    MAX_ROWS_PER_FRAME; and how many were left out. A frame without anyone has one NOBODY row."""
    if not people:
        return [["", time_label(time), NOBODY]], 0
    ranked = sorted(people, key=lambda p: (not p[1].found, -_area(p[1]), p[0]))
    shown = sorted(ranked[:MAX_ROWS_PER_FRAME], key=lambda p: p[0])
    return [[str(number), *row(pose)] for number, pose in shown], len(people) - len(shown)


def people_table_text(frames: list[list[tuple[int, PoseFrame]]], times: list[float]) -> str:
    """Several people per frame as a table: one line per person per frame, headed by their id."""
    lines = [" | ".join(("person", *COLUMNS))]
    for people, time in zip(frames, times, strict=True):
        rows, left = people_rows(people, time)
        lines += [" | ".join(cell for cell in cells if cell) for cells in rows]
        if left:
            lines.append(f"{time_label(time)}: {left} more people moving, smaller")
    return "\n".join(lines)


def _area(pose: PoseFrame) -> float:
    assert pose.box is not None
    return float((pose.box[2] - pose.box[0]) * (pose.box[3] - pose.box[1]))


def table_text(poses: list[PoseFrame]) -> str:
    """The poses as a pipe-separated table under a header line, one line per frame."""
    lines = [" | ".join(COLUMNS)]
    lines += [" | ".join(cell for cell in row(pose) if cell) for pose in poses]
    return "\n".join(lines)


def to_json(pose: PoseFrame) -> dict[str, Any]:
    """One frame as JSON: keypoints normalised to the person's box with their visibility, angles, velocities."""
    record: dict[str, Any] = {"time": round(pose.time, 4), "found": pose.found}
    if not pose.found:
        if pose.box is not None:  # a person seen moving, too small to pose
            record["frame_size"] = list(pose.frame_size)
            record["box"] = _rounded(pose.box)
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
    scale = np.array(drawn.size) / np.array(pose.frame_size)
    if not pose.found:
        if pose.box is not None:
            ImageDraw.Draw(drawn).rectangle([*(pose.box[:2] * scale), *(pose.box[2:] * scale)], outline=(255, 255, 0))
        return drawn
    assert pose.points is not None and pose.visibility is not None and pose.box is not None  # set when found
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
