"""NSVA basketball (github.com/jackwu502/NSVA): NBA play clips with play-by-play captions and action labels.

Files (``path`` is their folder):
- the caption file (``ourds_description_only.json``; any JSON with a "sentences" list), MSR-VTT style
  ``{"sentences": [{"video_id": "video12", "caption": "<T2>_Made_Shot-Jump_Shot Foul-Personal"}, ...]}``:
  ``<T2>_`` captions list the clip's event labels (space separated), ``<T3>_`` ones are the play-by-play
  description; ``<T1>_`` (player identification) and ``<T4>_`` captions are not used;
- ``action_list_Coarse.json`` and ``action_list_Fine.json``: event label -> coarse / fine action;
- optional ``videoid2gameid_eventid.json`` (``video_id`` -> "<NBA game id>-<event id>") naming the clip files,
  and ``split2video_id_after_videos_combination.json`` (split -> video ids).
Clips are whole plays (no time span). Videos are named by ``video_template``, with fields ``video_id`` and
``game_event`` (default "{game_event}.mp4" when the id map is there, else "{video_id}.mp4").

Questions: which coarse event happens (recognition), which foul or violation is called (rules), whether a
shot is made or missed (recognition), and the play-by-play line (commentary, free text).

Options: ``video_template`` (see above).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data_distill.questions import make_item, nonempty
from data_distill.sources.common import SourceError, find_files, read_json, require_path
from deepsport.schemas import QAItem

SOURCE = "nsva"
SPORT = "basketball"
EXPECTED = 'NSVA captions: {"sentences": [{"video_id": "videoN", "caption": "<T2>_... | <T3>_..."}]}'
CALLS = ("Foul", "Violation")  # coarse classes whose fine label is a referee's call


def load(path: Path, *, video_template: str | None = None) -> Iterator[QAItem]:
    """Items for every captioned clip (see the module docstring)."""
    folder = require_path(Path(path), "an NSVA annotation folder")
    if folder.is_file():
        folder = folder.parent
    coarse = _map(folder, "action_list_Coarse*.json")
    fine = _map(folder, "action_list_Fine*.json")
    captions = _captions(folder)
    ids = find_files(folder, ["videoid2gameid_eventid*.json"])
    game_event = read_json(ids[0], "a map video_id -> '<game id>-<event id>'") if ids else {}
    split_files = find_files(folder, ["split2video_id*.json"])
    splits = read_json(split_files[0], "a map split -> video ids") if split_files else {}
    split_of = {vid: split for split, vids in splits.items() for vid in vids} if isinstance(splits, dict) else {}
    template = video_template or ("{game_event}.mp4" if game_event else "{video_id}.mp4")
    for video_id in sorted(captions, key=lambda v: (len(v), v)):
        if "{game_event}" in template and video_id not in game_event:
            continue  # no clip file name for this video id
        video = template.format(video_id=video_id, game_event=game_event.get(video_id, ""))
        meta = {"video_id": video_id, "game_event": game_event.get(video_id), "split": split_of.get(video_id)}
        common: dict[str, Any] = dict(source=SOURCE, sport=SPORT, video=video)
        for index, caption in enumerate(captions[video_id]):
            if caption.startswith("<T2>_"):
                yield from _label_items(caption[5:].split(), coarse, fine, common, meta, index)
            elif caption.startswith("<T3>_") and caption[5:].strip():
                text = caption[5:].strip()
                yield from nonempty(
                    make_item("play_caption", key=[video_id, index], answer=text, metadata=meta, **common)
                )


def _label_items(
    events: list[str],
    coarse: dict[str, str],
    fine: dict[str, str],
    common: dict[str, Any],
    meta: dict[str, Any],
    index: int,
) -> Iterator[QAItem]:
    known = [e for e in events if e in coarse]
    present = {coarse[e] for e in known}
    video_id = meta["video_id"]
    for number, event in enumerate(known):
        key = [video_id, index, number]
        event_meta = {**meta, "event": event, "events": events, "label": coarse[event]}
        pool = sorted(set(coarse.values()) - present)
        yield from nonempty(
            make_item("event_in_clip", key=key, correct=coarse[event], pool=pool, metadata=event_meta, **common)
        )
        if coarse[event] in CALLS and event in fine:
            calls = sorted({fine[e] for e in coarse if coarse[e] == coarse[event]} - {fine[e] for e in known})
            label = fine[event].replace("_", " ")
            pool = [c.replace("_", " ") for c in calls]
            yield from nonempty(
                make_item(
                    "foul_type", key=key, correct=label, pool=pool, metadata={**event_meta, "label": label}, **common
                )
            )
        if event.startswith(("Made_Shot-", "Missed_Shot-")):
            outcome = "Made" if event.startswith("Made") else "Missed"
            shot = fine[event].replace("_", " ").lower()
            yield from nonempty(
                make_item(
                    "shot_outcome",
                    key=key,
                    correct=outcome,
                    pool=("Made", "Missed"),
                    shot=shot,
                    metadata={**event_meta, "label": outcome},
                    **common,
                )
            )


def _captions(folder: Path) -> dict[str, list[str]]:
    """video_id -> its captions, in file order, from the first JSON file holding a "sentences" list."""
    for file in find_files(folder, ["*.json"]):
        data = read_json(file, EXPECTED)
        if isinstance(data, dict) and isinstance(data.get("sentences"), list):
            out: dict[str, list[str]] = {}
            for number, sentence in enumerate(data["sentences"]):
                if not isinstance(sentence, dict) or not {"video_id", "caption"} <= sentence.keys():
                    raise SourceError(f"{file}: sentence {number} has no video_id or caption; expected {EXPECTED}")
                out.setdefault(str(sentence["video_id"]), []).append(str(sentence["caption"]).strip())
            return out
    raise SourceError(
        f"{folder}: no caption file (ourds_description_only.json) with a sentences list; expected {EXPECTED}"
    )


def _map(folder: Path, pattern: str) -> dict[str, str]:
    found = find_files(folder, [pattern])
    if not found:
        raise SourceError(f"{folder}: no {pattern}; expected NSVA's event label -> action map")
    data = read_json(found[0], "a JSON object event label -> action")
    if not isinstance(data, dict):
        raise SourceError(f"{found[0]}: expected a JSON object event label -> action")
    return {str(k): str(v) for k, v in data.items()}
