"""The HTML report: the summary table (rules and judge on 0-100), SVG plots (accuracy per dimension, frames used
per question) and every item's trajectory, with the frames the model looked at placed on the video's timeline.

Thumbnails are small JPEG data URLs decoded with ``deepsport.video.Video`` at the trajectory's frame times,
for the first ``thumbnail_items`` items only, so the page stays small; later items show tick marks instead.
A run of up to ``inline_items`` items is one self-contained page. A bigger one (the 6.7k-item benchmark) keeps
only a searchable list of the items on the page, and each item's trajectory and thumbnails in script files
``report_items/<chunk>.js`` (``CHUNK`` items each) that the page loads when the item is opened; scripts, unlike
``fetch``, load from ``file://``. ``report.html#q=WORDS`` opens the list filtered.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from deepsport.conversation import image_to_data_url
from deepsport.paths import resolve_video
from deepsport.schemas import EvalRow, Trajectory
from deepsport.video import Video, VideoError
from eval.report import fmt, percent, score100

TRACK_WIDTH, THUMB_WIDTH, THUMB_HEIGHT = 960, 72, 48
INLINE_ITEMS, CHUNK, ITEMS_DIR = 200, 50, "report_items"
THUMB_PIXELS = 96 * 64
TICK = "<span class='tick'></span>"

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}tr.group th{background:#eee;text-align:left}
figure{display:inline-block;margin:0 24px 16px 0}figcaption{font-weight:600;margin-bottom:4px}
details.item{border:1px solid #ddd;border-radius:6px;margin:6px 0;padding:6px 10px}
details.item summary{cursor:pointer}.badge{display:inline-block;min-width:44px;text-align:center;border-radius:4px;
padding:0 4px;margin-right:6px;color:#fff}.right{background:#2a8a3e}.wrong{background:#b8322b}
.partial{background:#c98a12}.none{background:#888}.think{font-style:italic;color:#555;white-space:pre-wrap}
.call{font-family:monospace;white-space:pre-wrap}.call.failed{color:#b8322b}.answer{font-weight:600}
.timeline{position:relative;border-top:2px solid #999;margin:14px 0 8px;overflow-x:auto}
.timeline .thumb{position:absolute;text-align:center;font-size:10px;color:#444}
.timeline img{display:block;width:72px;height:48px;object-fit:cover;border:2px solid #999}
.timeline .tool img{border-color:#e07b00}.timeline .tick{display:block;width:2px;height:12px;background:#999;
margin:0 auto}.timeline .tool .tick{background:#e07b00}.muted{color:#777}
#search{font-size:15px;padding:4px 8px;width:420px;margin:4px 0 8px}
details.item{content-visibility:auto;contain-intrinsic-size:auto 32px}
"""

# Loads an opened item's chunk once (a <script> that calls deepsportItems) and fills the items; filters the list.
SCRIPT = """
const loaded = {}, asked = {};
function deepsportItems(chunk, bodies) {
  loaded[chunk] = bodies;
  document.querySelectorAll(`details.item[data-chunk="${chunk}"][open]`).forEach(fill);
}
function fill(item) {
  const bodies = loaded[item.dataset.chunk], body = item.querySelector('.body');
  if (!bodies) {
    if (!asked[item.dataset.chunk]) {
      asked[item.dataset.chunk] = true;
      const script = document.createElement('script');
      script.src = `ITEMS_DIR/${item.dataset.chunk}.js`;
      script.onerror = () => { body.textContent = `could not load ${script.src}`; };
      document.head.appendChild(script);
    }
  } else if (!body.dataset.filled) {
    body.innerHTML = bodies[item.id.slice(5)];
    body.dataset.filled = '1';
  }
}
document.addEventListener('toggle', (e) => {
  if (e.target.matches('details.item[data-chunk]') && e.target.open) fill(e.target);
}, true);
const search = document.getElementById('search'), count = document.getElementById('shown');
const items = Array.from(document.querySelectorAll('details.item'));
const texts = items.map((item) => item.querySelector('summary').textContent.toLowerCase());
function filter() {
  const words = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  items.forEach((item, n) => {
    item.hidden = !words.every((w) => texts[n].includes(w));
    shown += !item.hidden;
  });
  count.textContent = `${shown} of ${items.length} items`;
}
search.addEventListener('input', filter);
const query = new URLSearchParams(location.hash.slice(1)).get('q');
if (query) search.value = query;
filter();
document.querySelectorAll('details.item[data-chunk][open]').forEach(fill);
""".replace("ITEMS_DIR", ITEMS_DIR)


