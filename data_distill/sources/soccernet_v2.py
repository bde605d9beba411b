"""SoccerNet-v2 action spotting: ``<league>/<season>/<game>/Labels-v2.json``, one video per half.

``path`` is the dataset folder (every ``Labels-v2*.json`` below it), one game folder, or one labels file (any
``.json`` name). Parsing is ``deepsport.spotting.labels.read_labels``: ``position`` is milliseconds from the start
of the half's video, so times here are seconds in that video. Items name the video ``<game>/<half>_<resolution>.mkv``
relative to the dataset folder (to the game folder's parent when ``path`` is one game).

Questions: when an event happens (in the whole half when its label is unique there, else inside a window
holding only that one), what happens at a time (no other event within ``min_gap`` s), how play restarts after
the ball goes out or a foul (rules), and how many events of each label a half holds (``counting``; only right
for complete label files). Events annotated "not shown" are not asked about unless ``include_not_shown``.

Options: ``resolution`` ("224p"), ``window`` (60 s), ``min_gap`` (3 s), ``tolerance`` (2 s, for moments),
``restart_within`` (60 s), ``include_not_shown`` (False), ``counting`` (True).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from data_distill.questions import make_item, nonempty, seconds
from data_distill.sources.common import SourceError, folder_name, require_path
from deepsport.schemas import QAItem, Span
from deepsport.spotting.labels import LABELS_FILE, V2_LABELS, Annotation, LabelsError, read_labels

SOURCE = "soccernet_v2"
SPORT = "soccer"
EXPECTED = f"a SoccerNet game folder with {LABELS_FILE}, a folder of them, or a labels .json file"
RESTARTS = ("Throw-in", "Corner", "Clearance", "Direct free-kick", "Indirect free-kick", "Penalty", "Kick-off")
AFTER = {"Ball out of play": RESTARTS, "Foul": ("Direct free-kick", "Indirect free-kick", "Penalty")}


def load(
    path: Path,
    *,
    resolution: str = "224p",
    window: float = 60.0,
    min_gap: float = 3.0,
    tolerance: float = 2.0,
    restart_within: float = 60.0,
    include_not_shown: bool = False,
    counting: bool = True,
) -> Iterator[QAItem]:
    """Items for every game under ``path`` (see the module docstring)."""
    path = require_path(Path(path), EXPECTED)
    files = [path] if path.is_file() else sorted(path.rglob("Labels-v2*.json"))
    if not files:
        raise SourceError(f"{path}: no {LABELS_FILE} in this folder or below it; expected {EXPECTED}")
    root = path if path.is_dir() else path.parent
    for file in files:
        try:
            labels = read_labels(file)
        except LabelsError as err:
            raise SourceError(str(err)) from None
        game = folder_name(file, root)
        for half in sorted({a.half for a in labels.annotations}):
            video = f"{game}/{half}_{resolution}.mkv"
            events = labels.in_half(half)
            yield from _event_items(
                events,
                video,
                game,
                restart_within,
                window=window,
                min_gap=min_gap,
                tolerance=tolerance,
                include_not_shown=include_not_shown,
            )
            if counting:
                yield from _count_items(events, video, game)


def _event_items(
    events: list[Annotation],
    video: str,
    game: str,
    restart_within: float,
    *,
    window: float,
    min_gap: float,
    tolerance: float,
    include_not_shown: bool,
) -> Iterator[QAItem]:
    pool = sorted({*V2_LABELS, *(a.label for a in events)})
    for index, event in enumerate(events):
        key = [event.half, index, event.label]
        meta = {
            "game": game,
            "half": event.half,
            "label": event.label,
            "team": event.team,
            "visibility": event.visibility,
            "game_time": event.game_time,
            "position_ms": event.position,
            "tolerance": tolerance,
        }
        common: dict[str, Any] = dict(source=SOURCE, sport=SPORT, video=video, key=key, metadata=meta)
        moment = Span(start=event.time, end=event.time)
        if event.visibility == "visible" or include_not_shown:
            same = [a for a in events if a.label == event.label]
            if len(same) == 1:
                yield from nonempty(
                    make_item(
                        "when_event", answer=seconds(event.time), evidence=moment, label=event.label.lower(), **common
                    )
                )
            else:
                start, end = max(0.0, event.time - window / 2), event.time + window / 2
                if sum(start <= a.time <= end for a in same) == 1:
                    yield from nonempty(
                        make_item(
                            "when_event_window",
                            answer=seconds(event.time),
                            evidence=moment,
                            label=event.label.lower(),
                            start=seconds(start),
                            end=seconds(end),
                            **common,
                        )
                    )
            if all(abs(a.time - event.time) > min_gap for a in events if a is not event):
                item = make_item(
                    "event_at", correct=event.label, pool=pool, evidence=moment, time=seconds(event.time), **common
                )
                if item is not None:
                    yield item
        restart = _restart(events, index, restart_within)
        if restart is not None:
            item = make_item(
                "restart",
                correct=restart.label,
                pool=AFTER[event.label],
                evidence=Span(start=event.time, end=restart.time),
                event=event.label.lower(),
                time=seconds(event.time),
                **{**common, "metadata": {**meta, "restart": restart.label, "restart_time": restart.time}},
            )
            if item is not None:
                yield item


def _restart(events: list[Annotation], index: int, within: float) -> Annotation | None:
    """The restart that follows a ball out of play or a foul, within ``within`` s and before the next stoppage."""
    event = events[index]
    if event.label not in AFTER:
        return None
    for later in events[index + 1 :]:
        if later.time - event.time > within or later.label in AFTER:
            return None
        if later.label in AFTER[event.label]:
            return later
    return None


def _count_items(events: list[Annotation], video: str, game: str) -> Iterator[QAItem]:
    for label in sorted({a.label for a in events}):
        times = [a.time for a in events if a.label == label]
        yield from nonempty(
            make_item(
                "count_events",
                source=SOURCE,
                sport=SPORT,
                video=video,
                key=[events[0].half, label],
                answer=str(len(times)),
                evidence=Span(start=min(times), end=max(times)),
                metadata={"game": game, "half": events[0].half, "label": label, "times": times},
                label=label.lower(),
            )
        )
