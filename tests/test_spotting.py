"""Training-free spotting and the spot_actions tool, on synthetic videos with events at known times and real clips."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from shared_data import CLIPS

from deepsport.dev.synthetic import make_video
from deepsport.spotting import Event, salient
from deepsport.spotting.salient import SalientSpotter
from deepsport.spotting.signals import Signals, compute_signals
from deepsport.tools import Episode, Toolbox
from deepsport.video import Video, scan_frames

# when the events injected into the events video happen, in seconds
FLASH, OBJECT, BEEP, CUT = 5.0, 12.0, 19.0, 25.0
LINE = re.compile(r"^(\d+\.\d\d)s (\w+) \(score (\d\.\d\d)\)$")


@pytest.fixture(scope="module")
def events_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s, 10 fps, 320x240 with a quiet tone: a white flash at 5 s, a square sliding in at 12 s, a beep at 19 s
    and a cut from the grey scene to a green one at 25 s; nothing else happens."""
    return make_video(
        tmp_path_factory.mktemp("spot") / "events.mp4",
        duration=30.0,
        flashes=[FLASH],
        objects=[OBJECT],
        beeps=[BEEP],
        colors=[(CUT, (30, 160, 60))],
    )


@pytest.fixture(scope="module")
def silent_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s without an audio stream, a cut to red at 4 s."""
    return make_video(tmp_path_factory.mktemp("spot") / "silent.mp4", colors=[(4.0, (200, 30, 30))])


@pytest.fixture(scope="module")
def events(events_video: Path) -> list[Event]:
    return SalientSpotter().spot(events_video)


@pytest.fixture(scope="module")
def toolbox(events_video: Path):
    episode = Episode(video=Video(events_video))
    box = Toolbox(episode, ["spot_actions"])
    yield box
    box.close()
    episode.close()


def near(events: list[Event], time: float, label: str, within: float = 1.0) -> list[Event]:
    return [e for e in events if e.label == label and abs(e.time - time) <= within]


@pytest.mark.parametrize(
    "time, label", [(FLASH, "shot_cut"), (OBJECT, "impact"), (BEEP, "audio_onset"), (CUT, "shot_cut")]
)
def test_injected_events_are_found_within_a_second(events, time, label):
    assert near(events, time, label), events


def test_moments_are_one_per_event_across_cues(events_video, events):
    """Each cue finds its own events (the sliding square is an impact and a burst of motion, the beep an onset and
    a peak of loudness); the moments keep one of each group."""
    spotter = SalientSpotter()
    assert near(spotter.spot(events_video, labels=["motion_burst"]), OBJECT, "motion_burst")
    assert near(spotter.spot(events_video, labels=["audio_peak"]), BEEP, "audio_peak")
    for time in (FLASH, OBJECT, BEEP, CUT):
        assert len([e for e in events if abs(e.time - time) <= 0.5]) == 1, events


def test_a_ticking_counter_is_not_an_impact(events):
    """The synthetic frames carry a binary frame counter whose blocks flip at steady periods."""
    impacts = [e for e in events if e.label == "impact"]
    assert all(abs(e.time - OBJECT) <= 1 or abs(e.time - CUT) <= 1 for e in impacts), impacts


def test_static_stretches_stay_quiet(events):
    spurious = [e for e in events if all(abs(e.time - t) > 1.5 for t in (FLASH, OBJECT, BEEP, CUT))]
    assert len(spurious) <= 1, spurious
    assert all(0 <= e.score <= 1 for e in events)
    assert [e.time for e in events] == sorted(e.time for e in events)


def test_a_cut_between_two_scenes_is_a_shot_cut_at_the_new_scene(events):
    (cut,) = near(events, CUT, "shot_cut")
    assert cut.time == pytest.approx(CUT, abs=0.11) and cut.score > 0.9
    assert [round(e.time) for e in events if e.label == "shot_cut"] == [FLASH, CUT]  # the flash cuts too


def test_beeps_are_audio_onsets(events):
    onsets = [e for e in events if e.label.startswith("audio")]
    assert len(onsets) == 1 and onsets[0].time == pytest.approx(BEEP, abs=0.3)


def test_a_video_without_audio_has_no_audio_events(silent_video):
    assert compute_signals(silent_video).loudness is None
    events = SalientSpotter().spot(silent_video)
    assert near(events, 4.0, "shot_cut", within=0.11)
    assert all(not e.label.startswith("audio") for e in events)


@pytest.mark.parametrize("duration, fps", [(0.1, 10.0), (0.3, 10.0), (10.0, 2.0)])
def test_short_and_slow_videos(tmp_path, duration, fps):
    path = make_video(tmp_path / "clip.mp4", duration=duration, fps=fps, audio=True, colors=[(5.0, (200, 30, 30))])
    events = SalientSpotter().spot(path)
    assert [e.time for e in events if e.label == "shot_cut"] == ([5.0] if duration > 5 else [])


def test_label_time_range_and_top_k_filters(events_video, events):
    spotter = SalientSpotter()
    assert spotter.spot(events_video, labels=["shot_cut"]) == [e for e in events if e.label == "shot_cut"]
    assert spotter.spot(events_video, labels=["goal"]) == []
    assert spotter.spot(events_video, start=10.0, end=20.0) == [e for e in events if 10 <= e.time <= 20]
    best = spotter.spot(events_video, top_k=3)
    assert best == sorted(sorted(events, key=lambda e: -e.score)[:3], key=lambda e: e.time)
    assert spotter.spot(events_video, labels=["audio_onset"], start=15.0, top_k=1) == near(events, BEEP, "audio_onset")


def test_signals_are_computed_once_per_video(events_video, monkeypatch):
    calls = []

    def counted(path, *args, **kwargs):
        calls.append(path)
        return compute_signals(path, *args, **kwargs)

    monkeypatch.setattr(salient, "compute_signals", counted)
    spotter = SalientSpotter()
    spotter.spot(events_video)
    spotter.spot(events_video, labels=["shot_cut"], top_k=1)
    with Video(events_video) as video:
        spotter.spot(video, start=3.0)
    assert len(calls) == 1


# --- the tool ----------------------------------------------------------------------------------------------


def call(box: Toolbox, **arguments):
    result, _ = box.call("spot_actions", arguments)
    return result


def parse(text: str) -> list[Event]:
    """The events listed one per line after the first line."""
    events = []
    for line in text.splitlines()[1:]:
        match = LINE.match(line)
        assert match, line
        events.append(Event(match[2], float(match[1]), float(match[3])))
    return events


def test_tool_lists_events_as_text_in_seconds(toolbox, events):
    result = call(toolbox)
    assert result.ok and result.frames == []
    header = result.text.splitlines()[0]
    assert len(events) <= 10  # the default top_k
    assert header.startswith(f"{len(events)} events from 0.00s to 30.00s, sorted by time (training-free")
    assert "cannot name specific actions" in header
    listed = parse(result.text)
    assert [(e.label, e.time) for e in listed] == [(e.label, pytest.approx(e.time, abs=0.005)) for e in events]


def test_tool_answers_action_labels_with_generic_events_and_says_so(toolbox, events):
    result = call(toolbox, labels=["goal"])
    assert result.ok and "cannot spot 'goal'" in result.text and "showing every event it finds" in result.text
    assert len(parse(result.text)) == len(events)
    mixed = call(toolbox, labels=["goal", "audio_peak"])
    assert "cannot spot 'goal'" in mixed.text and "showing every event" not in mixed.text
    assert [e.label for e in parse(mixed.text)] == ["audio_peak"]  # filtered before the cues are de-duplicated


def test_tool_filters(toolbox, events):
    ranged = parse(call(toolbox, start=10, end=20).text)
    assert ranged and all(10 <= e.time <= 20 for e in ranged)
    best = call(toolbox, top_k=2)
    assert best.text.startswith(f"The 2 best-scoring of {len(events)} events from 0.00s to 30.00s, sorted by time")
    assert [e.label for e in parse(best.text)] == ["shot_cut", "shot_cut"]  # the flash and the cut score 1
    clipped = call(toolbox, start=24.0, end=100.0)
    assert clipped.ok and "end clipped to the video's end at 30.00 s" in clipped.text and parse(clipped.text)
    quiet = call(toolbox, start=26.0, end=29.0)
    assert quiet.ok and quiet.text.startswith("No events from 26.00s to 29.00s") and parse(quiet.text) == []


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        ({"start": 20.0, "end": 10.0}, "end (10 s) is before start (20 s)"),
        ({"start": 40.0}, "beyond the end of the video (30.00 s)"),
        ({"start": 40.0, "end": 50.0}, "beyond the end of the video"),
        ({"top_k": 0}, "top_k: 0 is less than the minimum of 1"),
        ({"labels": []}, "labels: [] should be non-empty"),
        ({"labels": "goal"}, "labels: 'goal' is not of type 'array'"),
        ({"start": -1}, "start: -1 is less than the minimum of 0"),
        ({"when": 3}, "Additional properties are not allowed"),
    ],
)
def test_tool_bad_arguments_come_back_as_errors(toolbox, arguments, fragment):
    result = call(toolbox, **arguments)
    assert not result.ok and result.text.startswith("Error: ") and fragment in result.text


# --- real clips --------------------------------------------------------------------------------------------

needs_clips = pytest.mark.skipif(not CLIPS.is_dir(), reason=f"no real clips at {CLIPS}")


@needs_clips
@pytest.mark.parametrize(
    "clip, time",
    [
        ("cricket_odi_shot.mp4", 2.48),  # close-up of the batter to a wide shot of the field
        ("badminton_olympics2012.mp4", 17.3),  # the rally to an app's end card
    ],
)
def test_real_cuts_are_found(clip, time):
    events = SalientSpotter().spot(CLIPS / clip, labels=["shot_cut"])
    assert near(events, time, "shot_cut", within=0.5), events


def test_never_empty_while_something_moves_and_empty_when_nothing_does():
    times = np.arange(100) / 10
    steady = Signals(times, 0.02 + 0.001 * np.sin(times), np.zeros((100, 64)), np.zeros(100), None, None)
    moments = salient.find_events(steady)
    assert moments and all(e.label == "motion_burst" and e.score < salient.MIN_SCORE for e in moments)
    still = Signals(times, np.zeros(100), np.zeros((100, 64)), np.zeros(100), None, None)
    assert salient.find_events(still) == []


def test_the_analysis_pass_samples_about_ten_frames_a_second(counter_video):
    samples = list(scan_frames(counter_video, fps=4.0, max_pixels=64 * 48))
    times = [t for t, _ in samples]
    assert times[0] == 0.0 and np.allclose(np.diff(times), 0.3, atol=0.11)  # 10 fps video: 0.2 or 0.3 s apart
    assert samples[0][1].shape == (48, 64, 3)
    assert len(list(scan_frames(counter_video, fps=100.0, max_pixels=64 * 48))) == 100  # every frame of slower videos
