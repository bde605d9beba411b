"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from deepsport.dev.synthetic import make_audio_only, make_empty_video, make_video

# --- tiny offline models ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Build a tiny random checkpoint once per session and family: ``tiny_model_dir("qwen2.5-vl")``."""
    from deepsport.dev.tiny_model import build_tiny_model

    built: dict[str, Path] = {}

    def get(family: str = "qwen3-vl") -> Path:
        if family not in built:
            built[family] = build_tiny_model(tmp_path_factory.mktemp(f"tiny-{family}"), family)
        return built[family]

    return get


# --- synthetic videos ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def counter_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 s, 10 fps, 320x240 H.264, a keyframe every 20 frames: frame i is shown at i / 10 s and carries i
    (``read_index``); the background is grey, turns red at 3 s and blue at 6 s (``read_color``); a big "42"
    is shown from 2 s to 4 s."""
    return make_video(
        tmp_path_factory.mktemp("counter") / "counter.mp4",
        gop=20,
        colors=[(3.0, (255, 0, 0)), (6.0, (0, 0, 255))],
        show_number=(42, 2.0, 4.0),
    )


@pytest.fixture(scope="session")
def bad_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inputs that must fail with a one-line VideoError, by name: missing, directory, text (a text file named
    .mp4), cut (an MP4 cut in half, index at the end), cut_faststart (index at the start), audio_only, empty
    (a video stream without frames), and garbled (random bytes over the middle third: it opens, and fails when
    the frames there are read)."""
    root = tmp_path_factory.mktemp("bad")
    text = root / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    videos = {"missing": root / "missing.mp4", "directory": root, "text": text}
    for name, faststart in (("cut", False), ("cut_faststart", True)):
        whole = make_video(root / f"{name}_whole.mp4", duration=2.0, faststart=faststart).read_bytes()
        videos[name] = root / f"{name}.mp4"
        videos[name].write_bytes(whole[: len(whole) // 2])
    garbled = bytearray(make_video(root / "garbled_whole.mp4", duration=4.0, gop=10, faststart=True).read_bytes())
    third = len(garbled) // 3
    garbled[third : 2 * third] = np.random.default_rng(0).integers(0, 256, third, dtype=np.uint8).tobytes()
    videos["garbled"] = root / "garbled.mp4"
    videos["garbled"].write_bytes(garbled)
    videos["audio_only"] = make_audio_only(root / "audio_only.mp4")
    videos["empty"] = make_empty_video(root / "empty.avi")
    return videos
