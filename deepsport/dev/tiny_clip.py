"""A tiny randomly initialised CLIP checkpoint for offline tests of open-vocabulary spotting.

It is a real one: ``CLIPModel`` with a character-level BPE vocabulary (every byte, alone and word-final, no merges),
the real CLIP image processor and tokenizer, and a few thousand weights; it loads with ``AutoModel`` and
``AutoProcessor`` like a hub checkpoint. Its similarities are noise, but every step runs for real.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import pre_tokenizers
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

IMAGE_SIZE = 32


def build_tiny_clip(out_dir: str | Path, seed: int = 0) -> Path:
    """Write the checkpoint to `out_dir` and return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    characters = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: k for k, token in enumerate([*characters, *(c + "</w>" for c in characters)])}
    vocab |= {"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1}
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=32)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={
            **small,
            "vocab_size": len(vocab),
            "max_position_embeddings": 32,
            "bos_token_id": vocab["<|startoftext|>"],
            "eos_token_id": vocab["<|endoftext|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        vision_config={**small, "image_size": IMAGE_SIZE, "patch_size": 8},
        projection_dim=8,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(out)
    return out
