"""SoccerNet-v2 action spotting annotations (``Labels-v2.json``) and the games they describe.

A game is a folder holding ``Labels-v2.json`` and one video per half, named as SoccerNet names them
(``1_224p.mkv``, ``2_720p.mkv``...: any ``<half>_*.mkv`` or ``<half>_*.mp4``). A folder with a single video of any
name is a one-half game, so any dataset adapted to the format works. An annotation's ``position`` is
milliseconds from the start of its half's video (a string in SoccerNet files); ``gameTime`` is ``"H - MM:SS"``.
Predictions are written in SoccerNet's ``results_spotting.json`` format, which the official evaluation reads.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepsport.spotting.events import Event

LABELS_FILE = "Labels-v2.json"
PREDICTIONS_FILE = "results_spotting.json"
VIDEO_SUFFIXES = (".mkv", ".mp4")
VISIBILITIES = ("visible", "not shown")
V2_LABELS = (  # the 17 action classes of SoccerNet-v2
    "Penalty", "Kick-off", "Goal", "Substitution", "Offside", "Shots on target", "Shots off target", "Clearance",
    "Ball out of play", "Throw-in", "Foul", "Indirect free-kick", "Direct free-kick", "Corner", "Yellow card",
    "Red card", "Yellow->red card",
)  # fmt: skip
_GAME_TIME = re.compile(r"^\s*(\d+)\s*-\s*(\d+):(\d{1,2})\s*$")
_HALF_VIDEO = re.compile(r"^(\d+)_.*$")
_RESOLUTION = re.compile(r"_(\d+)p\b")


class LabelsError(ValueError):
    """A malformed annotation file or game folder; the message names the file and the record."""


@dataclass(frozen=True)
class Annotation:
    """One annotated action: its half, label and time in seconds from the start of that half's video."""

    half: int
    time: float
    label: str
    team: str = "not applicable"
    visibility: str = "visible"

    @property
    def position(self) -> int:
        """Milliseconds from the start of the half's video, as SoccerNet stores it."""
        return round(self.time * 1000)

    @property
    def game_time(self) -> str:
        return _game_time(self.half, self.position)

    def to_json(self) -> dict[str, str]:
        return {
            "gameTime": self.game_time,
            "label": self.label,
            "position": str(self.position),
            "team": self.team,
            "visibility": self.visibility,
        }


@dataclass
class GameLabels:
    """The annotations of one game, plus the file's other top-level fields (teams, date, URLs) kept as read."""

    annotations: list[Annotation]
    meta: dict[str, Any] = field(default_factory=dict)

    def in_half(self, half: int) -> list[Annotation]:
        return [a for a in self.annotations if a.half == half]


@dataclass(frozen=True)
class Game:
    """A game folder: its labels and its video per half (half number -> path)."""

    root: Path
    labels: GameLabels
    videos: dict[int, Path]


