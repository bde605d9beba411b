"""The library of instructional clips: narration segments (video, span, text, sport, skill, pose signature).

On disk a library is a folder: ``segments.jsonl`` (one segment a line, appended as each is measured, so a killed
``library add`` resumes where it stopped), ``index/`` (the BM25 index, rebuilt after each add) and, when an
embedding endpoint was given, ``embeddings.npy`` with ``embeddings.json``.

Input is a folder of videos with their narration as subtitles beside them (``clip.mp4`` + ``clip.srt`` or
``clip.vtt``; sport and skill from ``--sport``/``--skill`` or the folders ``DIR/sport/skill/clip.mp4``), or JSONL
rows ``{"video", "start", "end", "text", "sport", "skill"}`` (optional ``"id"``) with videos named relative to
the JSONL's folder (or ``--video-root``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ValidationError, field_validator, model_validator

from deepsport.jsonl import JsonlAppender, read_jsonl
from deepsport.paths import VideoPathError, resolve_video
from deepsport.validation import model_problems

SUBTITLES = (".srt", ".vtt")
VIDEOS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
SEGMENTS = "segments.jsonl"


class LibraryError(Exception):
    """Input or a library folder that cannot be used; the message is one line for the user."""


class Signature(BaseModel):
    """Joint-angle curves of the person over a span: ``angles[k]`` holds the ANGLES at ``times[k]`` (seconds
    from the video start) in degrees, None where a joint was not seen. Frames with nobody are left out."""

    times: list[float]
    angles: list[list[float | None]]

    def array(self) -> np.ndarray:
        """(frames, len(ANGLES)) float array, NaN where not seen."""
        return np.array([[math.nan if a is None else a for a in row] for row in self.angles], dtype=np.float64)

    @classmethod
    def from_array(cls, times: list[float], angles: np.ndarray) -> Signature:
        rows = [[None if math.isnan(a) else round(float(a), 1) for a in row] for row in angles]
        return cls(times=[round(t, 3) for t in times], angles=rows)


class Segment(BaseModel):
    """One narration segment: what the coach says over [start, end] of a video."""

    id: str
    video: str  # the video file (absolute path once in a library)
    start: float
    end: float
    text: str
    sport: str = ""
    skill: str = ""
    pose: Signature | None = None

    @field_validator("text")
    @classmethod
    def _has_text(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("the narration text is empty")
        return " ".join(text.split())

    @model_validator(mode="after")
    def _span(self) -> Segment:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"the span {self.start:g}-{self.end:g} s is empty or negative")
        return self


def segment_id(video: Path, start: float, end: float) -> str:
    """The id of a segment given without one: the video's name and its span."""
    return f"{video.stem}@{start:.2f}-{end:.2f}"


def read_input(
    source: Path, video_root: Path | None = None, sport: str | None = None, skill: str | None = None
) -> tuple[list[Segment], list[str]]:
    """The segments of a folder of narrated videos or of a JSONL file, and warnings about what was skipped.
    Raises LibraryError when nothing can be read."""
    if not source.exists():
        raise LibraryError(f"{source} does not exist")
    if source.is_dir():
        return _read_folder(source, sport, skill)
    return _read_rows(source, video_root or source.parent, sport, skill)


