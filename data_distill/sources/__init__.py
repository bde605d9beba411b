"""Source adapters: each dataset's own annotation files, as published, turned into QAItems.

Every adapter module exposes ``load(path: Path, **options) -> Iterator[QAItem]``, where ``path`` is the
source's annotation file or folder; its docstring lists the files it reads and its options. Use them through
``load_source(name, path, **options)``; bad or missing files raise SourceError with a one-line message.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_distill.sources.common import SourceError
from deepsport.schemas import QAItem

__all__ = ["SOURCES", "Adapter", "SourceError", "load_source"]


@dataclass(frozen=True)
class Adapter:
    """A source: its name, the module holding its ``load`` and what ``path`` should point at."""

    name: str
    module: str
    expects: str

    @property
    def load(self) -> Callable[..., Iterator[QAItem]]:
        return importlib.import_module(self.module).load

    def options(self) -> dict[str, Any]:
        """The adapter's options and their defaults."""
        parameters = list(inspect.signature(self.load).parameters.values())[1:]
        return {p.name: p.default for p in parameters}


def _adapter(name: str, expects: str) -> Adapter:
    return Adapter(name, f"data_distill.sources.{name}", expects)


SOURCES: dict[str, Adapter] = {
    a.name: a
    for a in (
        _adapter("soccernet_v2", "a folder of SoccerNet games with Labels-v2.json, one game, or one labels file"),
        _adapter("soccernet_echoes", "a SoccerNet-Echoes folder of <game>/<half>_asr.json, or one such file"),
        _adapter("soccernet_mvfoul", "a SoccerNet-MVFouls folder of <split>/annotations.json, or one such file"),
        _adapter("finediving", "the FineDiving Annotations folder (fine-grained and coarse pickles)"),
        _adapter("finegym", "a FineGym folder with gym99/gym288 categories and element split files"),
        _adapter("penn_action", "the Penn Action labels folder of <id>.mat files, or one .mat file"),
        _adapter("nsva", "an NSVA folder with the caption JSON and action_list_{Coarse,Fine}.json"),
        _adapter("multisports", "the MultiSports ground-truth pickle (multisports_GT.pkl) or its folder"),
        _adapter("sportu", "a folder with SportU_Video_mc.json / SportU_video_oe.json, or one of them"),
        _adapter("custom", "your own events or QA as .csv or .jsonl (columns in data_distill/sources/custom.py)"),
    )
}


def load_source(name: str, path: str | Path, **options: Any) -> Iterator[QAItem]:
    """The items of source ``name`` read from ``path``. Raises SourceError (one line) for an unknown source,
    an unknown option, or a missing or malformed file."""
    if name not in SOURCES:
        raise SourceError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    adapter = SOURCES[name]
    unknown = sorted(set(options) - set(adapter.options()))
    if unknown:
        known = ", ".join(adapter.options()) or "none"
        raise SourceError(f"source {name}: unknown option(s) {', '.join(unknown)}; it takes: {known}")
    return adapter.load(Path(path), **options)
