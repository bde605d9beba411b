"""``spot_actions``: when do things happen? Timestamps with scores, to look at with ``choose_frames``."""

from __future__ import annotations

import os

from deepsport.prompts import time_label
from deepsport.spotting import make_spotter, select_events
from deepsport.tools.base import Episode, Tool, ToolResult, register

DEFAULT_TOP_K = 10


@register
class SpotActions(Tool):
    name = "spot_actions"
    description = (
        "Find when events happen in the video (e.g. goals, fouls, serves, or salient moments): returns events with "
        "their label, time in seconds and a score from 0 to 1, sorted by time, as text. Look at an event with "
        "choose_frames around its time. The result says which labels this spotter can name."
    )
    parameters = {
        "type": "object",
        "properties": {
            "labels": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "description": "Only events with these labels (default: every label).",
            },
            "start": {"type": "number", "minimum": 0, "description": "Only events from this time, in seconds."},
            "end": {"type": "number", "minimum": 0, "description": "Only events up to this time, in seconds."},
            "top_k": {
                "type": "integer",
                "minimum": 1,
                "maximum": 50,
                "description": f"Only the best-scoring events, at most this many (default {DEFAULT_TOP_K}).",
            },
        },
        "additionalProperties": False,
    }

    def __init__(self, episode: Episode, checkpoint: str | os.PathLike | None = None) -> None:
        """`checkpoint`: a trained spotter to load (CheckpointError when it cannot be); None: the training-free one."""
        super().__init__(episode)
        self.spotter = make_spotter(checkpoint)  # keeps what it computes for this episode

    def execute(
        self,
        labels: list[str] | None = None,
        start: float = 0.0,
        end: float | None = None,
        top_k: int = DEFAULT_TOP_K,
    ) -> ToolResult:
        end, clipped = self.episode.clip_window(start, self.episode.duration if end is None else end)
        notes = [self.spotter.note, *clipped]
        known = [label for label in labels or [] if label in self.spotter.labels]
        unknown = [label for label in labels or [] if label not in self.spotter.labels]
        if unknown:
            notes.append(
                f"it cannot spot {', '.join(map(repr, unknown))}: its labels are {', '.join(self.spotter.labels)}"
                + ("" if known else "; showing every event it finds instead")
            )
        events = self.spotter.spot(self.episode.video, known or None, start, end)
        shown = select_events(events, top_k=top_k)
        if not events:
            found = "No events"
        elif len(shown) < len(events):
            found = f"The {len(shown)} best-scoring of {len(events)} events"
        else:
            found = f"{len(events)} event{'s' if len(events) > 1 else ''}"
        lines = [f"{found} from {time_label(start)} to {time_label(end)} ({'; '.join(notes)})."]
        lines += [f"{time_label(e.time)} {e.label} (score {e.score:.2f})" for e in shown]
        return ToolResult(text="\n".join(lines))
