"""Spotting measured on labelled events: the events file, ``spot eval-events``, open-vocabulary queries with a tiny
random CLIP, long joined videos, and the targets on the hand-labelled shared clips (skipped without ../shared)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from shared_data import CLIPS
from typer.testing import CliRunner

from deepsport.cli import app
from deepsport.dev.long_video import join_clips
from deepsport.dev.synthetic import make_video
from deepsport.dev.tiny_clip import build_tiny_clip
from deepsport.spotting.labelled import EventsError, evaluate_clip, overall, read_events
from deepsport.spotting.query import QueryError, TextMatcher, rank
from deepsport.spotting.salient import SalientSpotter
from deepsport.tools import Episode, Toolbox
from deepsport.video import Video

EVENTS = Path(__file__).parent / "data" / "events.csv"
needs_clips = pytest.mark.skipif(not CLIPS.is_dir(), reason=f"no real clips at {CLIPS}")
# the synthetic clip: a white square slides in at 3 s, a beep at 7 s, a cut to green at 11 s; 14 s long
OBJECT, BEEP, CUT, LENGTH = 3.0, 7.0, 11.0, 14.0


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(
        tmp_path_factory.mktemp("events") / "clip.mp4",
        duration=LENGTH,
        objects=[OBJECT],
        beeps=[BEEP],
        colors=[(CUT, (30, 160, 60))],
    )


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(["video,sport,label,time,query", *rows]) + "\n")
    return path


# --- the events file ---------------------------------------------------------------------------------------


def test_the_labelled_events_file():
    events = read_events(EVENTS)
    assert len(events) >= 30 and len({e.video for e in events}) >= 7
    assert sum(bool(e.query) for e in events) >= 10
    assert all(e.sport and e.label and e.time >= 0 for e in events)


@needs_clips
def test_every_labelled_event_lies_inside_its_clip():
    for event in read_events(EVENTS):
        with Video(CLIPS / event.video, cache_size=0) as video:
            assert event.time < video.info.duration, event


@pytest.mark.parametrize(
    "text, message",
    [
        ("video,label\nclip.mp4,hit\n", "expected a header with video, sport, label and time"),
        ("video,sport,time\nclip.mp4,tennis,1.0\n", "missing label"),
        ("video,sport,label,time\nclip.mp4,tennis,hit,soon\n", "line 2: the time is not a number of seconds"),
        ("video,sport,label,time\nclip.mp4,tennis,hit,-1\n", "line 2: needs a video and a time of 0 s or more"),
    ],
)
def test_bad_events_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "events.csv"
    path.write_text(text)
    with pytest.raises(EventsError, match=message):
        read_events(path)


def test_spans_count_at_their_middle(tmp_path):
    path = tmp_path / "spans.csv"
    path.write_text("video,sport,label,start,end\nclip.mp4,soccer,celebration,4.0,6.0\n")
    assert read_events(path)[0].time == 5.0


# --- eval-events -------------------------------------------------------------------------------------------


def test_evaluation_counts_found_and_false_moments(clip):
    labelled = read_events(write_csv(clip.parent / "a.csv", [f"clip.mp4,test,object,{OBJECT},"]))
    moments = SalientSpotter().spot(clip)
    report = evaluate_clip(clip, labelled, moments)
    assert report.found == {0.5: 1, 1.0: 1}
    far = [m for m in moments if abs(m.time - OBJECT) > 1.0]
    assert report.false == len(far) >= 2  # the beep and the cut were not labelled
    assert report.false_per_10s == pytest.approx(10 * len(far) / LENGTH, abs=0.05)
    assert overall([report, report]).found == {0.5: 2, 1.0: 2}


def test_eval_events_reports_recall_false_moments_and_query_ranks(clip, tiny_clip):
    rows = [f"clip.mp4,test,object,{OBJECT},a white square", f"clip.mp4,test,beep,{BEEP},", f"clip.mp4,test,cut,{CUT},"]
    events = write_csv(clip.parent / "events.csv", rows)
    result = run("spot", "eval-events", events, "--video-root", clip.parent, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    clip_row, total = report["clips"]
    assert clip_row["video"] == "clip.mp4" and total["video"] == "overall"
    # at most the frame counter's carry at 12.8 s (four of its blocks flip at once; too rare to look periodic)
    assert clip_row["found"] == {"0.5": 3, "1.0": 3} and clip_row["false"] <= 1
    assert clip_row["ranks"][0][0] == "a white square" and clip_row["ranks"][0][1] in (1, 2, 3)
    assert report["queries"] == "training-free moments by score"
    ranked = run("spot", "eval-events", events, "--video-root", clip.parent, "--text-model", tiny_clip)
    assert ranked.exit_code == 0, ranked.output
    assert "3/3 (1.00)" in ranked.stdout and f"ranked by {tiny_clip}" in ranked.stdout.replace("\n", "")


def test_eval_events_errors_are_one_line(clip, tmp_path):
    missing = run("spot", "eval-events", tmp_path / "none.csv", "--video-root", clip.parent)
    assert missing.exit_code == 1 and "Events file not found" in missing.stderr
    events = write_csv(tmp_path / "e.csv", ["gone.mp4,test,hit,1.0,"])
    gone = run("spot", "eval-events", events, "--video-root", tmp_path)
    assert gone.exit_code == 1 and "Video not found" in gone.stderr and "Traceback" not in gone.output
    model = run("spot", "eval-events", events, "--video-root", tmp_path, "--text-model", tmp_path / "no-model")
    assert model.exit_code == 1 and "cannot load the image-text model" in model.stderr


# --- open-vocabulary queries -------------------------------------------------------------------------------


def test_a_query_reorders_the_moments_at_their_own_times(clip, tiny_clip):
    moments = SalientSpotter().spot(clip)
    matcher = TextMatcher(str(tiny_clip))
    with Video(clip) as video:
        ranked = rank(moments, video, "a white square", matcher)
        unmatched = rank(moments, video, "a white square", None)
    assert sorted(e.time for e in ranked) == [e.time for e in moments]  # the times stay the spotter's
    assert [e.score for e in ranked] == sorted((e.score for e in ranked), reverse=True)
    assert unmatched == sorted(moments, key=lambda e: -e.score)
    similarities = matcher.similarities([f.image for f in Video(clip).frames_at([1.0, 12.0])], "green")
    assert similarities.shape == (2,) and abs(similarities[0] - similarities[1]) > 0  # a real model ran


def test_a_model_that_is_not_there_is_a_one_line_error(tmp_path):
    with pytest.raises(QueryError, match="cannot load the image-text model"):
        TextMatcher(str(tmp_path / "missing"))


def call_tool(clip: Path, options: dict, **arguments) -> str:
    episode = Episode(video=Video(clip))
    box = Toolbox(episode, ["spot_actions"], {"spot_actions": options})
    try:
        result, _ = box.call("spot_actions", arguments)
    finally:
        box.close()
        episode.close()
    assert result.ok, result.text
    return result.text


def test_the_tool_ranks_a_query_with_the_image_text_model(clip, tiny_clip):
    text = call_tool(clip, {"text_model": str(tiny_clip)}, query="a white square", top_k=2)
    header, *lines = text.splitlines()
    assert "best match first" in header and f"ranked for 'a white square' by the image-text model {tiny_clip}" in header
    assert "training-free spotter" in header and len(lines) == 2


def test_the_tool_without_a_model_says_it_cannot_match_words_and_still_answers(clip, tmp_path):
    text = call_tool(clip, {}, query="serve")
    assert "cannot match the words 'serve'" in text and "salient moments, best-scoring first" in text
    assert len(text.splitlines()) >= 4  # the square, the beep and the cut
    broken = call_tool(clip, {"text_model": str(tmp_path / "missing")}, query="serve")
    assert "cannot load the image-text model" in broken and len(broken.splitlines()) >= 4


# --- long videos -------------------------------------------------------------------------------------------


def quiet_moments(parts, moments) -> list:
    """Moments inside the still stretches, more than 1 s after a clip ends."""
    return [m for p in parts for m in moments if p.start + p.duration + 1.0 < m.time < p.end - 0.1]


def test_a_joined_video_gives_its_joins_and_the_events_of_each_part(clip, tmp_path):
    parts = join_clips([clip, clip], tmp_path / "joined.mp4", quiet=6.0, size=(320, 240), fps=10)
    assert [p.start for p in parts] == [0.0, pytest.approx(LENGTH + 6.0)]
    moments = SalientSpotter().spot(tmp_path / "joined.mp4")
    assert any(abs(m.time - parts[1].start) <= 0.2 and m.label == "shot_cut" for m in moments), moments
    for part in parts:
        for time in (OBJECT, BEEP, CUT):
            assert any(abs(m.time - (part.start + time)) <= 0.5 for m in moments), (part, time, moments)
    assert quiet_moments(parts, moments) == []


# --- the hand-labelled shared clips -------------------------------------------------------------------------


@needs_clips
def test_training_free_spotting_meets_the_targets_on_the_labelled_clips():
    by_clip = defaultdict(list)
    for event in read_events(EVENTS):
        by_clip[event.video].append(event)
    spotter = SalientSpotter()
    reports = [evaluate_clip(CLIPS / name, rows, spotter.spot(CLIPS / name)) for name, rows in by_clip.items()]
    total = overall(reports)
    assert total.found[0.5] / total.events >= 0.8, [(r.video, r.found) for r in reports]
    assert total.false_per_10s <= 3.0, [(r.video, r.false) for r in reports]
    assert all(r.moments for r in reports)  # never empty where something moves


@needs_clips
def test_clips_nobody_labelled_still_get_moments():
    for name in ("soccer_broadcast_wide.mp4", "squash_rally_portrait.mp4"):
        assert SalientSpotter().spot(CLIPS / name), name


@needs_clips
def test_the_shared_clips_joined_give_every_join_and_their_labelled_events(tmp_path):
    """The long-video check at test scale: the nine clips at 320x180, 10 fps, 3 still seconds after each (2.8
    minutes; benchmarks/bench_spotting.py does the same with 10.8 minutes of 720p and times it)."""
    parts = join_clips(sorted(CLIPS.glob("*.mp4")), tmp_path / "joined.mp4", quiet=3.0, size=(320, 180), fps=10)
    moments = SalientSpotter().spot(tmp_path / "joined.mp4")
    joins = [p.start for p in parts[1:]]
    assert all(any(m.label == "shot_cut" and abs(m.time - t) <= 0.5 for m in moments) for t in joins), moments
    assert all(any(p.start <= m.time < p.start + p.duration for m in moments) for p in parts)
    assert quiet_moments(parts, moments) == []
    labelled = [(p.start + e.time) for p in parts for e in read_events(EVENTS) if e.video == p.clip]
    found = [t for t in labelled if any(abs(m.time - t) <= 0.5 for m in moments)]
    assert len(found) >= 0.8 * len(labelled), sorted(set(labelled) - set(found))
