"""SFT and RL datasets the training tests build: number videos and their oracle trajectories."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset, DatasetDict

from data_distill.oracle import oracle_trajectory
from deepsport.agent_config import AgentConfig
from deepsport.dev.synthetic import make_video
from deepsport.schemas import QAItem, Span


def number_datasets(
    root: Path, digits: list[int], agent: AgentConfig, task_types: list[str], duration: float, shown: float
) -> Path:
    """Under `root`: videos ``n{i}.mp4`` (the digit shown from `shown` for a second), ``sft/`` (train and
    validation: the rows with their oracle trajectory) and ``rl/`` (train: the same rows without it)."""
    rows = []
    for i, (digit, task_type) in enumerate(zip(digits, task_types, strict=True)):
        make_video(root / f"n{i}.mp4", duration=duration, fps=4.0, size=(96, 64), show_number=(digit, shown, shown + 1))
        item = QAItem(
            id=f"q{i}",
            video=f"n{i}.mp4",
            question="What number is shown?",
            answer=str(digit),
            answer_type="number",
            task_type=task_type,
            evidence=Span(start=shown, end=shown + 1),
        )
        trajectory = oracle_trajectory(item, root / item.video, agent)
        row = {"id": item.id, "video": item.video, "sport": "synthetic", "source": "synthetic", "task_type": task_type}
        rows.append(row | {"qa": item.model_dump_json(), "trajectory": trajectory.model_dump_json()})
    sft = Dataset.from_list(rows)
    DatasetDict(train=sft, validation=sft).save_to_disk(str(root / "sft"))
    DatasetDict(train=sft.remove_columns("trajectory")).save_to_disk(str(root / "rl"))
    return root
