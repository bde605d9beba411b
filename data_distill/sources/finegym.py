"""FineGym: gymnastics events (routines) and the elements inside them (sdolivia.github.io/FineGym).

Files (``path`` is their folder):
- ``<label_set>_categories.txt`` (``label_set`` gym99, gym288 or gym530): "Clabel: 0; set: 1; Glabel: 1; (VT) name";
- element split files ``<label_set>_*element*.txt``: "<youtube_id>_E_<start>_<end>_A_<start>_<end> <Clabel>",
  the event span in whole seconds of the YouTube video, the element's in whole seconds from the event start;
- optional ``finegym_annotation_info_v1.*.json``: ``{youtube_id: {event_id: {"event", "timestamps": [[s, e]]
  (absolute seconds), "segments": {element_id: {"stages", "timestamps": [[s, e], ...] (seconds relative to the
  event start; three stages for vaults)}}}}}``, for exact times (else those in the ids are used);
- optional ``finegym_glabel_to_Qtree.json``: ``{Glabel: {"BTcode": "1101...", "questions": [...], "code"}}``,
  the yes/no attribute questions of each element (BTcode digit i answers question i) and, for vaults, the
  difficulty value in ``code``.

Items use event videos ("{youtube_id}_{event}.mp4", times from the event start) or, with
``event_videos=False``, the whole video ("{youtube_id}.mp4", absolute times). Questions: which element is
performed in a span, when an element is performed (when it is unique in the event's listed elements),
the attribute yes/no questions, and the difficulty value of vaults.

Options: ``label_set`` ("gym288"), ``event_videos`` (True), ``video_template`` (fields ``youtube_id``, ``event``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_distill.questions import make_item, nonempty, number, seconds, span_text
from data_distill.sources.common import SourceError, find_files, read_json, require_path
from deepsport.schemas import QAItem, Span

SOURCE = "finegym"
SPORT = "gymnastics"
EVENTS = {"VT": "vault", "FX": "floor exercise", "BB": "balance beam", "UB": "uneven bars"}
_CLIP = re.compile(r"^(?P<yt>.+)_(?P<event>E_(?P<es>\d+)_(?P<ee>\d+))_(?P<element>A_(?P<as>\d+)_(?P<ae>\d+))$")
_CATEGORY = re.compile(r"\((VT|FX|BB|UB)\)\s*(.+?)\s*$")


@dataclass(frozen=True)
class Category:
    label: int  # the label the split files use (Clabel, or Glabel for gym530)
    glabel: int
    set: int
    event: str  # VT, FX, BB or UB
    name: str


def load(
    path: Path, *, label_set: str = "gym288", event_videos: bool = True, video_template: str | None = None
) -> Iterator[QAItem]:
    """Items for every element listed in the split files (see the module docstring)."""
    folder = require_path(Path(path), "a FineGym annotation folder")
    if folder.is_file():
        folder = folder.parent
    categories = read_categories(_first(folder, f"{label_set}_categories*.txt", f"the {label_set} category list"))
    splits = find_files(folder, [f"{label_set}_*element*.txt"])
    if not splits:
        raise SourceError(f"{folder}: no {label_set}_*element*.txt split file; expected '<clip id> <label>' lines")
    info_files = find_files(folder, ["finegym_annotation_info*.json"])
    info = read_json(info_files[0], "FineGym annotation info {youtube_id: {event_id: ...}}") if info_files else {}
    qtree_files = find_files(folder, ["*glabel_to_Qtree*.json"])
    qtree = (
        read_json(qtree_files[0], "the FineGym question tree {Glabel: {BTcode, questions, code}}")
        if qtree_files
        else {}
    )
    template = video_template or ("{youtube_id}_{event}.mp4" if event_videos else "{youtube_id}.mp4")
    elements: dict[str, tuple[re.Match[str], Category, str | None]] = {}
    for file in splits:
        split = next((s for s in ("train", "val", "test") if s in file.name), None)
        for number_, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            match = _CLIP.match(parts[0]) if len(parts) == 2 and parts[1].isdigit() else None
            if match is None:
                raise SourceError(f"{file}:{number_}: {line[:80]!r}; expected '<youtube_id>_E_..._A_... <label>'")
            if int(parts[1]) not in categories:
                raise SourceError(f"{file}:{number_}: label {parts[1]} is not in {label_set}_categories.txt")
            elements.setdefault(parts[0], (match, categories[int(parts[1])], split))
    per_event = Counter((m["yt"], m["event"], c.label) for m, c, _ in elements.values())
    for clip, (match, category, split) in sorted(elements.items()):
        event_start, start, end = _times(match, info)
        offset = 0.0 if event_videos else event_start
        span = Span(start=offset + start, end=offset + end)
        video = template.format(youtube_id=match["yt"], event=match["event"])
        meta = {
            "youtube_id": match["yt"],
            "event": match["event"],
            "element": match["element"],
            "apparatus": EVENTS[category.event],
            "label": category.name,
            "glabel": category.glabel,
            "set": category.set,
            "split": split,
            "event_start": event_start,
        }
        common: dict[str, Any] = dict(source=SOURCE, sport=SPORT, video=video, key=clip, evidence=span, metadata=meta)
        times: dict[str, Any] = dict(start=seconds(span.start), end=seconds(span.end))
        pool = [c.name for c in categories.values() if c.set == category.set]
        item = make_item("element", correct=category.name, pool=pool, **times, **common)
        yield from [item] if item else []
        if per_event[(match["yt"], match["event"], category.label)] == 1:
            yield from nonempty(
                make_item("when_action", answer=span_text(span.start, span.end), label=category.name, **common)
            )
        tree = qtree.get(str(category.glabel))
        if isinstance(tree, dict):
            yield from _tree_items(tree, category, times, common)


def read_categories(file: Path) -> dict[int, Category]:
    """A FineGym category list: label -> Category."""
    out = {}
    for number_, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = dict(re.findall(r"(Clabel|set|Glabel):\s*(\d+)", line))
        name = _CATEGORY.search(line)
        if "set" not in fields or "Glabel" not in fields or name is None:
            raise SourceError(f"{file}:{number_}: {line[:80]!r}; expected 'Clabel: N; set: N; Glabel: N; (VT) name'")
        glabel = int(fields["Glabel"])
        label = int(fields.get("Clabel", glabel))
        out[label] = Category(label, glabel, int(fields["set"]), name[1], name[2])
    return out


def _tree_items(
    tree: dict[str, Any], category: Category, times: dict[str, Any], common: dict[str, Any]
) -> Iterator[QAItem]:
    questions, code = tree.get("questions", []), str(tree.get("BTcode", ""))
    for index, (question, bit) in enumerate(zip(questions, code, strict=False)):
        correct = "Yes" if bit == "1" else "No"
        item = make_item(
            "element_attribute",
            correct=correct,
            pool=("Yes", "No"),
            attribute=question.strip(),
            **times,
            **{**common, "key": [common["key"], index], "metadata": {**common["metadata"], "attribute": question}},
        )
        yield from [item] if item else []
    if category.event == "VT" and re.fullmatch(r"\d+\.\d\d", str(tree.get("code", ""))):
        yield from nonempty(make_item("vault_difficulty", answer=number(float(tree["code"])), **times, **common))


def _times(match: re.Match[str], info: dict[str, Any]) -> tuple[float, float, float]:
    """(event start in the video, element start and end from the event start), in seconds: from the annotation
    info when it has the element, else from the whole seconds in the clip id."""
    event = info.get(match["yt"], {}).get(match["event"], {}) if isinstance(info, dict) else {}
    segment = event.get("segments", {}).get(match["element"]) if isinstance(event, dict) else None
    if segment and segment.get("timestamps") and event.get("timestamps"):
        stamps = segment["timestamps"]
        return float(event["timestamps"][0][0]), float(min(s for s, _ in stamps)), float(max(e for _, e in stamps))
    return float(match["es"]), float(match["as"]), float(match["ae"])


def _first(folder: Path, pattern: str, what: str) -> Path:
    found = find_files(folder, [pattern])
    if not found:
        raise SourceError(f"{folder}: no {pattern}; expected {what}")
    return found[0]
