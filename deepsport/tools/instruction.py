"""``find_instruction``: instructional clips from a library that teach the fix for a mistake (``deepsport coach``).

Offered only when a library is configured (``tool_options.find_instruction.library``, ``deepsport ask --library``).
The library's index is loaded once per process and shared by the episodes that use it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from deepsport.tools.base import Episode, Tool, ToolError, ToolResult, register

if TYPE_CHECKING:
    from deepsport.coach.ranking import Index

DEFAULT_TOP_K = 3
_INDEXES: dict[tuple[str, int], Index] = {}  # (library folder, segments file's mtime) -> Index
_LOCK = threading.Lock()


@register
class FindInstruction(Tool):
    name = "find_instruction"
    description = (
        "Search a library of instructional (coaching) videos for the clips that teach how to fix a mistake or "
        "perform a skill. Give `query` in words (the mistake, e.g. 'hips rise before the shoulders in the pull', "
        "or the skill), and `sport` to stay within one sport. Returns clips with their video, time span in "
        "seconds, the coach's narration and why they match, best first."
    )
    parameters = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "description": "The mistake or skill, in words."},
            "sport": {"type": "string", "description": "Only clips of this sport, e.g. tennis."},
            "top_k": {
                "type": "integer",
                "minimum": 1,
                "maximum": 10,
                "description": f"How many clips (default {DEFAULT_TOP_K}).",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    }
    requires = ("library",)

    def __init__(self, episode: Episode, library: str | os.PathLike | None = None) -> None:
        """`library`: the library folder (``deepsport library add``); checked on the first call."""
        super().__init__(episode)
        self.library = None if library is None else Path(library)

    def execute(self, query: str, sport: str | None = None, top_k: int = DEFAULT_TOP_K) -> ToolResult:
        index = self._index()
        notes = []
        sports = sorted(set(index.sports.tolist()))
        if sport and sport.lower() not in sports:
            notes.append(f"no clips for sport '{sport}'; the library has: {', '.join(sports)}; searched them all")
            sport = None
        matches = index.search(query, None, sport, top_k, ("text",))
        if index.warning:
            notes.append(index.warning)
        head = f"{len(matches)} clip{'s' if len(matches) != 1 else ''} for {query!r}" if matches else "No clip matches"
        lines = [head + (f" ({'; '.join(notes)})." if notes else ".")]
        for rank, match in enumerate(matches, 1):
            s = match.segment
            lines.append(
                f"{rank}. {Path(s.video).name} {s.start:.2f}s-{s.end:.2f}s ({s.sport}, {s.skill}): "
                f'"{s.text}" — why: {match.why()}'
            )
        return ToolResult(text="\n".join(lines))

    def _index(self) -> Index:
        """The library's index, loaded once per process; ToolError when it cannot be read."""
        from deepsport.coach.library import LibraryError
        from deepsport.coach.ranking import load_index

        if self.library is None:
            raise ToolError("no instruction library is configured (tool_options.find_instruction.library).")
        segments = self.library / "segments.jsonl"
        key = (str(self.library.resolve()), segments.stat().st_mtime_ns if segments.exists() else 0)
        with _LOCK:
            if key not in _INDEXES:
                try:
                    _INDEXES[key] = load_index(self.library)
                except LibraryError as err:
                    raise ToolError(f"the instruction library cannot be read: {err}") from None
            return _INDEXES[key]
