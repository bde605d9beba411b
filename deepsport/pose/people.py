"""Every athlete in the shot: find people, pose each, keep their ids across the frames.

For each frame:
1. the full frame, scaled to the tools' MAX_PIXELS, goes through PoseEstimator exactly as for one athlete (MediaPipe
   finds the most prominent person, tracked over close frames), so with one person in view the result is the
   single-athlete one (keypoints in the full frame's pixels). Over close frames where it found nobody and crops
   found people (a broadcast: everyone is too small for it), it runs on every MAIN_EVERY-th frame only;
2. people who move are found by ``motion.moving_boxes`` against a frame shortly before (a frame of `references`
   or of `frames` itself, at most MOTION_GAP earlier), which finds broadcast players of 20 px and more;
3. people posed in the frame just before (within TRACK_GAP) are posed again on a crop around where they were, each
   with a MediaPipe graph of their own in tracking mode; then, up to `max_posed` people posed in all, the largest
   new ones that are tall enough are posed on a crop (static mode); keypoints are mapped back to the frame, and the
   others stay as boxes (seen 0/33).
A lone small moving region that the pose model does not confirm is not claimed (a logo or a graphic moves alone;
players move in numbers). People are tracked across the frames by box overlap and distance, so each keeps an id.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Protocol

import cv2
import numpy as np
from PIL import Image

from deepsport.pose.estimator import TRACK_GAP, PoseEstimator
from deepsport.pose.kinematics import PoseFrame, box_size, measure
from deepsport.pose.motion import WIDTH, grey, moving_boxes
from deepsport.pose.tracking import Person, Track, assign, overlap
from deepsport.video import MAX_PIXELS, Frame

MAIN_EVERY = 5  # over close frames where only crops find people, the full-frame pass runs on every 5th frame
MOTION_GAP = 0.15  # seconds: the farthest a reference frame may be before the frame for motion
MAX_POSED = 2  # people posed per frame besides the full-frame one, the largest first
MIN_POSE_HEIGHT = 40  # pixels: smaller people are too blurred for the pose model; they stay as boxes
CONFIRM_HEIGHT = 0.12  # fraction of the frame height: a moving region this tall must be confirmed by the pose model
MIN_MAIN = 0.06  # fraction of the frame's longer side: the full-frame pass cannot see people smaller than this, so
# such a hit is a drawing or a logo (a cartoon figure on an end card), not a person
CROP = 2.6  # crop side around a moving region, in multiples of its longer side (1.8: 21 of 29 moving people
# of tennis_rally_montecarlo and goalkeeper_dive_save posed, 2.2: 20, 2.6: 25, 3.2: 23)
GROWN = 0.2  # an unposed moving region this close to a posed person (fraction of their size) is part of them: hair,
# a racket, a foot outside the keypoints' box
SAME = 0.5  # overlap (intersection over the smaller box) at which two boxes are one person


BACKENDS = ("mediapipe", "transformers")


class PeopleFinder(Protocol):
    """What finds and poses the people of frames: PeopleEstimator (MediaPipe) or hf_pose's transformers one."""

    def estimate(self, frames: Sequence[Frame], references: Sequence[Frame] = ()) -> list[list[Person]]: ...

    def stream(self, frames: Sequence[Frame], references: Sequence[Frame] = ()) -> Iterator[list[Person]]: ...

    def close(self) -> None: ...


