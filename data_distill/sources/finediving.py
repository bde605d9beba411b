"""FineDiving: the ``Annotations/`` pickles of github.com/xujinglin/FineDiving.

Files (``path`` is their folder; names may carry a suffix such as ``.EXCERPT``):
- ``FineDiving_fine-grained_annotation.pkl``: ``{(video_id, clip): {"action_type" (FINA dive code, e.g. "207c"),
  "dive_score", "difficulty", "steps_transit_frames", "frames_labels" (one sub-action id per frame of the
  trimmed clip, frame 0 = the clip's first frame), "sub-action_types" {id: name}}}``;
- ``FineDiving_coarse_annotation.pkl``: ``{(video_id, clip): {"action_type", "start_frame", "end_frame" (frame
  indices in the untrimmed video), "dive_score", "difficulty", "judge_scores"}}``;
- optional ``Sub_action_Types_Table.pkl`` (id -> name), ``train_split.pkl`` / ``test_split.pkl`` (lists of keys).
At least one of the two annotation pickles must be there; the fine-grained one gives the step questions.

Sub-action steps are the runs of ``frames_labels``; a step over frames a..b spans ``a / fps`` to ``(b + 1) / fps``
seconds in the trimmed clip (``video_template`` "{video_id}/{clip}.mp4"). With ``untrimmed=True`` items use
the whole competition video ("{video_id}.mp4") and times ``(start_frame + frame) / fps``.
Questions: take-off direction, body position, somersault and twist counts, when each somersault/twist phase
happens and when the diver enters the water, the degree of difficulty and the awarded score.

Options: ``fps`` (25.0, the frame rate the frames were taken at), ``untrimmed`` (False), ``video_template``
(fields ``video_id``, ``clip``), ``score_tolerance`` (5.0 points), ``entry_tolerance`` (0.3 s).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data_distill.questions import make_item, nonempty, number, seconds, span_text
from data_distill.sources.common import SourceError, find_files, read_pickle, require_path
from deepsport.schemas import QAItem, Span

SOURCE = "finediving"
SPORT = "diving"
EXPECTED = "FineDiving annotation pickles (FineDiving_fine-grained_annotation.pkl, FineDiving_coarse_annotation.pkl)"
TAKEOFFS = {
    "Forward": "Forward",
    "Back": "Back",
    "Reverse": "Reverse",
    "Inward": "Inward",
    "Arm.Forward": "Armstand forward",
    "Arm.Back": "Armstand back",
    "Arm.Reverse": "Armstand reverse",
}
POSITIONS = ("Straight", "Pike", "Tuck", "Free")
_SOMERSAULTS = re.compile(r"^([\d.]+) Soms?\.(\w+)$")
_TWISTS = re.compile(r"^([\d.]+) Twists?$")


def load(
    path: Path,
    *,
    fps: float = 25.0,
    untrimmed: bool = False,
    video_template: str | None = None,
    score_tolerance: float = 5.0,
    entry_tolerance: float = 0.3,
) -> Iterator[QAItem]:
    """Items for every annotated dive (see the module docstring)."""
    folder = require_path(Path(path), f"a folder of {EXPECTED}")
    if folder.is_file():
        folder = folder.parent
    fine = _one(folder, "*fine-grained_annotation*.pkl", exclude="aqa")
    coarse = _one(folder, "*coarse_annotation*.pkl")
    if fine is None and coarse is None:
        raise SourceError(f"{folder}: no FineDiving annotation pickle; expected {EXPECTED}")
    if untrimmed and coarse is None:
        raise SourceError(f"{folder}: untrimmed=True needs FineDiving_coarse_annotation.pkl (the clips' start frames)")
    fine_data = _records(fine)
    coarse_data = _records(coarse)
    table_file = _one(folder, "Sub_action_Types_Table*.pkl")
    table = read_pickle(table_file, "a dict id -> sub-action name") if table_file else {}
    splits = {}
    for split in ("train", "test"):
        split_file = _one(folder, f"{split}_split*.pkl")
        keys = read_pickle(split_file, "a list of (video_id, clip) keys") if split_file else []
        splits.update({tuple(k): split for k in keys})
    template = video_template or ("{video_id}.mp4" if untrimmed else "{video_id}/{clip}.mp4")
    for key in sorted({*fine_data, *coarse_data}, key=str):
        record = {**coarse_data.get(key, {}), **fine_data.get(key, {})}
        video_id, clip = key
        offset = int(coarse_data[key]["start_frame"]) if untrimmed and key in coarse_data else 0
        if untrimmed and key not in coarse_data:
            continue  # no start frame: cannot place this clip in the competition video
        video = template.format(video_id=video_id, clip=clip)
        meta = {
            "video_id": video_id,
            "clip": clip,
            "dive_code": record.get("action_type"),
            "split": splits.get(key),
            "fps": fps,
            "judge_scores": [float(s) for s in record.get("judge_scores", [])],
            "start_frame": record.get("start_frame"),
            "end_frame": record.get("end_frame"),
        }
        yield from _scoring_items(record, video, [video_id, clip], meta, score_tolerance)
        yield from (i for i in _clip_items(record, table, video, [video_id, clip], meta, fps, offset) if i)
        entry = [step for step in _steps(record, table) if step[0] == "Entry"] if "frames_labels" in record else []
        if entry:
            time = (offset + entry[0][1]) / fps
            yield from nonempty(
                make_item(
                    "when_entry",
                    source=SOURCE,
                    sport=SPORT,
                    video=video,
                    key=[video_id, clip],
                    answer=seconds(time),
                    evidence=Span(start=time, end=time),
                    metadata={**meta, "label": "entry", "frames": list(entry[0][1:]), "tolerance": entry_tolerance},
                )
            )


def steps_of(frames_labels: Any) -> list[tuple[int, int, int]]:
    """The runs of a per-frame label sequence: (label id, first frame, last frame)."""
    labels = [int(x) for x in frames_labels]
    runs: list[tuple[int, int, int]] = []
    for frame, label in enumerate(labels):
        if runs and runs[-1][0] == label:
            runs[-1] = (label, runs[-1][1], frame)
        else:
            runs.append((label, frame, frame))
    return runs


def _steps(record: dict[str, Any], table: dict[Any, str]) -> list[tuple[str, int, int]]:
    """(sub-action name, first frame, last frame) per step of the trimmed clip, background dropped."""
    names = {**table, **record.get("sub-action_types", {})}
    steps = [(names.get(label, str(label)), first, last) for label, first, last in steps_of(record["frames_labels"])]
    return [step for step in steps if step[0] != "Background"]


def _clip_items(
    record: dict[str, Any],
    table: dict[Any, str],
    video: str,
    key: list[Any],
    meta: dict[str, Any],
    fps: float,
    offset: int,
) -> Iterator[QAItem | None]:
    if "frames_labels" not in record:
        return
    common: dict[str, Any] = dict(source=SOURCE, sport=SPORT, video=video)
    twists = 0.0
    for index, (name, first, last) in enumerate(_steps(record, table)):
        start, end = (offset + first) / fps, (offset + last + 1) / fps
        span = Span(start=start, end=end)
        step_meta = {**meta, "label": name, "frames": [first, last]}
        if name in TAKEOFFS:
            yield make_item(
                "takeoff",
                key=key,
                correct=TAKEOFFS[name],
                pool=TAKEOFFS.values(),
                evidence=span,
                metadata=step_meta,
                **common,
            )
        elif soms := _SOMERSAULTS.match(name):
            position = soms[2].capitalize()
            phase = f"{soms[1]} somersaults in {position.lower()} position"
            yield make_item(
                "dive_position", key=key, correct=position, pool=POSITIONS, evidence=span, metadata=step_meta, **common
            )
            yield make_item(
                "count_somersaults", key=key, answer=number(float(soms[1])), evidence=span, metadata=step_meta, **common
            )
            yield make_item(
                "when_phase",
                key=[*key, index],
                answer=span_text(start, end),
                evidence=span,
                label=phase,
                metadata=step_meta,
                **common,
            )
        elif turns := _TWISTS.match(name):
            twists += float(turns[1])
            yield make_item(
                "when_phase",
                key=[*key, index],
                answer=span_text(start, end),
                evidence=span,
                label=f"{turns[1]} twists",
                metadata=step_meta,
                **common,
            )
    yield make_item("count_twists", key=key, answer=number(twists), metadata={**meta, "label": "twists"}, **common)


def _scoring_items(
    record: dict[str, Any], video: str, key: list[Any], meta: dict[str, Any], tolerance: float
) -> Iterator[QAItem]:
    common: dict[str, Any] = dict(source=SOURCE, sport=SPORT, video=video, key=key)
    if record.get("difficulty") is not None:
        yield from nonempty(
            make_item(
                "dive_difficulty", answer=number(record["difficulty"]), metadata={**meta, "tolerance": 0.05}, **common
            )
        )
    if record.get("dive_score") is not None:
        yield from nonempty(
            make_item(
                "dive_score", answer=number(record["dive_score"]), metadata={**meta, "tolerance": tolerance}, **common
            )
        )


def _one(folder: Path, pattern: str, exclude: str | None = None) -> Path | None:
    found = [p for p in find_files(folder, [pattern]) if exclude is None or exclude not in p.name]
    return found[0] if found else None


def _records(file: Path | None) -> dict[tuple[str, int], dict[str, Any]]:
    """An annotation pickle as {(video_id, clip): record}, checked for the shape FineDiving publishes."""
    if file is None:
        return {}
    data = read_pickle(file, EXPECTED)
    if not isinstance(data, dict) or not all(isinstance(k, tuple) and len(k) == 2 for k in data):
        raise SourceError(f"{file}: expected a dict keyed by (video_id, clip) tuples; expected {EXPECTED}")
    for key, record in data.items():
        if not isinstance(record, dict) or "action_type" not in record:
            raise SourceError(f"{file}: record {key} has no action_type; expected {EXPECTED}")
    return {(str(k[0]), int(k[1])): v for k, v in data.items()}
