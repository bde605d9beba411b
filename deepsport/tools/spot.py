"""``spot_actions``: when do things happen? Timestamps with scores, to look at with ``choose_frames``."""

from __future__ import annotations

import os

from deepsport.prompts import time_label
from deepsport.spotting import make_spotter, select_events
from deepsport.spotting.query import QueryError, load_matcher, rank
from deepsport.tools.base import Episode, Tool, ToolResult, register

DEFAULT_TOP_K = 10


@register
class SpotActions(Tool):
    name = "spot_actions"
    description = (
        "Find when events happen in the video (e.g. goals, fouls, serves, or salient moments): returns events with "
        "their label, time in seconds and a score from 0 to 1, sorted by time, as text; with a query (e.g. "
        '"serve") the events best matching it come first. Look at an event with choose_frames around its time. '
        "The result says which labels this spotter can name and what answered."
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
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": 'Words describing the moment wanted, e.g. "serve" or "the goalkeeper dives".',
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

    def __init__(
        self, episode: Episode, checkpoint: str | os.PathLike | None = None, text_model: str | None = None
    ) -> None:
        """`checkpoint`: a trained spotter to load (CheckpointError when it cannot be); None: the training-free one.
        `text_model`: an image-text model (CLIP/SigLIP name or folder) that ranks events for a query, loaded on the
        first query (once per process)."""
        super().__init__(episode)
        self.spotter = make_spotter(checkpoint)  # keeps what it computes for this episode
        self.text_model = text_model

    def execute(
        self,
        labels: list[str] | None = None,
        query: str | None = None,
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
        order = "sorted by time"
        if query is not None:
            matcher = None
            if self.text_model is None:
                notes.append(
                    f"no image-text model is set (tool_options.spot_actions.text_model), so it cannot match the "
                    f"words {query!r}: these are the salient moments, best-scoring first"
                )
            else:
                try:
                    matcher = load_matcher(self.text_model)
                    notes.append(
                        f"ranked for {query!r} by the image-text model {self.text_model}, at the spotter's times"
                    )
                except QueryError as err:
                    notes.append(f"{err}: these are the salient moments, best-scoring first")
            events = rank(events, self.episode.video, query, matcher)
            shown, order = events[:top_k], "best match first"
        else:
            shown = select_events(events, top_k=top_k)
        if not events:
            found = "No events"
        elif len(shown) < len(events):
            found = f"The {len(shown)} best-scoring of {len(events)} events"
        else:
            found = f"{len(events)} event{'s' if len(events) > 1 else ''}"
        lines = [f"{found} from {time_label(start)} to {time_label(end)}, {order} ({'; '.join(notes)})."]
        lines += [f"{time_label(e.time)} {e.label} (score {e.score:.2f})" for e in shown]
        return ToolResult(text="\n".join(lines))
