"""The tiny offline checkpoints: tokenizer, processors, chat templates, save/load round trip."""

from __future__ import annotations

from importlib import resources

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from deepsport.dev.tiny_model import SPECIAL_TOKENS, TAGS, build_tokenizer

FAMILIES = ["qwen3-vl", "qwen2.5-vl"]
CALL = '<tool_call>\n{"name": "choose_frames", "arguments": {"start": 2.0, "end": 4.0, "num_frames": 4}}\n</tool_call>'
TOOL = {
    "type": "function",
    "function": {
        "name": "choose_frames",
        "description": "Sample frames from a time window of the video.",
        "parameters": {"type": "object", "properties": {"start": {"type": "number"}}, "required": ["start"]},
    },
}


def trl_template(name: str) -> str:
    return (
        resources.files(pytest.importorskip("trl")).joinpath(f"chat_templates/{name}.jinja").read_text(encoding="utf-8")
    )


def test_tokenizer_has_qwen_tokens_and_compact_tool_calls() -> None:
    tokenizer = build_tokenizer()
    assert 2500 <= len(tokenizer) <= 3100
    for token in SPECIAL_TOKENS + TAGS:
        assert tokenizer(token, add_special_tokens=False)["input_ids"] == [tokenizer.convert_tokens_to_ids(token)]
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    ids = tokenizer(CALL, add_special_tokens=False)["input_ids"]
    assert len(ids) <= 40
    assert tokenizer.decode(ids) == CALL
    text = "The goalkeeper dives to save the penalty."
    assert len(tokenizer(text)["input_ids"]) <= 9


@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_through_auto_classes(tiny_model_dir, family: str) -> None:
    path = tiny_model_dir(family)
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path)
    expected = {"qwen3-vl": "Qwen3VL", "qwen2.5-vl": "Qwen2_5_VL"}[family]
    assert type(processor).__name__ == f"{expected}Processor"
    assert type(model).__name__ == f"{expected}ForConditionalGeneration"
    assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessor"
    tokenizer = processor.tokenizer
    assert model.config.image_token_id == tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert model.config.vision_start_token_id == tokenizer.convert_tokens_to_ids("<|vision_start|>")
    assert model.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert sum(p.numel() for p in model.parameters()) < 1_000_000

    messages = [
        {
            "role": "user",
            "content": [{"type": "image", "image": Image.new("RGB", (64, 64))}, {"type": "text", "text": "?"}],
        }
    ]
    inputs = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    assert (inputs["input_ids"] == model.config.image_token_id).sum() == 4  # a 64 x 64 frame is 2 x 2 tokens
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape == (1, inputs["input_ids"].shape[1], len(tokenizer))
    big = processor.image_processor(images=[Image.new("RGB", (640, 360))], return_tensors="pt")["image_grid_thw"]
    assert int(big.prod()) // 4 <= 16  # big frames are scaled down to a handful of tokens


def test_qwen3_vl_uses_trls_template(tiny_model_dir) -> None:
    processor = AutoProcessor.from_pretrained(tiny_model_dir("qwen3-vl"))
    assert processor.chat_template == trl_template("qwen3_vl")


def test_qwen2_5_vl_template_renders_tool_messages(tiny_model_dir) -> None:
    processor = AutoProcessor.from_pretrained(tiny_model_dir("qwen2.5-vl"))
    image = Image.new("RGB", (64, 64))
    messages = [
        {"role": "user", "content": "How many passes?"},
        {"role": "assistant", "content": CALL},
        {"role": "tool", "content": [{"type": "image", "image": image}, {"type": "text", "text": "frame at 2.0 s"}]},
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHow many passes?<|im_end|>\n"
        f"<|im_start|>assistant\n{CALL}<|im_end|>\n"
        "<|im_start|>user\n<tool_response>\n<|vision_start|><|image_pad|><|vision_end|>frame at 2.0 s\n"
        "</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_qwen2_5_vl_template_matches_qwen3_vl_with_a_system_message(tiny_model_dir) -> None:
    qwen2_5 = AutoProcessor.from_pretrained(tiny_model_dir("qwen2.5-vl"))
    qwen3 = AutoProcessor.from_pretrained(tiny_model_dir("qwen3-vl"))
    messages = [{"role": "system", "content": "Watch closely."}, {"role": "user", "content": "Who scored?"}]
    for tools in (None, [TOOL]):
        kwargs = {"add_generation_prompt": True, "tokenize": False, "tools": tools}
        assert qwen2_5.apply_chat_template(messages, **kwargs) == qwen3.apply_chat_template(messages, **kwargs)
    without_system = qwen2_5.apply_chat_template(messages[1:], tools=[TOOL], tokenize=False)
    assert without_system.startswith("<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n")


def test_tokenizer_does_not_change_with_the_tools_or_prompts(monkeypatch) -> None:
    """The tokenizer fixes the random model: a new tool or a reworded prompt must not make another tiny model."""
    from deepsport import prompts
    from deepsport.tools import REGISTRY

    before = build_tokenizer().get_vocab()

    class FindInstruction(REGISTRY["choose_frames"]):  # type: ignore[misc, valid-type]
        name = "find_instruction"
        description = "Find where the commentator explains the referee's decision, quoting the instruction."

    monkeypatch.setitem(REGISTRY, FindInstruction.name, FindInstruction)
    monkeypatch.setattr(prompts, "SYSTEM_PROMPT", "You answer questions about synchronised swimming routines.")
    assert build_tokenizer().get_vocab() == before
