"""People across frames: a Person (an id and a pose), tracks that keep ids by box overlap and nearness, and the
`person` choice (an id, "largest" or a box) of the tool and the command. Shared by both pose backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from deepsport.pose.kinematics import PoseFrame, box_size, measure
from deepsport.video import Frame


@dataclass(frozen=True)
class Person:
    """One person in one frame: an id kept across the frames, and the pose (found=False with `box` only when the
    person was too small to pose)."""

    id: int
    pose: PoseFrame

    @property
    def box(self) -> np.ndarray:
        assert self.pose.box is not None  # every Person has a box
        return self.pose.box


@dataclass
class Track:
    """A person followed across frames: their id and last pose."""

    id: int
    last: PoseFrame
    seen: list[float] = field(default_factory=list)


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(w * h / max(smaller, 1e-9))


def assign(
    tracks: list[Track], main: list[PoseFrame], movers: list[PoseFrame], followed: dict[int, PoseFrame] | None = None
) -> list[Person]:
    """Give each pose the id of the track it continues (`followed`: poses known to continue track id; the others
    greedily, best match first) or a new id. The full-frame pose keeps its velocities (as for one athlete); the
    others' are measured against their track's last pose."""
    followed = followed or {}
    index = {track.id: j for j, track in enumerate(tracks)}
    found = [*main, *followed.values(), *movers]
    ids: dict[int, int] = {len(main) + k: index[number] for k, number in enumerate(followed)}
    taken: set[int] = set(ids.values())
    pairs = []
    for i, pose in enumerate(found):
        for j, track in enumerate(tracks):
            score = _similarity(track.last, pose)
            if score > 0 and i not in ids and j not in taken:
                pairs.append((score, i, j))
    for _, i, j in sorted(pairs, reverse=True):
        if i not in ids and j not in taken:
            ids[i] = j
            taken.add(j)
    people = []
    for i, pose in enumerate(found):
        if i in ids:
            track = tracks[ids[i]]
            if i >= len(main) and pose.found and track.last.found:
                pose = measure(pose.time, pose.frame_size, pose.points, pose.visibility, track.last)
        else:
            track = Track(id=len(tracks) + 1, last=pose)
            tracks.append(track)
        track.last = pose
        track.seen.append(pose.time)
        people.append(Person(track.id, pose))
    return sorted(people, key=lambda person: person.id)


def _similarity(previous: PoseFrame, current: PoseFrame) -> float:
    """How likely `current` continues `previous`: box overlap, else nearness in box sizes; 0 for no match."""
    assert previous.box is not None and current.box is not None
    a, b = previous.box, current.box
    shared = overlap(a, b)
    if shared > 0:
        return 1 + shared
    scale = max(box_size(a), box_size(b))
    distance = float(np.linalg.norm((a[:2] + a[2:]) / 2 - (b[:2] + b[2:]) / 2)) / max(scale, 1e-9)
    ratio = box_size(a) / max(box_size(b), 1e-9)
    return max(0.0, 1 - distance / 2) if 0.5 <= ratio <= 2 else 0.0


PersonChoice = int | str | Sequence[float]  # an id, "largest", or a box (x0, y0, x1, y1) as fractions of the frame


def parse_person(text: str) -> PersonChoice:
    """A `person` choice from the command line: "3", "largest" or "x0,y0,x1,y1" (fractions of the frame)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text == "largest":
        return text
    parts = text.split(",")
    try:
        box = [float(part) for part in parts]
    except ValueError:
        box = []
    if len(box) != 4:
        raise ValueError(f'person must be an id, "largest" or a box x0,y0,x1,y1 (fractions of the frame), got {text!r}')
    return box


def choose(people: Sequence[Sequence[Person]], person: PersonChoice) -> int | None:
    """The id of the person `person` designates among the frames' people (None: nobody fits). An id must exist;
    "largest" is the person with the largest boxes summed over the frames; a box (fractions of the frame) picks
    the person whose box overlaps it most in any frame."""
    everyone = [p for frame in people for p in frame]
    if isinstance(person, int):
        return person if any(p.id == person for p in everyone) else None
    if isinstance(person, str):
        if person != "largest":
            raise ValueError(f'person must be an id, "largest" or a box, got {person!r}')
        totals: dict[int, float] = {}
        for p in everyone:
            totals[p.id] = totals.get(p.id, 0.0) + box_size(p.box) / max(p.pose.frame_size)
        return max(totals, key=totals.__getitem__, default=None)
    x0, y0, x1, y1 = (float(v) for v in person)
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        raise ValueError("a person's box is x0 < x1 and y0 < y1, as fractions of the frame between 0 and 1")
    best, chosen = 0.0, None
    for p in everyone:
        width, height = p.pose.frame_size
        shared = overlap(np.array([x0 * width, y0 * height, x1 * width, y1 * height]), p.box)
        if shared > best:
            best, chosen = shared, p.id
    return chosen


def poses_of(people: Sequence[Sequence[Person]], frames: Sequence[Frame], person_id: int | None) -> list[PoseFrame]:
    """One PoseFrame per frame: the person's (`person_id`; None: the only person there is), else nobody."""
    poses = []
    for frame, found in zip(frames, people, strict=True):
        match = [p for p in found if person_id is None or p.id == person_id]
        size = (frame.image.width, frame.image.height)
        poses.append(match[0].pose if match else PoseFrame(time=frame.time, frame_size=size))
    return poses
