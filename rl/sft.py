"""Supervised fine-tuning on tool-using trajectories with TRL's SFTTrainer.

Each example is a whole multi-turn trajectory, its frames read back from the video, rendered by the model's chat
template. The loss covers the assistant's tokens only (thoughts, tool calls, answers and each turn's end token);
the prompt, tool responses and every image token are masked (``rl.batching``).

    deepsport train sft --config configs/sft.yaml [key=value ...]
    accelerate launch --config_file configs/accelerate/zero3.yaml -m rl sft --config configs/sft.yaml
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from rl.batching import AssistantOnlyCollator
from rl.config import SFTJob
from rl.data import load_split, sft_transform
from rl.models import device_args, load_model, load_processor, train_and_save

COLUMNS = ("video", "trajectory")


def build_trainer(config: SFTJob):
    """An SFTTrainer over the configured dataset; the data is ordered by the curriculum when one is set."""
    from trl import SFTConfig, SFTTrainer

    dataset = load_split(config.data, COLUMNS).with_transform(sft_transform(config.data.video_root))
    processor = load_processor(config.model.name_or_path)
    train = asdict(config.train)
    args = SFTConfig(
        **train,
        remove_unused_columns=False,  # the transform reads `trajectory` and `video`
        dataset_kwargs={"skip_prepare_dataset": True},  # the collator renders and tokenizes
        train_sampling_strategy="sequential" if config.data.curriculum.enabled else "random",
        **device_args(config.model),
        **config.trl,
    )
    return SFTTrainer(
        model=load_model(config.model),
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        data_collator=AssistantOnlyCollator(processor),
    )


def run(config: SFTJob) -> Path:
    """Train (resuming from the last checkpoint), save the final model to ``<output_dir>/final``; return it."""
    return train_and_save(config, build_trainer)
