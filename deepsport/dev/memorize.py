"""Fit a (tiny) checkpoint to scripted conversations, so tests get a model that says exactly what they need.

Teacher-forced training on the conversations as the chat template renders them, images included, with the
loss on the assistant tokens only (each assistant message and its ``<|im_end|>``): system and user text,
tool responses and image tokens are masked.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor, BatchFeature

from deepsport.backends.base import Message

IGNORE = -100


def assistant_labels(input_ids: torch.Tensor, processor, conversations: list[list[Message]]) -> torch.Tensor:
    """``input_ids`` with every token outside the assistant messages (and their end token) set to -100."""
    tokenizer = processor.tokenizer
    im_start, im_end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    header = tokenizer("assistant\n", add_special_tokens=False)["input_ids"]
    labels = torch.full_like(input_ids, IGNORE)
    for row, (ids, conversation) in enumerate(zip(input_ids.tolist(), conversations, strict=True)):
        turns = 0
        for start in (i for i, token in enumerate(ids) if token == im_start):
            content = start + 1 + len(header)
            if ids[start + 1 : content] != header:
                continue
            end = ids.index(im_end, content) + 1
            labels[row, content:end] = input_ids[row, content:end]
            turns += 1
        expected = sum(message["role"] == "assistant" for message in conversation)
        if turns != expected:
            raise ValueError(f"found {turns} assistant turns in conversation {row}, expected {expected}")
    return labels


def training_batch(processor, conversations: list[list[Message]]) -> BatchFeature:
    """All conversations as one padded batch with their images and assistant-only labels."""
    batch = processor.apply_chat_template(
        conversations, tokenize=True, return_dict=True, return_tensors="pt", processor_kwargs={"padding": True}
    )
    batch["labels"] = assistant_labels(batch["input_ids"], processor, conversations)
    batch["labels"][batch["attention_mask"] == 0] = IGNORE
    return batch


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