def render_html(
    summary: dict[str, Any],
    rows: list[EvalRow],
    video_root: Path | None,
    thumbnail_items: int = 30,
    inline_items: int = INLINE_ITEMS,
) -> tuple[str, list[str]]:
    """The page, and the chunk scripts its items load on demand (none when every item is on the page)."""
    config = summary["config"]
    answered = [r for r in rows if r.status == "ok"]
    mode = "baseline, no tools" if (config.get("agent") or {}).get("tools") == [] else "agent with tools"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>DeepSport evaluation: {escape(str(config.get('model', '')))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(str(config.get('model', '?')))} <span class='muted'>({escape(mode)})</span></h1>",
        f"<p class='muted'>Benchmark {escape(str(config.get('benchmark', '?')))} · backend "
        f"{escape(str(config.get('backend', '?')))}</p>",
        _summary_table(summary),
        "<div>",
        _figure("Accuracy per dimension", "dimension-bars", _bars(summary["by_dimension"])),
        _figure("Frames used per question", "frames-histogram", _histogram([r.frames_used for r in answered])),
        "</div><h2>Items</h2>",
        "<input id='search' type='search' placeholder='Search items: id, sport, dimension, question, score'>"
        " <span id='shown' class='muted'></span><section id='items'>",
    ]
    split = len(rows) > inline_items
    chunks: list[dict[str, str]] = []
    for n, row in enumerate(rows):
        head, body = _item(row, video_root if n < thumbnail_items else None)
        opened = " open" if n == 0 else ""
        element_id = f"item-{escape(row.id)}"
        if split:
            if n % CHUNK == 0:
                chunks.append({})
            chunks[-1][row.id] = body
            body = "<div class='body muted'>loading…</div>"
            parts.append(f"<details class='item' id='{element_id}' data-chunk='{n // CHUNK}'{opened}>{head}{body}")
        else:
            parts.append(f"<details class='item' id='{element_id}'{opened}>{head}<div class='body'>{body}</div>")
        parts.append("</details>")
    parts.append(f"</section><script>{SCRIPT}</script></body></html>")
    scripts = [f"deepsportItems({k}, {json.dumps(bodies, ensure_ascii=False)});\n" for k, bodies in enumerate(chunks)]
    return "\n".join(parts), scripts


def write_html(
    out: Path,
    summary: dict[str, Any],
    rows: list[EvalRow],
    video_root: Path | None,
    thumbnail_items: int = 30,
    inline_items: int = INLINE_ITEMS,
) -> Path:
    """Write ``report.html`` (and its ``report_items/`` scripts, replacing an older set) under `out`."""
    page, scripts = render_html(summary, rows, video_root, thumbnail_items, inline_items)
    folder = out / ITEMS_DIR
    shutil.rmtree(folder, ignore_errors=True)
    if scripts:
        folder.mkdir()
        for k, script in enumerate(scripts):
            (folder / f"{k}.js").write_text(script, encoding="utf-8")
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _summary_table(summary: dict[str, Any]) -> str:
    latency = summary["latency"]
    head = (
        "<tr><th></th><th>items</th><th>scored</th><th>accuracy</th><th>judge (0-100)</th><th>judge unknown</th>"
        "<th>unscored</th><th>errors</th></tr>"
    )
    body = [_stats_row("overall", summary["overall"])]
    for title, key in (("dimension", "by_dimension"), ("sport", "by_sport")):
        body.append(f"<tr class='group'><th colspan='8'>by {title}</th></tr>")
        body += [_stats_row(name, stats) for name, stats in summary[key].items()]
    extra = (
        f"<p>{fmt(summary['frames_per_question'])} frames and {fmt(summary['tool_calls_per_question'])} tool "
        f"calls per question · latency mean {fmt(latency['mean'])} s, p50 {fmt(latency['p50'])} s, "
        f"p90 {fmt(latency['p90'])} s · judge: {escape(', '.join(summary.get('judge_models', [])) or 'none')} · "
        f"turns cut at the token limit: {summary.get('turns_cut', 0)} of {summary.get('turns', 0)}</p>"
    )
    return f"<table id='summary'>{head}{''.join(body)}</table>{extra}"


