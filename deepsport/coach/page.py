"""The HTML page of a coaching result: the attempt's frames beside each recommended clip's frames, with the
mistakes, the matched narration and why. One self-contained file (frames as small JPEG data URLs)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from deepsport.coach.assess import Coaching
from deepsport.conversation import image_to_data_url
from deepsport.video import Video, VideoError

FRAMES = 4
THUMB_PIXELS = 200 * 120

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
.row{display:flex;gap:24px;border-top:1px solid #ddd;padding:12px 0}.side{flex:1}
.frames img{width:23%;margin-right:1%;border:2px solid #3a6fb0}.attempt .frames img{border-color:#e07b00}
.why{color:#555}.note{color:#b8322b}.mistakes{font-weight:600}h3{margin:4px 0}
"""


def thumbnails(video: str, start: float | None, end: float | None, count: int = FRAMES) -> str:
    """`count` frames over [start, end] as <img> tags (a note when the video cannot be read)."""
    try:
        with Video(video, max_pixels=THUMB_PIXELS) as opened:
            last = opened.info.duration if end is None else min(end, opened.info.duration)
            frames = opened.window(start or 0.0, last, count)
    except VideoError as err:
        return f"<p class='note'>frames unavailable: {escape(str(err))}</p>"
    tags = [f"<img src='{image_to_data_url(f.image, 80)}' alt='{f.time:.2f}s' title='{f.time:.2f}s'>" for f in frames]
    return f"<div class='frames'>{''.join(tags)}</div>"


def render(result: Coaching) -> str:
    """The whole page as one string."""
    attempt = thumbnails(result.video, result.start, result.end)
    head = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>DeepSport coaching</title>",
        f"<style>{STYLE}</style></head><body><h1>Coaching: {escape(Path(result.video).name)}</h1>",
    ]
    if result.question:
        head.append(f"<p>Question: {escape(result.question)}</p>")
    if result.mistakes:
        head.append(f"<p class='mistakes' id='mistakes'>Likely mistakes: {escape(result.mistakes)}</p>")
    head += [f"<p class='note'>{escape(note)}</p>" for note in result.notes]
    rows = []
    for rank, match in enumerate(result.matches, 1):
        s = match.segment
        rows.append(
            f"<section class='row' id='clip-{rank}'><div class='side attempt'><h3>Your attempt</h3>{attempt}</div>"
            f"<div class='side clip'><h3>{rank}. {escape(Path(s.video).name)} {s.start:.2f}–{s.end:.2f}s "
            f"<small>({escape(s.sport)}, {escape(s.skill)})</small></h3>{thumbnails(s.video, s.start, s.end)}"
            f"<p class='narration'>“{escape(s.text)}”</p><p class='why'>Why: {escape(match.why())}</p></div></section>"
        )
    if not rows:
        rows.append("<p class='note'>No clip in the library matches.</p>")
    return "\n".join([*head, *rows, "</body></html>"])


def write_page(result: Coaching, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(result), encoding="utf-8")
    return out