def open_people_finder(
    backend: str = "mediapipe", detector: str | None = None, pose_model: str | None = None, device: str | None = None
) -> PeopleFinder:
    """The pose backend by name: "mediapipe" (CPU, shipped in the wheel; raises PoseUnavailable without it) or
    "transformers" (`detector` and `pose_model` checkpoints by name or path, e.g. RT-DETR and ViTPose).
    ValueError for an unknown backend or a missing checkpoint name."""
    if backend == "mediapipe":
        return PeopleEstimator()
    if backend != "transformers":
        raise ValueError(f"unknown pose backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not detector or not pose_model:
        raise ValueError("the transformers pose backend needs a detector and a pose_model (checkpoint names or paths)")
    from deepsport.pose.hf_pose import TransformersPeopleEstimator

    return TransformersPeopleEstimator(detector, pose_model, device)


class PeopleEstimator:
    """Finds and poses every person in each frame; see the module docstring. Raises PoseUnavailable without
    MediaPipe. One per episode (it keeps MediaPipe's graphs and the tracks)."""

    def __init__(self, max_posed: int = MAX_POSED, min_confidence: float = 0.5) -> None:
        self.single = PoseEstimator(min_confidence)
        self.max_posed = max_posed
        self._min_confidence = min_confidence
        self._followers: dict[int, PoseEstimator] = {}  # track id -> MediaPipe tracking graphs on its crops

    def estimate(self, frames: Sequence[Frame], references: Sequence[Frame] = ()) -> list[list[Person]]:
        """The people in each frame, in time order; `references`: extra frames shortly before some of `frames`,
        used only to see what moves."""
        return list(self.stream(frames, references))

    def stream(self, frames: Sequence[Frame], references: Sequence[Frame] = ()) -> Iterator[list[Person]]:
        """Like estimate, one frame at a time."""
        ordered = sorted(frames, key=lambda frame: frame.time)
        pool = sorted([*ordered, *references], key=lambda frame: frame.time)
        for follower in self._followers.values():  # ids start afresh: no graph may follow someone else's
            follower.close()
        self._followers.clear()
        tracks: list[Track] = []
        greys: dict[float, np.ndarray] = {}  # frame time -> grey frame for motion, each computed once
        previous: float | None = None
        small = {frame.time: _scaled(frame) for frame in ordered}  # what the full-frame pass sees
        last_main: PoseFrame | None = None
        others = False  # whether people were found in the frame before besides the full-frame pass
        for k, frame in enumerate(ordered):
            close_before = k > 0 and frame.time - ordered[k - 1].time <= TRACK_GAP
            close_after = k + 1 < len(ordered) and ordered[k + 1].time - frame.time <= TRACK_GAP
            if close_before and others and not (last_main and last_main.found) and k % MAIN_EVERY:
                main = PoseFrame(time=frame.time, frame_size=(frame.image.width, frame.image.height))
            else:
                main = _full_size(self.single.pose(small[frame.time], close_before, close_after, last_main), frame)
            last_main = main
            earlier = [f for f in pool if 0 < frame.time - f.time <= MOTION_GAP]
            found = [main] if main.found and box_size(main.box) >= MIN_MAIN * max(main.frame_size) else []  # type: ignore[arg-type]
            close = previous is not None and frame.time - previous <= TRACK_GAP
            followed = self._follow(frame, [t for t in tracks if close and t.last.time == previous], found)
            movers = []
            if earlier:
                for f in (earlier[-1], frame):
                    if f.time not in greys:
                        scaled = small.get(f.time) or _scaled(f)  # one resize of the frame serves both passes
                        greys[f.time] = grey(scaled.image if scaled.image.width >= WIDTH else f.image)
                known = [*found, *followed.values()]
                # over close frames, people not yet posed are tried on every MAIN_EVERY-th frame only (a player too
                # small or turned away fails again a frame later); the ones posed are followed on every frame
                budget = self.max_posed - len(followed) if not close_before or k % MAIN_EVERY == 0 else 0
                movers = self._movers(frame, greys[earlier[-1].time], greys[frame.time], known, budget)
            for time in [t for t in greys if t < frame.time - MOTION_GAP]:
                del greys[time]
            previous = frame.time
            others = bool(followed or movers)
            yield assign(tracks, found, movers, followed)

    def close(self) -> None:
        self.single.close()
        for follower in self._followers.values():
            follower.close()
        self._followers.clear()

    def _follow(self, frame: Frame, tracks: list[Track], main: list[PoseFrame]) -> dict[int, PoseFrame]:
        """The people posed in the frame just before (close in time) posed again with a tracking graph of their
        own on a crop around where they were (no person detector: about a third cheaper), up to max_posed,
        largest first; those not in the full-frame pass's box. Followers of people not followed are closed."""
        candidates = [
            t
            for t in tracks
            if t.last.found and t.last.box is not None and not any(overlap(t.last.box, m.box) >= SAME for m in main)  # type: ignore[arg-type]
        ]
        candidates.sort(key=lambda t: -box_size(t.last.box))  # type: ignore[arg-type]
        followed = {}
        for track in candidates[: self.max_posed]:
            follower = self._followers.get(track.id) or PoseEstimator(self._min_confidence)
            self._followers[track.id] = follower
            pose = self._pose_crop(frame, track.last.box, follower, static=False)  # type: ignore[arg-type]
            if pose.found:
                followed[track.id] = pose
        for number in [n for n in self._followers if n not in followed]:
            self._followers.pop(number).close()
        return followed

    def _movers(
        self, frame: Frame, before: np.ndarray, after: np.ndarray, known: list[PoseFrame], budget: int
    ) -> list[PoseFrame]:
        """Poses (or boxes) of the people moving in `frame` (grey: `after`; a frame shortly before: `before`) that
        are not among `known`; posing at most `budget` of them (the others stay boxes)."""
        size = (frame.image.width, frame.image.height)
        scaled = moving_boxes(before, after) * (frame.image.width / after.shape[1])
        boxes = [
            b for b in _distinct(list(scaled)) if not any(overlap(b, k.box) >= SAME for k in known if k.box is not None)
        ]
        posed: list[PoseFrame] = []
        unposed: list[PoseFrame] = []
        for box in boxes:
            tall = box[3] - box[1]
            if len(posed) < budget and tall >= MIN_POSE_HEIGHT:
                pose = self._pose_crop(frame, box, self.single, static=True)
                if pose.found and overlap(box, pose.box) > 0:  # type: ignore[arg-type]
                    posed.append(pose)
                    continue
            if tall >= CONFIRM_HEIGHT * frame.image.height:
                continue  # large enough for the pose model to see a person: only it may confirm one
            unposed.append(PoseFrame(time=frame.time, frame_size=size, box=box))
        people = [*known, *posed]
        unposed = [u for u in unposed if not any(overlap(u.box, _grown(p.box)) > 0 for p in people)]  # type: ignore[arg-type]
        if len(unposed) == 1 and not posed and not known:
            unposed = []  # a lone small moving thing, unconfirmed
        return posed + unposed

    @staticmethod
    def _pose_crop(frame: Frame, box: np.ndarray, estimator: PoseEstimator, static: bool) -> PoseFrame:
        """MediaPipe on a square crop around `box`, keypoints in the frame's pixels."""
        side = CROP * box_size(box)
        cx, cy = (box[:2] + box[2:]) / 2
        x0, y0 = round(cx - side / 2), round(cy - side / 2)
        crop = frame.image.crop((x0, y0, x0 + round(side), y0 + round(side)))
        points, visibility = estimator.landmarks(crop, static=static)
        size = (frame.image.width, frame.image.height)
        if points is None:
            return PoseFrame(time=frame.time, frame_size=size)
        return measure(frame.time, size, points + (x0, y0), visibility)


def _scaled(frame: Frame) -> Frame:
    """The frame within MAX_PIXELS (the tools' budget) for the full-frame pass: MediaPipe scales its input to 256 px
    anyway, and copying a full-HD frame into its graph costs 9 ms."""
    width, height = frame.image.size
    scale = math.sqrt(MAX_PIXELS / (width * height))
    if scale >= 1:
        return frame
    size = (round(width * scale), round(height * scale))
    pixels = cv2.resize(np.asarray(frame.image), size, interpolation=cv2.INTER_AREA)
    return Frame(frame.time, frame.index, Image.fromarray(pixels))


def _full_size(pose: PoseFrame, frame: Frame) -> PoseFrame:
    """A pose found on `_scaled(frame)` in the pixels of `frame` (angles and box-relative values are unchanged)."""
    size = (frame.image.width, frame.image.height)
    if pose.frame_size == size:
        return pose
    scale = np.array(size) / np.array(pose.frame_size)
    points = None if pose.points is None else pose.points * scale
    box = None if pose.box is None else pose.box * np.tile(scale, 2)
    return replace(pose, frame_size=size, points=points, box=box)


def _grown(box: np.ndarray, margin: float = GROWN) -> np.ndarray:
    """`box` grown by `margin` of its longer side on every side."""
    pad = margin * box_size(box)
    return box + np.array([-pad, -pad, pad, pad])


def _distinct(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """Boxes (largest first) without those mostly inside a larger one; side by side parts of one thing (at the
    same height, less than a quarter of their height apart) joined."""
    kept: list[np.ndarray] = []
    for box in boxes:
        for k, other in enumerate(kept):
            height = min(box[3] - box[1], other[3] - other[1])
            gap = max(box[0], other[0]) - min(box[2], other[2])
            rows = min(box[3], other[3]) - max(box[1], other[1])
            if overlap(box, other) >= SAME or (gap < height / 4 and rows > height / 2):
                kept[k] = np.concatenate([np.minimum(box[:2], other[:2]), np.maximum(box[2:], other[2:])])
                break
        else:
            kept.append(box)
    return kept