def read_labels(path: str | os.PathLike) -> GameLabels:
    """Read a ``Labels-v2.json``, annotations sorted by half and time. ``position`` may be a string or a
    number; without it the time comes from ``gameTime`` (to the second). A record without ``gameTime`` may give
    its half as ``"half"``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelsError(f"{path}: no such annotation file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LabelsError(f"{path}: not a readable JSON file ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise LabelsError(f'{path}: expected a JSON object with an "annotations" list (SoccerNet Labels-v2 format)')
    annotations = [_parse_annotation(record, path, i) for i, record in enumerate(data["annotations"])]
    meta = {key: value for key, value in data.items() if key != "annotations"}
    return GameLabels(sorted(annotations, key=lambda a: (a.half, a.time)), meta)


def write_labels(path: str | os.PathLike, labels: GameLabels) -> Path:
    """Write ``labels`` as a ``Labels-v2.json`` (positions as millisecond strings, as SoccerNet does)."""
    path = Path(path)
    data = {**labels.meta, "annotations": [a.to_json() for a in labels.annotations]}
    path.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
    return path


def write_predictions(path: str | os.PathLike, predictions: Iterable[tuple[int, Event]], url: str = "") -> Path:
    """Write ``(half, event)`` pairs (events with label, time in seconds, score) as SoccerNet's
    ``results_spotting.json``, the file its official evaluation reads."""
    records = []
    for half, event in predictions:
        position = round(event.time * 1000)
        records.append(
            {
                "gameTime": _game_time(half, position),
                "label": event.label,
                "position": str(position),
                "half": str(half),
                "confidence": str(float(event.score)),
            }
        )
    path = Path(path)
    path.write_text(json.dumps({"UrlLocal": url, "predictions": records}, indent=4) + "\n", encoding="utf-8")
    return path


def load_game(folder: str | os.PathLike) -> Game:
    """Load a game folder (or its ``Labels-v2.json``): the labels and a video for every annotated half."""
    folder = Path(folder)
    if folder.is_file():
        folder = folder.parent
    labels = read_labels(folder / LABELS_FILE)
    videos = _half_videos(folder)
    missing = sorted({a.half for a in labels.annotations} - videos.keys())
    if missing:
        names = ", ".join(f"{h}_*.mkv" for h in missing)
        found = ", ".join(p.name for p in videos.values()) or "none"
        raise LabelsError(f"{folder}: annotations in half {missing} but no video for it ({names}); videos: {found}")
    if not videos:
        raise LabelsError(f"{folder}: no video (expected 1_*.mkv/mp4, 2_*.mkv/mp4, or a single video file)")
    return Game(folder, labels, videos)


def load_games(source: str | os.PathLike | Sequence[str | os.PathLike | Game]) -> list[Game]:
    """Games from a game folder, a folder of game folders (searched recursively), or a list of either."""
    sources = [source] if isinstance(source, str | os.PathLike) else list(source)
    games: list[Game] = []
    for item in sources:
        if isinstance(item, Game):
            games.append(item)
            continue
        path = Path(item)
        if path.is_file() or (path / LABELS_FILE).is_file():
            games.append(load_game(path))
            continue
        found = sorted(p.parent for p in path.rglob(LABELS_FILE))
        if not found:
            raise LabelsError(f"{path}: no {LABELS_FILE} in this folder or below it")
        games.extend(load_game(p) for p in found)
    return games


def _game_time(half: int, position: int) -> str:
    """``"H - MM:SS"`` for a position in milliseconds, truncated to the second as SoccerNet writes it."""
    minutes, seconds = divmod(position // 1000, 60)
    return f"{half} - {minutes:02d}:{seconds:02d}"


def _parse_annotation(record: object, path: Path, index: int) -> Annotation:
    def fail(problem: str) -> LabelsError:
        return LabelsError(f"{path}: annotation {index} ({json.dumps(record)[:200]}): {problem}")

    if not isinstance(record, dict):
        raise fail("expected an object")
    label = record.get("label")
    if not isinstance(label, str) or not label.strip():
        raise fail('missing "label"')
    half, clock = None, None
    if "gameTime" in record:
        match = _GAME_TIME.match(str(record["gameTime"]))
        if match is None:
            raise fail(f'bad "gameTime" {record["gameTime"]!r}; expected "H - MM:SS"')
        half, clock = int(match[1]), int(match[2]) * 60 + int(match[3])
    elif "half" in record:
        number = _number(record["half"])
        if number is None or not number.is_integer():
            raise fail(f'bad "half" {record["half"]!r}; expected 1 or 2')
        half = int(number)
    else:
        raise fail('missing "gameTime" ("H - MM:SS")')
    if half < 1:
        raise fail(f"bad half {half}; halves count from 1")
    if "position" in record:
        position = _number(record["position"])
        if position is None or position < 0:
            raise fail(f'bad "position" {record["position"]!r}; expected milliseconds from the start of the half')
        time = position / 1000
    elif clock is not None:
        time = float(clock)
    else:
        raise fail('missing "position" (milliseconds from the start of the half)')
    visibility = str(record.get("visibility", "visible")).strip()
    if visibility not in VISIBILITIES:
        raise fail(f'bad "visibility" {visibility!r}; expected one of {VISIBILITIES}')
    return Annotation(half, time, label.strip(), str(record.get("team", "not applicable")), visibility)


def _number(value: object) -> float | None:
    """``value`` (a number or a numeric string) as a finite float, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _half_videos(folder: Path) -> dict[int, Path]:
    """Half number -> video: ``<half>_*.mkv|mp4`` (the lowest resolution when several), else a lone video as
    half 1."""
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    halves: dict[int, list[Path]] = {}
    for video in videos:
        match = _HALF_VIDEO.match(video.name)
        if match:
            halves.setdefault(int(match[1]), []).append(video)
    if not halves and len(videos) == 1:
        return {1: videos[0]}
    return {half: min(paths, key=_resolution_key) for half, paths in sorted(halves.items())}


def _resolution_key(path: Path) -> tuple[int, str]:
    match = _RESOLUTION.search(path.stem)
    return (int(match[1]) if match else 1 << 30, path.name)