def read_subtitles(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of an .srt or .vtt file; LibraryError when it is malformed."""
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        captions = webvtt.from_srt(str(path)) if path.suffix.lower() == ".srt" else webvtt.read(str(path))
    except (MalformedFileError, MalformedCaptionError, ValueError, UnicodeDecodeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise LibraryError(f"{path}: malformed subtitles ({reason})") from None
    return [
        (c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.text)
        for c in captions.captions
        if c.text.strip()
    ]


def _read_folder(folder: Path, sport: str | None, skill: str | None) -> tuple[list[Segment], list[str]]:
    videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEOS and p.is_file())
    if not videos:
        raise LibraryError(f"no videos ({', '.join(VIDEOS)}) in {folder}")
    segments: list[Segment] = []
    warnings: list[str] = []
    for video in videos:
        narration = [video.with_suffix(s) for s in SUBTITLES if video.with_suffix(s).exists()]
        if not narration:
            warnings.append(f"{video}: no narration (.srt or .vtt beside it); skipped")
            continue
        folders = video.relative_to(folder).parts[:-1]
        labels = {"sport": sport or (folders[0] if folders else ""), "skill": skill or "/".join(folders[1:])}
        try:
            cues = read_subtitles(narration[0])
        except LibraryError as err:
            warnings.append(f"{err}; skipped")
            continue
        for start, end, text in cues:
            row = {"id": segment_id(video, start, end), "video": str(video.resolve()), "start": start, "end": end}
            segment, problem = _segment({**row, "text": text, **labels})
            if segment is None:
                warnings.append(f"{narration[0]}: cue {start:.2f}-{end:.2f} s skipped ({problem})")
            else:
                segments.append(segment)
    if not segments:
        raise LibraryError(f"no narrated videos in {folder}: put NAME.srt or NAME.vtt beside each NAME.mp4")
    return segments, warnings


def _read_rows(path: Path, root: Path, sport: str | None, skill: str | None) -> tuple[list[Segment], list[str]]:
    try:
        rows = read_jsonl(path)
    except (ValueError, OSError) as err:
        raise LibraryError(str(err).splitlines()[0]) from None
    segments: list[Segment] = []
    warnings: list[str] = []
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or "video" not in row:
            warnings.append(f"{path} row {number}: not an object with a 'video'; skipped")
            continue
        name = str(row["video"])
        try:
            video = Path(name) if Path(name).is_absolute() else resolve_video(root, name, must_exist=False)
        except VideoPathError as err:
            warnings.append(f"{path} row {number}: {err}; skipped")
            continue
        if not video.is_file():
            warnings.append(f"{path} row {number}: video {name} not found under {root}; skipped")
            continue
        given = {"sport": sport, "skill": skill}
        row = {"id": "", **row, "video": str(video), **{k: v for k, v in given.items() if v}}
        segment, problem = _segment(row)
        if segment is None:
            warnings.append(f"{path} row {number}: {problem}; skipped")
            continue
        segment.id = segment.id or segment_id(video, segment.start, segment.end)
        segments.append(segment)
    if not segments:
        raise LibraryError(f"no usable rows in {path}")
    return segments, warnings


def _segment(row: dict) -> tuple[Segment | None, str]:
    try:
        return Segment.model_validate({**row, "pose": None}), ""
    except ValidationError as err:
        return None, model_problems(err)[0]


class Library:
    """A library folder (see the module docstring); created when the first segment is added."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.file = self.path / SEGMENTS

    def exists(self) -> bool:
        return self.file.is_file()

    def check(self) -> None:
        """LibraryError unless this is a library with segments."""
        if not self.exists():
            raise LibraryError(f"{self.path} is not a library (no {SEGMENTS}); build one with: deepsport library add")

    def segments(self) -> list[Segment]:
        """Every segment, in the order they were added."""
        self.check()
        lines = self.file.read_bytes().split(b"\n")
        segments = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                segments.append(Segment.model_validate_json(line))  # pydantic's own JSON parser: 2x json.loads here
            except ValidationError as err:
                if number == len(lines):  # no newline after it: a line a killed `library add` never finished
                    break
                raise LibraryError(f"{self.file}:{number}: {model_problems(err)[0]}") from None
        return segments

    def add(
        self,
        segments: list[Segment],
        measure: Callable[[str, list[Segment]], Iterator[Signature | None]] | None,
        progress: Callable[[int], None] = lambda n: None,
    ) -> tuple[int, int]:
        """Append the segments not in the library yet, each with its pose signature from ``measure(video,
        segments)`` (None: no pose), a video's segments at once when they are all measured (a killed run loses at
        most the video it was measuring); returns (added, already there)."""
        done = {str(row["id"]) for row in read_jsonl(self.file)} if self.exists() else set()
        todo = []
        for segment in segments:  # the first segment of each id not in the library yet
            if segment.id not in done:
                done.add(segment.id)
                todo.append(segment)
        by_video: dict[str, list[Segment]] = {}
        for segment in todo:
            by_video.setdefault(segment.video, []).append(segment)
        with JsonlAppender(self.file) as out:
            for video, group in by_video.items():
                poses = measure(video, group) if measure else iter([None] * len(group))
                measured = []
                for segment, pose in zip(group, poses, strict=True):
                    measured.append(segment.model_copy(update={"pose": pose}))
                    progress(1)
                out.write_many(measured)
        return len(todo), len(segments) - len(todo)

    def info(self) -> dict:
        """Counts: segments, videos, with a pose signature, per sport and per (sport, skill)."""
        segments = self.segments()
        skills = Counter(f"{s.sport or '?'}/{s.skill or '?'}" for s in segments)
        return {
            "library": str(self.path),
            "segments": len(segments),
            "videos": len({s.video for s in segments}),
            "with_pose": sum(s.pose is not None for s in segments),
            "hours": round(sum(s.end - s.start for s in segments) / 3600, 3),
            "sports": dict(sorted(Counter(s.sport or "?" for s in segments).items())),
            "skills": dict(sorted(skills.items())),
            "embeddings": self.embedding_settings(),
        }

    def embedding_settings(self) -> dict | None:
        """The embedding model and endpoint the library's vectors were made with, or None."""
        path = self.path / "embeddings.json"
        return json.loads(path.read_text()) if path.exists() else None