def _stats_row(name: str, stats: dict[str, Any]) -> str:
    cells = [stats["items"], stats["scored"], percent(stats["accuracy"]), score100(stats), stats["judge_unknown"]]
    cells += [stats["unscored"], stats["errors"]]
    return f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def _figure(caption: str, element_id: str, svg: str) -> str:
    return f"<figure id='{element_id}'><figcaption>{escape(caption)}</figcaption>{svg}</figure>"


def _bars(groups: dict[str, dict[str, Any]], width: int = 420, height: int = 220) -> str:
    """A vertical bar per group: its accuracy in percent."""
    names = list(groups)
    slot = (width - 40) / max(1, len(names))
    plot = height - 55  # the tallest bar, leaving room for its label above and the names below
    items = [f"<line x1='30' y1='{plot + 25}' x2='{width}' y2='{plot + 25}' stroke='#999'/>"]
    for i, name in enumerate(names):
        accuracy = groups[name]["accuracy"] or 0.0
        x, bar = 34 + i * slot, plot * accuracy
        items.append(
            f"<rect x='{x:.1f}' y='{plot + 25 - bar:.1f}' width='{slot * 0.7:.1f}' height='{bar:.1f}' fill='#3a6fb0'>"
            f"<title>{escape(name)}: {percent(groups[name]['accuracy'])}</title></rect>"
            f"<text x='{x + slot * 0.35:.1f}' y='{plot + 19 - bar:.1f}' font-size='11' text-anchor='middle'>"
            f"{percent(groups[name]['accuracy'])}</text>"
            f"<text x='{x + slot * 0.35:.1f}' y='{height - 12}' font-size='11' text-anchor='middle'>"
            f"{escape(name)}</text>"
        )
    return _svg(width, height, items)


def _histogram(values: list[int], width: int = 420, height: int = 220) -> str:
    """Questions per number of frames used."""
    counts = Counter(values)
    if not counts:
        return _svg(width, height, ["<text x='20' y='40'>no answered items</text>"])
    low, high = min(counts), max(counts)
    bins = list(range(low, high + 1))
    slot, plot, top = (width - 40) / len(bins), height - 55, max(counts.values())
    items = [f"<line x1='30' y1='{plot + 25}' x2='{width}' y2='{plot + 25}' stroke='#999'/>"]
    for i, frames in enumerate(bins):
        bar = plot * counts[frames] / top
        x = 34 + i * slot
        items.append(
            f"<rect x='{x:.1f}' y='{plot + 25 - bar:.1f}' width='{max(1.0, slot * 0.85):.1f}' height='{bar:.1f}' "
            f"fill='#e07b00'><title>{frames} frames: {counts[frames]} questions</title></rect>"
        )
    labelled = bins if len(bins) <= 16 else sorted({low, high, *(b for b in bins if b % 8 == 0)})
    for frames in labelled:
        x = 34 + (frames - low + 0.4) * slot
        items.append(f"<text x='{x:.1f}' y='{height - 12}' font-size='11' text-anchor='middle'>{frames}</text>")
    return _svg(width, height, items)


def _svg(width: int, height: int, items: list[str]) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>"
        + "".join(items)
        + "</svg>"
    )


