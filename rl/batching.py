"""Training batches of whole conversations with the loss on the assistant's tokens only.

Each conversation is rendered by the model's chat template, images included; the labels keep each assistant
message and its ``<|im_end|>`` and mask (-100) the system and user text, tool responses, image tokens and padding.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import BatchFeature, ProcessorMixin

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


class AssistantOnlyCollator:
    """Batches rows of ``{"messages": [...]}`` into model inputs with assistant-only labels."""

    def __init__(self, processor: ProcessorMixin) -> None:
        self.processor = processor

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(training_batch(self.processor, [example["messages"] for example in examples]))
