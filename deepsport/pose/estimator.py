"""MediaPipe Pose on video frames: one person per frame, keypoints in the frame's pixels, kinematics attached.

Frames closer than TRACK_GAP seconds to the previous one form a run that MediaPipe tracks (it looks for the person
where it was a frame ago, skipping the person detector: about 40% faster, and it keeps following the same person
instead of jumping to whoever looks most prominent). A frame on its own goes to a second MediaPipe graph in static
mode, so tracking never carries over a gap where the person may have moved anywhere. Both graphs live as long as
the estimator: create one per episode.

Frames go in at the size they are decoded at (the tools' pixel budget, 640x360 by default): MediaPipe crops and
scales to 224-256 px inside, so its cost hardly depends on the input size (17.7 CPU ms per tracked frame at
640x360, 18.1 at 1920x1080, measured here), and scaling frames down first would cost more than it saves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.util import find_spec
from typing import Any

import numpy as np
from PIL import Image

from deepsport.pose.kinematics import PoseFrame, measure
from deepsport.video import Frame

INSTALL = 'pip install -e ".[pose]"'
TRACK_GAP = 0.25  # seconds: closer frames are tracked, farther ones detected afresh
MODEL_COMPLEXITY = 1  # the full model; 0 (lite) and 2 (heavy) are downloaded at run time, not shipped in the wheel


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 (MediaPipe's TFLite and absl log lines) to /dev/null
    for the duration; Python's own error messages are raised as exceptions, not lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class PoseUnavailable(Exception):
    """MediaPipe is not installed; the message says how to install it."""


def pose_available() -> bool:
    """Whether MediaPipe can be imported (checked without importing it)."""
    return find_spec("mediapipe") is not None


def _load_mediapipe() -> Any:
    try:
        import mediapipe
    except ImportError:
        raise PoseUnavailable(f"pose estimation needs MediaPipe; install it with: {INSTALL}") from None
    return mediapipe


class PoseEstimator:
    """Finds one person per frame with MediaPipe Pose (model_complexity=1); see the module docstring.

    min_confidence: the detection and tracking confidence below which MediaPipe reports nobody.
    Raises PoseUnavailable when MediaPipe is missing.
    """

    def __init__(self, min_confidence: float = 0.5) -> None:
        self._mediapipe = _load_mediapipe()
        self._min_confidence = min_confidence
        self._graphs: dict[bool, Any] = {}  # static_image_mode -> mp.solutions.pose.Pose, built when first needed
        self._tracked = False  # whether the tracking graph holds state from an earlier run

    def estimate(self, frames: Sequence[Frame]) -> list[PoseFrame]:
        """The pose in each frame, in time order, with velocities since the frame before it in `frames`."""
        return list(self.stream(frames))

    def stream(self, frames: Sequence[Frame]) -> Iterator[PoseFrame]:
        """Like estimate, one frame at a time (for progress bars and per-frame timing)."""
        ordered = sorted(frames, key=lambda frame: frame.time)
        previous: PoseFrame | None = None
        for k, frame in enumerate(ordered):
            close_before = k > 0 and frame.time - ordered[k - 1].time <= TRACK_GAP
            close_after = k + 1 < len(ordered) and ordered[k + 1].time - frame.time <= TRACK_GAP
            previous = self.pose(frame, close_before, close_after, previous)
            yield previous

    def pose(self, frame: Frame, close_before: bool, close_after: bool, previous: PoseFrame | None) -> PoseFrame:
        """One frame of a stream: tracked when a frame within TRACK_GAP comes before or after it (a run starts
        when only one comes after), velocities since `previous`."""
        if close_after and not close_before:
            self._start_run()
        points, visibility = self.landmarks(frame.image, static=not (close_before or close_after))
        return measure(frame.time, (frame.image.width, frame.image.height), points, visibility, previous)

    def close(self) -> None:
        for graph in self._graphs.values():
            graph.close()
        self._graphs.clear()
        self._tracked = False

    def _graph(self, static: bool) -> Any:
        if static not in self._graphs:
            with native_stderr_silenced():
                self._graphs[static] = self._mediapipe.solutions.pose.Pose(
                    static_image_mode=static,
                    model_complexity=MODEL_COMPLEXITY,
                    smooth_landmarks=False,  # its filter assumes 30 fps; raw landmarks keep velocities honest
                    min_detection_confidence=self._min_confidence,
                    min_tracking_confidence=self._min_confidence,
                )
                self._warm(self._graphs[static])
        return self._graphs[static]

    @staticmethod
    def _warm(graph: Any) -> None:
        """Run the graph once on a blank image: its calculators open on threads of their own after the graph is
        built or reset, and they log as they do; this waits until they have (while stderr is silenced)."""
        graph.process(np.zeros((64, 64, 3), dtype=np.uint8))

    def _start_run(self) -> None:
        """Forget the person tracked in an earlier run (restarting the graph costs a few frames' time)."""
        if self._tracked:
            with native_stderr_silenced():
                self._graphs[False].reset()
                self._warm(self._graphs[False])
        self._tracked = True

    def landmarks(self, image: Image.Image, static: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The 33 keypoints (LANDMARKS) in `image`'s pixels and their visibility, or (None, None) for nobody;
        static: the graph that detects afresh, else the one that tracks from the last call."""
        graph = self._graph(static)
        pixels = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
        with native_stderr_silenced():  # TFLite's and absl's log lines (start-up, ROI warnings)
            result = graph.process(pixels)
        if not result.pose_landmarks:
            return None, None
        values = np.array([(lm.x, lm.y, lm.visibility) for lm in result.pose_landmarks.landmark], dtype=np.float64)
        return values[:, :2] * image.size, values[:, 2]  # MediaPipe's x and y are fractions of the width and height
