"""Fit a (tiny) checkpoint to scripted conversations, so tests get a model that says exactly what they need.

Teacher-forced training on the conversations as SFT batches them (``rl.batching.training_batch``): the chat
template's rendering, images included, with the loss on the assistant tokens only.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from deepsport.backends.base import Message
from rl.batching import training_batch


def memorize(
    model_dir: str | Path,
    conversations: list[list[Message]],
    steps: int = 300,
    lr: float = 3e-3,
    out_dir: str | Path | None = None,
) -> Path:
    """Train the checkpoint in ``model_dir`` on ``conversations`` (AdamW, full batch, CPU) and save it.

    The fitted model goes to ``out_dir`` (with a copy of the processor) or replaces the one in ``model_dir``.
    """
    out = Path(out_dir or model_dir)
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    batch = training_batch(processor, conversations)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
