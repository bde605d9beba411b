"""Motion keyframes: the initial frames follow the action instead of the clock."""

import numpy as np
import pytest
from typer.testing import CliRunner

from deepsport.cli import app
from deepsport.dev.synthetic import SLIDE_SECONDS, make_video
from deepsport.keyframes import initial_frames, motion_times
from deepsport.video import Video

BURST = 12.0  # an object slides in during [BURST, BURST + SLIDE_SECONDS]; nothing else moves


@pytest.fixture(scope="module")
def burst_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("kf") / "burst.mp4", duration=20.0, fps=10.0, objects=[BURST])


def in_burst(frames):
    return sum(BURST - 0.1 <= f.time <= BURST + SLIDE_SECONDS + 0.1 for f in frames)


def test_motion_sampling_puts_more_frames_in_the_burst(burst_video):
    with Video(burst_video) as video:
        uniform = initial_frames(video, 8, "uniform")
        motion = initial_frames(video, 8, "motion")
    assert in_burst(uniform) <= 1
    assert in_burst(motion) >= 3 and in_burst(motion) > in_burst(uniform)
    assert len(motion) >= 6  # still stretches keep a few frames too
    assert [f.time for f in motion] == sorted(f.time for f in motion)


def test_motion_times_on_hand_made_motion():
    times = np.arange(100) / 10
    still = motion_times(times, np.zeros(100), 4)  # no motion at all: uniform
    assert still == pytest.approx([1.2, 3.7, 6.2, 8.7], abs=0.11)
    burst = np.zeros(100)
    burst[50:55] = 1.0
    picks = motion_times(times, burst, 4, floor=0.0)
    assert all(5.0 <= t <= 5.4 for t in picks)


def test_ask_rejects_an_unknown_sampling(burst_video):
    result = CliRunner().invoke(app, ["ask", str(burst_video), "Q?", "--sampling", "random"])
    assert result.exit_code == 1 and "sampling must be one of 'uniform', 'motion', got 'random'" in result.stderr
