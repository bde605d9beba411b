"""Episodes of one video share its decoder and frames: a window is decoded once, whoever looks at it."""

import os

import pytest

from deepsport.dev.synthetic import make_video
from deepsport.tools import Budget, Episode, Toolbox
from deepsport.video import VideoError
from deepsport.video_pool import VideoPool

WINDOW = {"start": 2.0, "end": 4.0, "num_frames": 8}


@pytest.fixture
def video(tmp_path):
    return make_video(tmp_path / "v.mp4", duration=6.0, fps=10.0)


def look(episode: Episode) -> list[float]:
    result, _ = Toolbox(episode, ["choose_frames"]).call("choose_frames", WINDOW)
    assert result.ok, result.text
    return [frame.time for frame in result.frames]


def test_rollouts_of_one_question_decode_each_window_once(video):
    pool = VideoPool()
    episodes = [Episode.open(video, Budget(), pool=pool) for _ in range(8)]
    times = [look(episode) for episode in episodes]
    assert pool.opened == 1 and len({id(e.video) for e in episodes}) == 1
    assert times == [times[0]] * 8 and episodes[0].video.num_decoded == 8  # 8 frames decoded in all, not 64
    assert all(e.frames_returned == 8 and len(e.windows) == 1 for e in episodes)  # budgets stay per episode
    for episode in episodes:
        episode.close()
    pool.close()


def test_other_frame_sizes_and_rewritten_files_are_other_videos(video, tmp_path):
    pool = VideoPool()
    small, large = Episode.open(video, pool=pool, max_pixels=64 * 48), Episode.open(video, pool=pool)
    assert small.video is not large.video and small.video.info == large.video.info
    first = Episode.open(video, pool=pool)
    make_video(video, duration=3.0, fps=10.0)  # the file changes under the pool
    os.utime(video, ns=(1, 1))
    changed = Episode.open(video, pool=pool)
    assert changed.video is not first.video and changed.duration == pytest.approx(3.0)
    pool.close()


def test_idle_videos_stay_open_within_the_byte_budget(video, tmp_path):
    pool = VideoPool(max_idle_bytes=10**9)
    episode = Episode.open(video, pool=pool)
    look(episode)
    episode.close()
    episode.close()  # once is enough; a second close does not hand the video back twice
    assert pool.idle_bytes() > 0
    again = Episode.open(video, pool=pool)
    look(again)
    assert pool.opened == 1 and again.video.num_decoded == 8  # the next question on the video decodes nothing
    again.close()

    tight = VideoPool(max_idle_bytes=0)
    other = make_video(tmp_path / "other.mp4", duration=2.0)
    for path in (video, other, video):
        episode = Episode.open(path, pool=tight)
        look(episode) if path == video else None
        episode.close()
        assert tight.idle_bytes() == 0  # nothing idle kept: each was closed when handed back
    assert tight.opened == 3


def test_a_bad_video_is_an_error_and_nothing_is_kept(bad_videos):
    pool = VideoPool()
    for name in ("missing", "text", "cut"):
        with pytest.raises(VideoError):
            Episode.open(bad_videos[name], pool=pool)
    assert pool.opened == 0 and pool.idle_bytes() == 0


def test_shared_videos_return_the_frames_a_video_of_its_own_returns(tmp_path):
    """While episodes share a video, frames the decoder passes are kept; what comes back is still exact."""
    from deepsport.dev.synthetic import read_index
    from deepsport.video import Video

    path = make_video(tmp_path / "gop.mp4", duration=8.0, fps=10.0, gop=40)
    pool = VideoPool(keep_before=2.0)
    shared = [Episode.open(path, pool=pool) for _ in range(3)]
    assert shared[0].video.keep_before == 2.0
    windows = [(3.0, 5.0), (2.2, 4.6), (5.5, 7.5), (0.4, 3.0), (3.3, 3.9)]
    with Video(path) as own:
        for episode, (start, end) in zip(shared * 2, windows, strict=False):
            got, expected = episode.video.window(start, end, 6), own.window(start, end, 6)
            assert [f.index for f in got] == [f.index for f in expected]
            assert [read_index(f.image) for f in got] == [f.index for f in got]  # the frame shows its own number
    assert shared[0].video.num_decoded < 30  # later windows came from frames kept on the way
    for episode in shared:
        episode.close()
    assert shared[0].video.keep_before == 0.0  # nobody shares it now: requests convert only what they return
    pool.close()