def _item(row: EvalRow, video_root: Path | None) -> tuple[str, str]:
    """An item's summary line, and its body: the facts, the timeline and the turns."""
    item, score = row.item, row.score
    badge = "none" if score is None else "right" if score >= 1 else "wrong" if score <= 0 else "partial"
    label = "error" if row.status == "error" else "–" if score is None else f"{score:.2f}"
    head = (
        f"<summary><span class='badge {badge}'>{label}</span><b>{escape(row.id)}</b> "
        f"<span class='muted'>{escape(item.sport or '')} · {escape(item.dimension or '')}</span> "
        f"{escape(item.question)}</summary>"
    )
    facts = [f"<p>Reference: <b>{escape(item.answer)}</b>"]
    if item.options:
        facts.append(" · options: " + escape(" | ".join(item.options)))
    facts.append(f"<br>Prediction: <b>{escape(str(row.prediction))}</b>")
    if row.score_method:
        facts.append(f" <span class='muted'>({escape(row.score_method)})</span>")
    if row.judge_score is not None:
        model = f"<span class='muted'>({escape(str(row.judge_model))})</span>"
        facts.append(f"<br>Judge: <b>{row.judge_score:g}</b>/100 {model}")
    elif row.judge_model is not None:
        facts.append(f"<br>Judge: unknown <span class='muted'>({escape(row.judge_model)})</span>")
    notes = {"judge rationale": row.judge_rationale, "judge error": row.judge_error, "error": row.error}
    facts += [f"<br>{name}: {escape(value)}" for name, value in notes.items() if value]
    facts.append("</p>")
    trajectory = row.trajectory
    body = [_timeline(item.video, trajectory, video_root), _turns(trajectory)] if trajectory else []
    return head, "".join(facts) + "".join(body)


def _timeline(video: str, trajectory: Trajectory, video_root: Path | None) -> str:
    """The frames shown to the model, initial ones grey and tool ones orange, at their place in the video."""
    duration = trajectory.video_duration or 1.0
    tool_times = {t for call in trajectory.tool_calls for t in call.frame_times}
    times = sorted(set(trajectory.frame_times))
    images, note = _thumbnails(video, times, video_root) if video_root else ({}, "")
    lanes: list[float] = []
    placed = []
    for time in times:
        x = time / duration * (TRACK_WIDTH - THUMB_WIDTH)
        width = THUMB_WIDTH + 4 if images else 24
        lane = next((i for i, end in enumerate(lanes) if end <= x), len(lanes))
        lanes[lane : lane + 1] = [x + width]
        top = lane * ((THUMB_HEIGHT + 20) if images else 26)
        kind = "tool" if time in tool_times else "initial"
        mark = f"<img src='{images[time]}' alt='frame at {time:.2f}s'>" if time in images else TICK
        placed.append(f"<div class='thumb {kind}' style='left:{x:.0f}px;top:{top + 4}px'>{mark}{time:.2f}s</div>")
    height = max(1, len(lanes)) * ((THUMB_HEIGHT + 20) if images else 26) + 8
    caption = f"<p class='muted'>{len(times)} frames over {duration:.1f} s (grey: initial, orange: tools){note}</p>"
    return f"{caption}<div class='timeline' style='width:{TRACK_WIDTH}px;height:{height}px'>{''.join(placed)}</div>"


def _thumbnails(video: str, times: list[float], video_root: Path) -> tuple[dict[float, str], str]:
    """Data URLs of the frames at ``times``, or none and a note saying why."""
    try:
        with Video(resolve_video(video_root, video, must_exist=False), max_pixels=THUMB_PIXELS) as opened:
            return {t: image_to_data_url(opened.frames_at([t])[0].image, quality=70) for t in times}, ""
    except (VideoError, ValueError, OSError) as err:
        return {}, f" · thumbnails unavailable: {escape(str(err))}"


def _turns(trajectory: Trajectory) -> str:
    """Each model turn: its thought, the tool calls it made with what came back, and the answer."""
    parts = []
    for turn in trajectory.turns:
        if turn.think:
            parts.append(f"<div class='think'>{escape(turn.think)}</div>")
        for call in (c for c in trajectory.tool_calls if c.turn == turn.index):
            arguments = json.dumps(call.arguments, ensure_ascii=False)
            status = "" if call.ok else " failed"
            text = f"→ {call.name}({arguments})\n← {call.result}"
            parts.append(f"<div class='call{status}'>{escape(text)}</div>")
    if trajectory.answer is not None:
        parts.append(f"<div class='answer'>Answer: {escape(trajectory.answer)}</div>")
    return "".join(parts)
