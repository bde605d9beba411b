"""SPORTU-video (github.com/chili-lab/SPORTU): ready-made questions about short clips of seven sports.

Files (``path`` is their folder or one of them): ``SportU_Video_mc.json``, multiple choice, ``[{"id":
"<sport>_<clip>[_<view>]", "question", "options": {"A": ..., "D": ...} (sometimes only A and B; counting
options are numbers), "answer": "<letter>", "difficulty level"}]``; ``SportU_video_oe.json``, open ended,
``[{"id", "question", "answer" (short free text), "difficulty level"}]``. No timestamps: questions are about
the whole clip. The sport is the id without its clip number ("american_football_93" -> american football);
videos are named by ``video_template`` ("{id}.mp4").

Task type from the question: "how many" is counting, fouls, violations, penalties and errors are rules,
anything else recognition.

Options: ``video_template`` ("{id}.mp4").
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data_distill.questions import FORMAT_HINTS, item_id
from data_distill.sources.common import SourceError, annotation_files, read_json, require_path
from deepsport.schemas import QAItem

SOURCE = "sportu"
EXPECTED = 'SPORTU JSON: [{"id", "question", "options"?, "answer", "difficulty level"}]'
_SPORT = re.compile(r"^(.*?)_\d+(?:_\w+)?$")
_RULES = re.compile(r"\b(foul|violation|rule|penalt|offside|illegal|error|referee|handball|card)", re.IGNORECASE)


def load(path: Path, *, video_template: str = "{id}.mp4") -> Iterator[QAItem]:
    """The questions of every SPORTU file under ``path`` (see the module docstring)."""
    path = require_path(Path(path), "a SPORTU folder or question file")
    files = annotation_files(
        path,
        ["SportU_*.json", "SportU*video*.json"],
        f"no SportU_Video_mc.json or SportU_video_oe.json; expected {EXPECTED}",
    )
    for file in files:
        records = read_json(file, EXPECTED)
        if not isinstance(records, list):
            raise SourceError(f"{file}: expected a JSON list of questions; expected {EXPECTED}")
        for number, record in enumerate(records):
            yield _item(record, file, number, video_template)


def _item(record: Any, file: Path, number: int, video_template: str) -> QAItem:
    if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("id", "question")):
        raise SourceError(f"{file}: question {number} has no id or question text; expected {EXPECTED}")
    if "answer" not in record:
        raise SourceError(f"{file}: question {number} ({record['id']}) has no answer")
    question = record["question"].strip()
    options = record.get("options")
    answer = str(record["answer"]).strip()
    if options is not None:
        if not isinstance(options, dict) or answer not in options:
            raise SourceError(
                f"{file}: question {number} ({record['id']}): answer {answer!r} is not one of its options"
            )
        letters = sorted(options)
        if letters != list(string.ascii_uppercase[: len(letters)]):
            raise SourceError(f"{file}: question {number} ({record['id']}): options {letters}; expected A, B, ...")
        options = [str(options[letter]).strip() for letter in letters]
    counting = question.lower().startswith("how many")
    rules = bool(_RULES.search(question))
    task = "counting" if counting else "rules" if rules else "recognition"
    text = question
    if options:
        text += "\n" + "\n".join(f"{string.ascii_uppercase[i]}. {option}" for i, option in enumerate(options))
        text += "\n" + FORMAT_HINTS["choice"]
    match = _SPORT.match(record["id"])
    sport = (match[1] if match else record["id"]).lower().replace("_", " ")
    video = video_template.format(id=record["id"])
    kind = "mc" if options else "oe"
    return QAItem(
        id=item_id(SOURCE, kind, video, question),
        video=video,
        question=text,
        answer=answer,
        answer_type="choice" if options else "text",
        options=options,
        sport=sport,
        dimension="rules" if task == "rules" else "recognition",
        task_type=task,
        source=SOURCE,
        metadata={"template": f"sportu_{kind}", "clip": record["id"], "difficulty": record.get("difficulty level")},
    )
