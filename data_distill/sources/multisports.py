"""MultiSports (github.com/MCG-NJU/MultiSports): spatio-temporal action tubes in aerobics, volleyball, soccer
and basketball, 66 action classes.

``path`` is the ground-truth pickle ``multisports_GT.pkl`` (or its folder): ``{"labels": [66 names],
"train_videos": [[vid, ...]], "test_videos": [[vid, ...]], "nframes": {vid: n}, "resolution": {vid: (h, w)},
"gttubes": {vid: {label_index: [tube, ...]}}}`` where ``vid`` is "<sport>/<youtube id>_cNNN", label indices
count from 0 and a tube is an (n x 5) array of rows (frame, x1, y1, x2, y2) with frames counted from 1 and
boxes in pixels. Split pickles without "labels" need ``labels_file``: one label per line, optionally after
its index and a tab ("0<TAB>aerobic push up"). Videos are "<vid>.mp4" (``video_template`` "{vid}.mp4").

A tube over frames a..b (1-based) spans ``(a - 1) / fps`` to ``b / fps`` seconds. Questions: when an action
happens (labels with one tube in the video), which action happens in a tube's span (distractors: the
sport's labels with no tube overlapping it), and how many times each action happens in the video.

Options: ``fps`` (25.0), ``video_template`` ("{vid}.mp4"), ``labels_file`` (None).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from data_distill.questions import make_item, nonempty, seconds, span_text
from data_distill.sources.common import SourceError, find_files, read_pickle, require_path
from deepsport.schemas import QAItem, Span

SOURCE = "multisports"
SPORTS = {"aerobic": "aerobic gymnastics", "volleyball": "volleyball", "football": "soccer", "basketball": "basketball"}
EXPECTED = 'the MultiSports ground-truth pickle {"labels", "gttubes", "nframes", "train_videos", "test_videos"}'


def load(
    path: Path, *, fps: float = 25.0, video_template: str = "{vid}.mp4", labels_file: Path | None = None
) -> Iterator[QAItem]:
    """Items for every video with ground-truth tubes (see the module docstring)."""
    path = require_path(Path(path), EXPECTED)
    if path.is_dir():
        found = find_files(path, ["*GT*.pkl", "*gt*.pkl"])
        if not found:
            raise SourceError(f"{path}: no multisports_GT.pkl; expected {EXPECTED}")
        path = found[0]
    data = read_pickle(path, EXPECTED)
    if not isinstance(data, dict) or not isinstance(data.get("gttubes"), dict):
        raise SourceError(f'{path}: no "gttubes" dict; expected {EXPECTED}')
    labels = _labels(data, path, labels_file)
    split_of = {vid: split for split in ("train", "test") for group in data.get(f"{split}_videos", []) for vid in group}
    for vid in sorted(data["gttubes"]):
        tubes = [
            (int(index), _tube(tube, path, vid)) for index, group in data["gttubes"][vid].items() for tube in group
        ]
        if any(index >= len(labels) for index, _ in tubes):
            raise SourceError(f"{path}: video {vid} has a label index past the {len(labels)} labels")
        spans = [(labels[index], Span(start=(t[0, 0] - 1) / fps, end=t[-1, 0] / fps), t) for index, t in tubes]
        spans.sort(key=lambda s: (s[1].start, s[0]))
        sport_key = vid.split("/")[0].split("_")[0]
        sport = SPORTS.get(sport_key, sport_key)
        meta = {
            "vid": vid,
            "split": split_of.get(vid),
            "fps": fps,
            "resolution": _plain(data.get("resolution", {}).get(vid)),
        }
        common: dict[str, Any] = dict(source=SOURCE, sport=sport, video=video_template.format(vid=vid))
        yield from _items(spans, labels, sport_key, common, meta)


def _items(
    spans: list[tuple[str, Span, np.ndarray]],
    labels: list[str],
    sport_key: str,
    common: dict[str, Any],
    meta: dict[str, Any],
) -> Iterator[QAItem]:
    sport_labels = [label for label in labels if label.split()[0] == sport_key] or labels
    for number, (label, span, tube) in enumerate(spans):
        action = _action(label)
        tube_meta = {
            **meta,
            "label": action,
            "frames": [int(tube[0, 0]), int(tube[-1, 0])],
            "box": tube[0, 1:].tolist(),
        }
        key = [meta["vid"], number]
        if sum(other == label for other, _, _ in spans) == 1:
            yield from nonempty(
                make_item(
                    "when_action",
                    key=key,
                    answer=span_text(span.start, span.end),
                    evidence=span,
                    label=action,
                    metadata=tube_meta,
                    **common,
                )
            )
        overlapping = {other for other, s, _ in spans if s.start < span.end and span.start < s.end}
        pool = [_action(other) for other in sport_labels if other not in overlapping]
        times = dict(start=seconds(span.start), end=seconds(span.end))
        item = make_item(
            "action_in_span", key=key, correct=action, pool=pool, evidence=span, metadata=tube_meta, **times, **common
        )
        yield from [item] if item else []
    for label in sorted({label for label, _, _ in spans}):
        found = [s for other, s, _ in spans if other == label]
        yield from nonempty(
            make_item(
                "count_events",
                key=[meta["vid"], label],
                answer=str(len(found)),
                evidence=Span(start=min(s.start for s in found), end=max(s.end for s in found)),
                label=_action(label),
                metadata={**meta, "label": _action(label)},
                **common,
            )
        )


def _plain(value: Any) -> Any:
    """A (height, width) tuple or array as a JSON-ready list."""
    return None if value is None else [int(v) for v in value]


def _action(label: str) -> str:
    """The action without its sport prefix ("volleyball spike" -> "spike")."""
    head, _, rest = label.partition(" ")
    return rest if head in SPORTS and rest else label


def _tube(tube: Any, path: Path, vid: str) -> np.ndarray:
    array = np.asarray(tube, dtype=float)
    if array.ndim != 2 or array.shape[1] != 5 or len(array) == 0 or array[0, 0] < 1:
        raise SourceError(
            f"{path}: video {vid} has a tube of shape {array.shape}; expected n x 5 rows (frame from 1, box)"
        )
    return array[np.argsort(array[:, 0])]


def _labels(data: dict[str, Any], path: Path, labels_file: Path | None) -> list[str]:
    if labels_file is not None:
        file = require_path(Path(labels_file), "a text file with one MultiSports label per line")
        lines = [line.split("\t")[-1].strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        return lines
    if isinstance(data.get("labels"), list | tuple) and data["labels"]:
        return [str(label) for label in data["labels"]]
    raise SourceError(f'{path}: no "labels" list in the pickle; pass labels_file (one label per line)')
