"""``choose_frames``: look at a time window of the video more closely."""

from __future__ import annotations

from deepsport.prompts import time_label
from deepsport.schemas import Span
from deepsport.tools.base import Tool, ToolError, ToolResult, register


@register
class ChooseFrames(Tool):
    name = "choose_frames"
    description = (
        "Extract frames uniformly from a time window of the video to look at it more closely. "
        "Times are in seconds from the start of the video."
    )
    parameters = {
        "type": "object",
        "properties": {
            "start": {"type": "number", "minimum": 0, "description": "Window start in seconds."},
            "end": {"type": "number", "minimum": 0, "description": "Window end in seconds."},
            "num_frames": {
                "type": "integer",
                "minimum": 1,
                "maximum": 32,
                "description": "How many frames to extract from the window.",
            },
        },
        "required": ["start", "end", "num_frames"],
        "additionalProperties": False,
    }

    def execute(self, start: float, end: float, num_frames: int) -> ToolResult:
        episode = self.episode
        end, notes = episode.clip_window(start, end)
        window = Span(start=start, end=end)
        for seen in episode.windows:
            if window.iou(seen) >= episode.budget.repeat_iou:
                raise ToolError(
                    f"you already looked at {seen.start:.2f}-{seen.end:.2f} s. Choose a different or "
                    "narrower window, or give your answer."
                )
        if episode.frames_left == 0:
            raise ToolError("the frame budget is spent. Give your final answer.")
        allowed = min(num_frames, episode.budget.frames_per_call, episode.frames_left)
        if allowed < num_frames:
            notes.append(f"{allowed} of the {num_frames} frames asked for, the budget's limit")
        frames = episode.video.window(start, end, allowed)
        episode.windows.append(window)
        episode.frames_returned += len(frames)
        times = ", ".join(time_label(f.time) for f in frames)
        text = f"{len(frames)} frames from {start:.2f}s to {end:.2f}s at {times}"
        if notes:
            text += f" ({'; '.join(notes)})"
        return ToolResult(text=text + ".", frames=frames, window=window)
