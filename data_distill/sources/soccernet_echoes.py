"""SoccerNet-Echoes: Whisper ASR of SoccerNet games, ``<asr_version>/<league>/<season>/<game>/<half>_asr.json``.

A file is ``{"segments": {"<index>": [start_s, end_s, "text"]}}``; times are seconds in that half's video (the
time base of SoccerNet-v2 labels). ``path`` is an ASR version folder (every ``*asr*.json`` below it) or one file;
the half comes from the file name (``1_asr.json``, or ``half1`` in it). Items name the video
``<game>/<half>_<resolution>.mkv`` relative to ``path`` (to the game folder's parent when ``path`` is one file).

Whisper sometimes loops: a segment repeating a phrase over and over, or the same text segment after segment.
Such segments are dropped (``is_loop``). The rest are grouped into windows of at most ``window`` seconds
(a gap over ``max_gap`` s starts a new one) and each window becomes one commentary question whose reference
is what the commentators said (free text, graded by the judge). Windows with fewer than ``min_words`` words
are skipped. ``metadata["asr_version"]`` names the ASR run (``*_en`` ones are English translations).

Options: ``resolution`` ("224p"), ``window`` (30 s), ``max_gap`` (5 s), ``min_words`` (8).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from data_distill.questions import make_item, nonempty, seconds
from data_distill.sources.common import SourceError, annotation_files, folder_name, read_json, require_path
from deepsport.schemas import QAItem, Span
from deepsport.scoring import normalize_text

SOURCE = "soccernet_echoes"
SPORT = "soccer"
EXPECTED = 'SoccerNet-Echoes ASR JSON: {"segments": {"<index>": [start_s, end_s, "text"]}}'
_HALF = re.compile(r"(?:^|half)(\d)(?:_asr|\D)")
_VERSION = re.compile(r"whisper_v\d(?:_en)?")
RECENT = 3  # a segment repeating one of the last RECENT texts is a loop


def load(
    path: Path, *, resolution: str = "224p", window: float = 30.0, max_gap: float = 5.0, min_words: int = 8
) -> Iterator[QAItem]:
    """Commentary items for every ASR file under ``path`` (see the module docstring)."""
    path = require_path(Path(path), "a SoccerNet-Echoes folder or <half>_asr.json file")
    files = annotation_files(
        path, ["*asr*.json"], f"no *_asr.json file in this folder or below it; expected {EXPECTED}"
    )
    root = path if path.is_dir() else path.parent
    for file in files:
        half = _HALF.search(file.name)
        if half is None:
            raise SourceError(f"{file}: cannot tell the half from the name; expected 1_asr.json or 2_asr.json")
        game = folder_name(file, root)
        version = _VERSION.search(file.as_posix())
        meta = {"game": game, "half": int(half[1]), "asr_version": version[0] if version else None}
        video = f"{game}/{half[1]}_{resolution}.mkv"
        for start, end, text in _windows(clean_segments(read_segments(file)), window, max_gap):
            if len(text.split()) < min_words:
                continue
            yield from nonempty(
                make_item(
                    "commentary",
                    source=SOURCE,
                    sport=SPORT,
                    video=video,
                    key=[file.name, start, end],
                    answer=text,
                    evidence=Span(start=start, end=end),
                    metadata=meta,
                    start=seconds(start),
                    end=seconds(end),
                )
            )


def read_segments(file: Path) -> list[tuple[float, float, str]]:
    """The segments of one ASR file, sorted by start time."""
    data = read_json(file, EXPECTED)
    segments = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(segments, dict):
        raise SourceError(f'{file}: no "segments" object; expected {EXPECTED}')
    out = []
    for index, value in segments.items():
        ok = isinstance(value, list) and len(value) == 3 and isinstance(value[2], str)
        if not ok or not all(isinstance(v, int | float) for v in value[:2]) or value[1] < value[0]:
            raise SourceError(f"{file}: segment {index} is {str(value)[:80]}; expected [start_s, end_s, text]")
        out.append((float(value[0]), float(value[1]), value[2].strip()))
    return sorted(out)


def is_loop(text: str, min_repeats: int = 3, min_share: float = 0.6) -> bool:
    """True when a phrase repeats back to back at least ``min_repeats`` times over most of the text."""
    words = normalize_text(text).split()
    for size in range(1, len(words) // min_repeats + 1):
        for start in range(len(words) - size * min_repeats + 1):
            phrase, repeats = words[start : start + size], 1
            while words[start + repeats * size : start + (repeats + 1) * size] == phrase:
                repeats += 1
            if repeats >= min_repeats and repeats * size >= min_share * len(words):
                return True
    return False


def clean_segments(segments: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Drop empty segments, phrase loops, and segments repeating one of the previous few texts."""
    kept: list[tuple[float, float, str]] = []
    recent: list[str] = []
    for start, end, text in segments:
        norm = normalize_text(text)
        if norm and norm not in recent and not is_loop(text):
            kept.append((start, end, text))
        recent = [*recent, norm][-RECENT:]
    return kept


def _windows(
    segments: list[tuple[float, float, str]], window: float, max_gap: float
) -> Iterator[tuple[float, float, str]]:
    """Consecutive segments grouped while they fit in ``window`` seconds and follow each other closely."""
    group: list[tuple[float, float, str]] = []
    for segment in segments:
        if group and (segment[1] - group[0][0] > window or segment[0] - group[-1][1] > max_gap):
            yield group[0][0], group[-1][1], " ".join(text for _, _, text in group)
            group = []
        group.append(segment)
    if group:
        yield group[0][0], group[-1][1], " ".join(text for _, _, text in group)
