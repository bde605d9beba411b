"""Reading the distillation datasets: video paths under a root, curriculum order, trajectories with their frames.

SFT and RL datasets are ``DatasetDict``s saved with ``save_to_disk`` (columns ``id``, ``video``, ``sport``,
``source``, ``task_type``, ``qa``, and ``trajectory`` for SFT). Frames are never stored: they are read back from
the video at the times the trajectory records, at the resolution the run used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, load_from_disk

from deepsport.conversation import Message, restore_images
from deepsport.schemas import Trajectory
from deepsport.video import Video
from rl.config import Curriculum, DataSettings


class DataError(ValueError):
    """A dataset that cannot be used as configured; one line saying what to fix."""


def open_dataset(path: Path, keep_in_memory: bool = False) -> Dataset | DatasetDict:
    """The dataset saved at `path` with ``save_to_disk``; DataError (one line) when there is none."""
    if not path.exists():
        raise DataError(f"dataset {path} not found; set data.path to a DatasetDict saved with save_to_disk")
    try:
        return load_from_disk(str(path), keep_in_memory=keep_in_memory)
    except (FileNotFoundError, ValueError) as err:
        raise DataError(f"{path} is not a dataset saved with save_to_disk ({err})") from None


def load_split(settings: DataSettings, required: tuple[str, ...]) -> Dataset:
    """The configured split, checked for the columns the job needs, ordered and cut as configured."""
    path = Path(settings.path)
    loaded = open_dataset(path)
    if isinstance(loaded, DatasetDict):
        if settings.split not in loaded:
            raise DataError(f"{path} has no split {settings.split!r}; it has {', '.join(loaded)}")
        loaded = loaded[settings.split]
    missing = [c for c in required if c not in loaded.column_names]
    if missing:
        raise DataError(f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(loaded.column_names)}")
    if settings.curriculum.enabled:
        loaded = curriculum_order(loaded, settings.curriculum)
    if settings.max_examples is not None:
        loaded = loaded.select(range(min(settings.max_examples, len(loaded))))
    if len(loaded) == 0:
        raise DataError(f"{path} split {settings.split!r} is empty")
    return loaded


def video_path(root: str | Path, relative: str) -> Path:
    """``relative`` resolved under ``root``; a path escaping the root is rejected."""
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise DataError(f"video {relative!r} is outside the video root {base}")
    return path


def curriculum_order(dataset: Dataset, curriculum: Curriculum) -> Dataset:
    """Examples sorted by the position of their task type in ``curriculum.task_types`` (unlisted ones last, in
    their original order), then, with ``by_length``, by trajectory length (turns, then frames)."""
    rank = {task: i for i, task in enumerate(curriculum.task_types)}
    has_trajectory = "trajectory" in dataset.column_names

    def key(index: int) -> tuple:
        row = dataset[index]
        length = (0, 0)
        if curriculum.by_length and has_trajectory:
            trajectory = Trajectory.model_validate_json(row["trajectory"])
            length = (len(trajectory.turns), trajectory.frames_used)
        return (rank.get(row.get("task_type"), len(rank)), *length, index)

    return dataset.select(sorted(range(len(dataset)), key=key))


def trajectory_messages(trajectory: Trajectory, video: Path) -> list[Message]:
    """The trajectory's messages with every frame read back from ``video`` (one decoding pass)."""
    times = [
        block["time"]
        for message in trajectory.messages
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "image"
    ]
    max_pixels = trajectory.config.get("max_pixels")
    with Video(video) if max_pixels is None else Video(video, max_pixels=max_pixels) as opened:
        frames = opened.frames_at(times) if times else []
    images = {frame.time: frame.image for frame in frames}

    def load(time: float):
        return images[min(images, key=lambda t: abs(t - time))]

    return restore_images(trajectory.messages, load)


def sft_transform(video_root: str | Path):
    """A ``Dataset.with_transform`` function turning rows into ``{"messages": [...]}`` with their frames."""

    def transform(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        messages = [
            trajectory_messages(Trajectory.model_validate_json(text), video_path(video_root, video))
            for text, video in zip(batch["trajectory"], batch["video"], strict=True)
        ]
        return {"messages": messages}

    return transform
