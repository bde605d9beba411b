"""Penn Action: one ``labels/<id>.mat`` per video (read with ``scipy.io.loadmat``).

Fields: ``action`` (e.g. "tennis_serve"), ``pose`` (the camera view: front, back, left or right), ``x``, ``y``
(nframes x 13 joint positions in pixels, y pointing down), ``visibility`` (nframes x 13, 1 = visible), ``bbox``,
``dimensions`` ([H, W, nframes]), ``nframes``, ``train`` (1 = train, -1 = test). Joints in order: head,
shoulders, elbows, wrists, hips, knees, ankles (left then right). Frames are ``frames/<id>/000001.jpg`` onwards;
row i (0-based) is frame file i + 1 and is shown at ``i / fps`` seconds in the video made from them.

``path`` is the labels folder or one .mat file; videos are named by ``video_template`` ("{id}.mp4").
Questions: which action (of the 15), from which side the camera films, and when a wrist is at its highest
(the frame where the visible wrist's y is smallest; only when that peak stands out by ``min_rise`` pixels
from the wrist's positions half a second away on both sides).

Options: ``fps`` (30.0), ``video_template`` ("{id}.mp4"), ``tolerance`` (0.25 s), ``min_rise`` (10 px).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from data_distill.questions import make_item, nonempty, seconds
from data_distill.sources.common import SourceError, annotation_files, require_path
from deepsport.schemas import QAItem, Span

SOURCE = "penn_action"
ACTIONS = {
    "baseball_pitch": "baseball",
    "baseball_swing": "baseball",
    "bench_press": "fitness",
    "bowl": "bowling",
    "clean_and_jerk": "weightlifting",
    "golf_swing": "golf",
    "jump_rope": "fitness",
    "jumping_jacks": "fitness",
    "pullup": "fitness",
    "pushup": "fitness",
    "situp": "fitness",
    "squat": "fitness",
    "strum_guitar": "music",
    "tennis_forehand": "tennis",
    "tennis_serve": "tennis",
}
VIEWS = {"front": "Front", "back": "Back", "left": "Left side", "right": "Right side"}
JOINTS = (
    "head",
    "left shoulder",
    "right shoulder",
    "left elbow",
    "right elbow",
    "left wrist",
    "right wrist",
    "left hip",
    "right hip",
    "left knee",
    "right knee",
    "left ankle",
    "right ankle",
)
EXPECTED = "a Penn Action label file (.mat with action, pose, x, y, visibility, train)"


def load(
    path: Path, *, fps: float = 30.0, video_template: str = "{id}.mp4", tolerance: float = 0.25, min_rise: float = 10.0
) -> Iterator[QAItem]:
    """Items for every .mat label file under ``path`` (see the module docstring)."""
    path = require_path(Path(path), "a Penn Action labels folder or .mat file")
    files = annotation_files(path, ["*.mat"], f"no .mat label files; expected {EXPECTED}")
    for file in files:
        label = read_label(file)
        video = video_template.format(id=file.stem)
        sport = ACTIONS.get(label["action"], "unknown")
        meta = {"id": file.stem, "action": label["action"], "view": label["view"], "split": label["split"], "fps": fps}
        common: dict[str, Any] = dict(source=SOURCE, sport=sport, video=video, key=file.stem)
        names = {a: a.replace("_", " ") for a in ACTIONS}
        action = names.get(label["action"], label["action"].replace("_", " "))
        item = make_item(
            "action_in_clip", correct=action, pool=names.values(), metadata={**meta, "label": action}, **common
        )
        yield from [item] if item else []
        if label["view"] in VIEWS:
            view = VIEWS[label["view"]]
            yield from nonempty(
                make_item("camera_view", correct=view, pool=VIEWS.values(), metadata={**meta, "label": view}, **common)
            )
        peak = highest_wrist(label["y"], label["visibility"], fps, min_rise)
        if peak is not None:
            joint, row = peak
            time = row / fps
            yield from nonempty(
                make_item(
                    "when_joint_highest",
                    answer=seconds(time),
                    evidence=Span(start=time, end=time),
                    joint=joint,
                    metadata={**meta, "label": f"{joint} highest", "frame": row + 1, "tolerance": tolerance},
                    **common,
                )
            )


def read_label(file: Path) -> dict[str, Any]:
    """The fields of one label file, checked: action, view, split, y and visibility (nframes x 13)."""
    from scipy.io import loadmat

    try:
        mat = loadmat(file)
    except (OSError, ValueError, TypeError) as err:
        raise SourceError(f"{file}: not a readable .mat file ({err}); expected {EXPECTED}") from None
    missing = [k for k in ("action", "pose", "y", "visibility", "train") if k not in mat]
    if missing:
        raise SourceError(f"{file}: missing {', '.join(missing)}; expected {EXPECTED}")
    y, visibility = np.asarray(mat["y"], dtype=float), np.asarray(mat["visibility"])
    if y.ndim != 2 or y.shape[1] != len(JOINTS) or visibility.shape != y.shape:
        raise SourceError(f"{file}: y is {y.shape} and visibility {visibility.shape}; expected nframes x 13 both")
    split = {1: "train", -1: "test"}.get(int(np.asarray(mat["train"]).ravel()[0]))
    return {
        "action": str(np.asarray(mat["action"]).ravel()[0]).strip(),
        "view": str(np.asarray(mat["pose"]).ravel()[0]).strip(),
        "split": split,
        "y": y,
        "visibility": visibility,
    }


def highest_wrist(y: np.ndarray, visibility: np.ndarray, fps: float, min_rise: float) -> tuple[str, int] | None:
    """(wrist name, row) of the highest point a visible wrist reaches, when it rises ``min_rise`` px above its
    height half a second before and after (a clear peak, not the start or end of a slow drift)."""
    best: tuple[float, str, int] | None = None
    half = max(1, round(fps / 2))
    for joint in ("left wrist", "right wrist"):
        column = JOINTS.index(joint)
        heights = np.where(visibility[:, column] > 0, y[:, column], np.inf)
        if not np.isfinite(heights).any():
            continue
        row = int(np.argmin(heights))
        before, after = heights[max(0, row - half)], heights[min(len(heights) - 1, row + half)]
        clear = row - half >= 0 and row + half < len(heights) and min(before, after) - heights[row] >= min_rise
        if clear and (best is None or heights[row] < best[0]):
            best = (float(heights[row]), joint, row)
    return None if best is None else (best[1], best[2])
