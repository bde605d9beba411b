"""choose_frames on synthetic videos whose frame indices are known: exact frames, budgets, readable errors."""

import pytest

from deepsport.dev.synthetic import make_video, read_index
from deepsport.tools import REGISTRY, Budget, Episode, Toolbox
from deepsport.video import Video


@pytest.fixture(scope="module")
def video_path(tmp_path_factory):
    # 10 s at 10 fps: frame i is shown at i / 10 s and carries i in its pixels
    return make_video(tmp_path_factory.mktemp("tools") / "counter.mp4", duration=10.0, fps=10.0)


@pytest.fixture(params=["decord", "pyav"])
def toolbox(request, video_path):
    episode = Episode(video=Video(video_path, backend=request.param), budget=Budget(frames_per_call=8, total_frames=20))
    box = Toolbox(episode, ["choose_frames"])
    yield box
    box.close()
    episode.close()


def call(box, **arguments):
    result, _ = box.call("choose_frames", arguments)
    return result


def indices(result):
    return [read_index(frame.image) for frame in result.frames]


@pytest.mark.parametrize(
    "start, end, n, expected",
    [
        (2.0, 4.0, 5, [20, 25, 30, 35, 40]),
        (0.0, 1.0, 2, [0, 10]),  # first frame of the video
        (9.0, 10.0, 2, [90, 99]),  # the video's end maps to its last frame
        (2.0, 4.0, 4, [20, 27, 33, 40]),  # 2.667 s and 3.333 s round to the nearest real frame
        (5.0, 5.0, 1, [50]),  # an instant
        (3.0, 3.1, 8, [30, 31]),  # more frames asked than the window holds: no duplicates
    ],
)
def test_exact_frames(toolbox, start, end, n, expected):
    result = call(toolbox, start=start, end=end, num_frames=n)
    assert result.ok, result.text
    assert indices(result) == expected
    assert [f.time for f in result.frames] == pytest.approx([i / 10 for i in expected])
    for frame in result.frames:  # each frame's time is written in the text the model reads
        assert f"{frame.time:.2f}s" in result.text
    assert (result.window.start, result.window.end) == (start, end)


def test_end_past_the_video_is_clipped(toolbox):
    result = call(toolbox, start=8.0, end=30.0, num_frames=3)
    assert result.ok and indices(result) == [80, 90, 99]
    assert "clipped" in result.text and result.window.end == 10.0


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        ({"start": 4.0, "end": 2.0, "num_frames": 2}, "before start"),
        ({"start": 12.0, "end": 14.0, "num_frames": 2}, "beyond the end of the video"),
        ({"start": "two", "end": 4.0, "num_frames": 2}, "start: 'two' is not of type 'number'"),
        ({"start": 1.0, "end": 4.0, "num_frames": 2.5}, "num_frames: 2.5 is not of type 'integer'"),
        ({"start": -1.0, "end": 4.0, "num_frames": 2}, "start: -1.0 is less than the minimum of 0"),
        ({"start": 1.0, "end": 4.0, "num_frames": 0}, "num_frames: 0 is less than the minimum of 1"),
        ({"start": 1.0, "end": 4.0}, "'num_frames' is a required property"),
        ({"start": 1.0, "end": 4.0, "num_frames": 2, "fps": 3}, "Additional properties are not allowed"),
    ],
)
def test_bad_arguments_come_back_as_errors(toolbox, arguments, fragment):
    result = call(toolbox, **arguments)
    assert not result.ok and result.frames == []
    assert result.text.startswith("Error: ") and fragment in result.text
    assert toolbox.episode.windows == [] and toolbox.episode.frames_returned == 0


def test_repeated_window_is_refused(toolbox):
    assert call(toolbox, start=2.0, end=4.0, num_frames=2).ok
    repeat = call(toolbox, start=2.0, end=4.1, num_frames=2)  # IoU 0.95
    assert not repeat.ok and "already looked at 2.00-4.00 s" in repeat.text
    assert call(toolbox, start=2.0, end=3.0, num_frames=2).ok  # narrower: IoU 0.5


def test_budgets(toolbox):
    first = call(toolbox, start=0.0, end=5.0, num_frames=20)  # 8 per call
    assert len(first.frames) == 8 and "budget" in first.text
    second = call(toolbox, start=5.0, end=10.0, num_frames=8)
    third = call(toolbox, start=1.0, end=2.0, num_frames=8)  # 20 in all: 4 left
    assert len(second.frames) == 8 and len(third.frames) == 4
    spent = call(toolbox, start=3.0, end=3.5, num_frames=1)
    assert not spent.ok and "budget is spent" in spent.text
    assert toolbox.episode.frames_returned == 20


def test_unknown_tool_and_non_object_arguments(toolbox):
    result, _ = toolbox.call("zoom", {"x": 1})
    assert not result.ok and "unknown tool 'zoom'" in result.text and "choose_frames" in result.text
    result, _ = toolbox.call("choose_frames", [1, 2, 3])
    assert not result.ok and "must be a JSON object" in result.text


def test_registry_schemas_are_valid_function_schemas():
    for name, tool in REGISTRY.items():
        schema = tool.schema()
        assert schema["type"] == "function" and schema["function"]["name"] == name
        assert schema["function"]["parameters"]["type"] == "object"
