"""``estimate_pose``: the athlete's pose at a time or over a short window, as numbers (and skeleton overlays)."""

from __future__ import annotations

from deepsport.pose.estimator import INSTALL, PoseEstimator, pose_available
from deepsport.pose.report import LEGEND, draw, table_text
from deepsport.prompts import time_label
from deepsport.schemas import Span
from deepsport.tools.base import Episode, Tool, ToolError, ToolResult, register
from deepsport.video import Frame

DEFAULT_FRAMES = 8


@register
class EstimatePose(Tool):
    name = "estimate_pose"
    description = (
        "Measure the pose of the main person (one per frame) at a time or over a window: joint angles (elbows, "
        "shoulders, hips, knees, trunk lean), limb speeds and how fast joints turn, as a table of numbers per frame. "
        "Give `time` for one moment, or `start` and `end` (seconds) for a window. Set `overlay` to also get the "
        "frames with the skeleton drawn (they count against the frame budget). Works on close views of athletes; "
        "in wide shots players are usually too small and nobody is found."
    )
    parameters = {
        "type": "object",
        "properties": {
            "time": {"type": "number", "minimum": 0, "description": "One moment, in seconds."},
            "start": {"type": "number", "minimum": 0, "description": "Window start in seconds."},
            "end": {"type": "number", "minimum": 0, "description": "Window end in seconds."},
            "num_frames": {
                "type": "integer",
                "minimum": 2,
                "maximum": 32,
                "description": f"Frames spread over the window (default {DEFAULT_FRAMES}).",
            },
            "overlay": {"type": "boolean", "description": "Also return the frames with the skeleton drawn."},
        },
        "additionalProperties": False,
    }

    @classmethod
    def missing(cls) -> str | None:
        return None if pose_available() else f"pose estimation needs MediaPipe; install it with: {INSTALL}"

    def __init__(self, episode: Episode) -> None:
        super().__init__(episode)
        self.estimator: PoseEstimator | None = None  # built on the first call: agents that never ask pay nothing

    def execute(
        self,
        time: float | None = None,
        start: float | None = None,
        end: float | None = None,
        num_frames: int | None = None,
        overlay: bool = False,
    ) -> ToolResult:
        start, end, count, notes = self._window(time, start, end, num_frames)
        left = self.episode.frames_left
        if overlay and left == 0:
            notes.append("no overlay: the frame budget is spent")
            overlay = False
        elif overlay and left < count:
            count = left
            notes.append(f"{count} frames, what is left of the frame budget for overlays")
        frames = self._frames(start, end, count, moment=time is not None)
        if self.estimator is None:
            self.estimator = PoseEstimator()
        poses = self.estimator.estimate(frames)
        if time is not None:  # the frame before it only served to measure velocities
            frames, poses = frames[-1:], poses[-1:]
        found = sum(pose.found for pose in poses)
        where = f"at {time_label(start)}" if time is not None else f"from {time_label(start)} to {time_label(end)}"
        head = f"Pose {where}: a person in {found} of {len(poses)} frame{'s' if len(poses) > 1 else ''}"
        if found < len(poses):
            notes.append("nobody found: no person in view, or too small (wide shot); look with choose_frames")
        images: list[Frame] = []
        if overlay:
            images = [Frame(f.time, f.index, draw(f.image, pose)) for f, pose in zip(frames, poses, strict=True)]
            self.episode.frames_returned += len(images)
        text = "\n".join([head + (f" ({'; '.join(notes)})." if notes else "."), LEGEND, table_text(poses)])
        return ToolResult(text=text, frames=images, window=Span(start=start, end=end))

    def _window(
        self, time: float | None, start: float | None, end: float | None, num_frames: int | None
    ) -> tuple[float, float, int, list[str]]:
        """Check the arguments: the window (start = end for a moment), its number of frames, notes for the model."""
        if (time is None) == (start is None and end is None):
            raise ToolError("give either `time` (one moment) or `start` and `end` (a window), in seconds.")
        if time is not None:
            if num_frames is not None:
                raise ToolError("`num_frames` goes with a window (`start` and `end`), not with `time`.")
            if time > self.episode.duration:
                raise ToolError(f"time ({time:g} s) is beyond the end of the video ({self.episode.duration:.2f} s).")
            return time, time, 1, []
        if start is None or end is None:
            raise ToolError("a window needs both `start` and `end`, in seconds.")
        end, notes = self.episode.clip_window(start, end)
        asked = num_frames or DEFAULT_FRAMES
        count = min(asked, self.episode.budget.frames_per_call)
        if count < asked:
            notes.append(f"{count} frames, the most one call may use")
        return start, end, count, notes

    def _frames(self, start: float, end: float, count: int, moment: bool) -> list[Frame]:
        """`count` frames over the window; for a moment, its frame and the one before (to measure velocities)."""
        video = self.episode.video
        if moment:
            return video.frames_at([max(0.0, start - 1 / video.info.fps), start])
        return video.window(start, end, count)

    def release(self) -> None:
        if self.estimator is not None:
            self.estimator.close()
            self.estimator = None
