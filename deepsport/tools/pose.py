"""``estimate_pose``: the athlete's pose at a time or over a short window, as numbers (and skeleton overlays)."""

from __future__ import annotations

from typing import Any

from PIL import Image

from deepsport.pose.estimator import INSTALL, pose_available
from deepsport.pose.people import BACKENDS, PeopleFinder, open_people_finder
from deepsport.pose.report import LEGEND, draw, people_table_text, table_text
from deepsport.pose.tracking import Person, PersonChoice, choose, poses_of
from deepsport.prompts import time_label
from deepsport.schemas import Span
from deepsport.tools.base import Episode, Tool, ToolError, ToolResult, register
from deepsport.video import Frame, Video

DEFAULT_FRAMES = 8
POSE_PIXELS = 1920 * 1080  # frames are posed at up to full HD: broadcast players are 50-300 px tall there
MOTION_FRAMES = 2  # each frame is compared with the one this many frames before it to see who moves


@register
class EstimatePose(Tool):
    name = "estimate_pose"
    description = (
        "Measure the pose of the people in view at a time or over a window: joint angles (elbows, shoulders, hips, "
        "knees, trunk lean), limb speeds and how fast joints turn, as a table of numbers per frame, one row per "
        "person (each keeps an id across the frames). Give `time` for one moment, or `start` and `end` (seconds) "
        'for a window; `person` (an id from an earlier call, "largest", or a box [x0, y0, x1, y1] as fractions '
        "of the frame) to follow one athlete. Set `overlay` to also get the frames with the skeletons drawn (they "
        "count against the frame budget). In wide shots small players are found as boxes without a pose."
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
            "person": {
                "type": ["integer", "string", "array"],
                "description": 'One athlete: an id from the table, "largest", or a box [x0, y0, x1, y1] (fractions).',
                "anyOf": [
                    {"type": "integer", "minimum": 1},
                    {"type": "string", "enum": ["largest"]},
                    {
                        "type": "array",
                        "items": {"type": "number", "minimum": 0, "maximum": 1},
                        "minItems": 4,
                        "maxItems": 4,
                    },
                ],
            },
        },
        "additionalProperties": False,
    }

    @classmethod
    def missing(cls) -> str | None:
        return None if pose_available() else f"pose estimation needs MediaPipe; install it with: {INSTALL}"

    def __init__(
        self,
        episode: Episode,
        backend: str = "mediapipe",
        detector: str | None = None,
        pose_model: str | None = None,
        device: str | None = None,
    ) -> None:
        """backend: "mediapipe" (CPU) or "transformers" with `detector` and `pose_model` checkpoints (names or
        paths, e.g. RT-DETR and ViTPose) on `device`; see deepsport.pose.people.open_people_finder."""
        super().__init__(episode)
        if backend not in BACKENDS:
            raise ValueError(f"estimate_pose: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.backend, self.detector, self.pose_model, self.device = backend, detector, pose_model, device
        self.estimator: PeopleFinder | None = None  # built on the first call: agents that never ask pay nothing
        self.video: Video | None = None  # the episode's video at POSE_PIXELS, opened on the first call

    def execute(
        self,
        time: float | None = None,
        start: float | None = None,
        end: float | None = None,
        num_frames: int | None = None,
        overlay: bool = False,
        person: Any = None,
    ) -> ToolResult:
        start, end, count, notes = self._window(time, start, end, num_frames)
        left = self.episode.frames_left
        if overlay and left == 0:
            notes.append("no overlay: the frame budget is spent")
            overlay = False
        elif overlay and left < count:
            count = left
            notes.append(f"{count} frames, what is left of the frame budget for overlays")
        frames, references = self._frames(start, end, count, moment=time is not None)
        if self.estimator is None:
            try:
                self.estimator = open_people_finder(self.backend, self.detector, self.pose_model, self.device)
            except (ValueError, OSError) as err:
                raise ToolError(f"the pose backend cannot start: {err}") from None
        people = self.estimator.estimate(frames, references)
        if time is not None:  # the frame before it only served to measure velocities
            frames, people = frames[-1:], people[-1:]
        where = f"at {time_label(start)}" if time is not None else f"from {time_label(start)} to {time_label(end)}"
        plural = "s" if len(frames) > 1 else ""
        ids = sorted({p.id for found in people for p in found})
        chosen = self._choose(people, person) if person is not None else None
        if person is not None or all(len(found) <= 1 for found in people):  # one at a time: the athlete's table
            poses = poses_of(people, frames, chosen)
            found = sum(pose.box is not None for pose in poses)
            who = f"person {chosen}" if person is not None else "a person"
            head = f"Pose {where}: {who} in {found} of {len(poses)} frame{plural}"
            table = table_text(poses)
            drawn = [[pose] for pose in poses]
        else:
            found = sum(bool(p) for p in people)
            most = max(len(p) for p in people)
            head = (
                f"Pose {where}: people in {found} of {len(frames)} frame{plural}, up to {most} at once, "
                f"{len(ids)} in all (ids {ids[0]}-{ids[-1]}; `person` follows one)"
            )
            rows = [[(p.id, p.pose) for p in found_here] for found_here in people]
            table = people_table_text(rows, [f.time for f in frames])
            drawn = [[p.pose for p in found_here] for found_here in people]
        if found < len(frames):
            notes.append("nobody found in some frames: no person in view, or still and small; look with choose_frames")
        images: list[Frame] = []
        if overlay:
            images = [self._overlay(f, poses) for f, poses in zip(frames, drawn, strict=True)]
            self.episode.frames_returned += len(images)
        text = "\n".join([head + (f" ({'; '.join(notes)})." if notes else "."), LEGEND, table])
        return ToolResult(text=text, frames=images, window=Span(start=start, end=end))

    @staticmethod
    def _choose(people: list[list[Person]], person: PersonChoice) -> int:
        try:
            chosen = choose(people, person)
        except ValueError as err:
            raise ToolError(str(err)) from None
        if chosen is None:
            ids = sorted({p.id for found in people for p in found})
            known = f"the ids here are {', '.join(map(str, ids))}" if ids else "nobody was found in these frames"
            raise ToolError(f"no person {person!r} in these frames: {known}.")
        return chosen

    def _overlay(self, frame: Frame, poses: list[Any]) -> Frame:
        """The frame with each pose drawn, at the episode's frame size."""
        image = frame.image
        for pose in poses:
            image = draw(image, pose)
        size = self.episode.video.size
        return Frame(
            frame.time, frame.index, image.resize(size, Image.Resampling.BILINEAR) if image.size != size else image
        )

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

    def _frames(self, start: float, end: float, count: int, moment: bool) -> tuple[list[Frame], list[Frame]]:
        """`count` frames over the window (for a moment, its frame and the one before, to measure velocities), at
        up to POSE_PIXELS; and the frames MOTION_FRAMES before each, to see who moves."""
        if self.video is None:
            self.video = Video(self.episode.video.info.path, max_pixels=POSE_PIXELS, cache_size=2 * count + 2)
        video = self.video
        step = 1 / video.info.fps
        frames = video.frames_at([max(0.0, start - step), start]) if moment else video.window(start, end, count)
        references = video.frames_at([max(0.0, f.time - MOTION_FRAMES * step) for f in frames])
        return frames, [r for r in references if all(r.index != f.index for f in frames)]

    def release(self) -> None:
        if self.estimator is not None:
            self.estimator.close()
            self.estimator = None
        if self.video is not None:
            self.video.close()
            self.video = None
