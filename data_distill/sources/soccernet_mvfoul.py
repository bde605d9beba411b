"""SoccerNet-MVFouls refereeing: ``<split>/annotations.json`` with videos ``<split>/action_<N>/clip_<K>.mp4``.

A file is ``{"Set", "Number of actions", "Actions": {"<N>": {"Offence", "Severity", "Action class", ...,
"Clips": [{"Url", "Camera type", "Timestamp", "Replay speed"}]}}}``. ``Offence`` is "Offence", "Between" or
"No offence"; ``Severity`` "1.0".."5.0" means no card, borderline no/yellow, yellow card, borderline
yellow/red, red card (empty when not applicable); an empty string means unknown. Clip 0 is the live main
camera, the others replays; a clip's ``Timestamp`` (ms in the half video) is kept in the metadata.

``path`` is the dataset folder (every ``annotations*.json`` below it) or one file. Questions are about the
whole clip (no evidence span): is it a foul (rules), which card (rules; borderline severities are skipped,
no offence means no card), which kind of action (recognition; "Dont know" skipped).

Options: ``all_clips`` (False: only the live clip 0; True: the same questions on every replay too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data_distill.questions import make_item
from data_distill.sources.common import SourceError, annotation_files, folder_name, read_json, require_path
from deepsport.schemas import QAItem

SOURCE = "soccernet_mvfoul"
SPORT = "soccer"
EXPECTED = 'SoccerNet-MVFouls annotations.json: {"Actions": {"<N>": {"Offence", "Severity", "Action class", "Clips"}}}'
OFFENCE = {"Offence": "Foul", "No offence": "No foul", "Between": "Borderline (could go either way)"}
CARDS = {"1.0": "No card", "3.0": "Yellow card", "5.0": "Red card"}
ACTION_CLASSES = ("Tackling", "Standing tackling", "High leg", "Holding", "Pushing", "Elbowing", "Challenge", "Dive")


def load(path: Path, *, all_clips: bool = False) -> Iterator[QAItem]:
    """Refereeing items for every action under ``path`` (see the module docstring)."""
    path = require_path(Path(path), "a SoccerNet-MVFouls folder or annotations.json")
    files = annotation_files(
        path, ["annotations*.json"], f"no annotations.json in this folder or below it; expected {EXPECTED}"
    )
    root = path if path.is_dir() else path.parent
    for file in files:
        data = read_json(file, EXPECTED)
        actions = data.get("Actions") if isinstance(data, dict) else None
        if not isinstance(actions, dict):
            raise SourceError(f'{file}: no "Actions" object; expected {EXPECTED}')
        split = folder_name(file, root)
        for number, action in sorted(actions.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else kv[0]):
            if not isinstance(action, dict) or not isinstance(action.get("Clips", []), list):
                raise SourceError(f"{file}: action {number} is not an object with a Clips list; expected {EXPECTED}")
            clips = action.get("Clips") or [{}]
            for index, clip in enumerate(clips if all_clips else clips[:1]):
                video = f"{split}/action_{number}/clip_{index}.mp4"
                yield from _items(action, video, [split, number, index], _metadata(action, clip, split, number))


def _metadata(action: dict[str, Any], clip: dict[str, Any], split: str, number: str) -> dict[str, Any]:
    fields = ("Offence", "Severity", "Action class", "Contact", "Bodypart", "Try to play", "Touch ball", "Handball")
    meta = {name.lower().replace(" ", "_"): action.get(name, "") for name in fields}
    meta.update(split=split, action=number, game=str(action.get("UrlLocal", "")).replace("\\", "/"))
    meta.update(
        camera=clip.get("Camera type"), timestamp_ms=clip.get("Timestamp"), replay_speed=clip.get("Replay speed")
    )
    return meta


def _items(action: dict[str, Any], video: str, key: list[Any], meta: dict[str, Any]) -> Iterator[QAItem]:
    common: dict[str, Any] = dict(source=SOURCE, sport=SPORT, video=video, key=key)
    offence, severity, kind = action.get("Offence", ""), str(action.get("Severity", "")), action.get("Action class", "")
    if offence in OFFENCE:
        item = make_item(
            "offence", correct=OFFENCE[offence], pool=OFFENCE.values(), metadata={**meta, "label": offence}, **common
        )
        yield from [item] if item else []
    card = "No card" if offence == "No offence" else CARDS.get(severity)
    if card is not None:
        item = make_item("sanction", correct=card, pool=CARDS.values(), metadata={**meta, "label": card}, **common)
        yield from [item] if item else []
    if kind in ACTION_CLASSES:
        item = make_item("foul_class", correct=kind, pool=ACTION_CLASSES, metadata={**meta, "label": kind}, **common)
        yield from [item] if item else []
