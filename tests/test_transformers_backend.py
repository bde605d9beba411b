"""The transformers backend on tiny offline checkpoints: rendering, KV-cache reuse, load errors, a fitted model."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import torch
from memorize import memorize
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from deepsport.backends.base import BackendError, GenerationConfig, Message
from deepsport.backends.transformers_backend import TransformersChatModel
from deepsport.dev.tiny_model import build_tiny_model

FAMILIES = ["qwen3-vl", "qwen2.5-vl"]
GREEDY = GenerationConfig(max_new_tokens=6)


def image(color: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> Image.Image:
    return Image.new("RGB", size, color)


def user(text: str, *images: Image.Image) -> Message:
    return {
        "role": "user",
        "content": [*({"type": "image", "image": i} for i in images), {"type": "text", "text": text}],
    }


def tool(text: str, *images: Image.Image) -> Message:
    return {
        "role": "tool",
        "content": [*({"type": "image", "image": i} for i in images), {"type": "text", "text": text}],
    }


def prompt_ids(processor, messages: list[Message]) -> list[int]:
    inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    return list(inputs["input_ids"][0])


def shared_prefix(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


class Fresh:
    """Reference: plain ``generate`` on the whole prompt with a separate model and no cache from earlier turns."""

    def __init__(self, path: Path):
        self.processor = AutoProcessor.from_pretrained(path)
        self.model = AutoModelForImageTextToText.from_pretrained(path).eval()

    def __call__(self, messages: list[Message], ids: list[int] | None = None) -> tuple[list[int], torch.Tensor]:
        """Greedy generation on the rendered prompt, or on ``ids`` with the prompt's images."""
        inputs = self.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        )
        if ids is not None:
            types = self.processor.create_mm_token_type_ids([ids])
            inputs |= {"input_ids": torch.tensor([ids]), "mm_token_type_ids": torch.tensor(types)}
            inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        out = self.model.generate(
            **inputs,
            max_new_tokens=GREEDY.max_new_tokens,
            do_sample=False,
            eos_token_id=self.processor.tokenizer.convert_tokens_to_ids("<|im_end|>"),
            return_dict_in_generate=True,
            output_logits=True,
        )
        return out.sequences[0, inputs["input_ids"].shape[1] :].tolist(), out.logits[0][0]


def continued(processor, messages: list[Message], written: list[int]) -> list[int]:
    """The prompt ids of ``messages``, whose last assistant turn ends ``written`` (the ids the model saw and wrote,
    its stop token left out), as the model wrote them: ``written``, then the rest of the prompt rendered."""
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    turn = processor.apply_chat_template(
        messages[: last + 1], continue_final_message=True, tokenize=True, return_dict=True
    )["input_ids"][0]
    return written + prompt_ids(processor, messages)[len(turn) :]


def encoded_grids(backend: TransformersChatModel) -> list[list[int]]:
    """Image grids the vision encoder sees from now on (one entry per image)."""
    grids: list[list[int]] = []
    backend.model.model.visual.register_forward_hook(
        lambda module, args, kwargs, out: grids.extend(kwargs["grid_thw"].tolist()), with_kwargs=True
    )
    return grids


def assert_same_as_fresh(
    backend: TransformersChatModel, fresh: Fresh, messages: list[Message], prompt: list[int] | None = None
):
    generation = backend.generate(messages, GREEDY, output_logits=True)
    ids, first_logits = fresh(messages, prompt)
    assert generation.token_ids == ids
    torch.testing.assert_close(generation.logits[0][0], first_logits, atol=1e-4, rtol=0)
    return generation


@pytest.mark.parametrize("family", FAMILIES)
def test_cache_reuse_matches_fresh_generation(tiny_model_dir, family: str) -> None:
    path = tiny_model_dir(family)
    backend, fresh = TransformersChatModel(str(path)), Fresh(path)
    grids = encoded_grids(backend)
    tokenizer = backend.processor.tokenizer
    images = [[image((200, 0, 0))], [image((0, 200, 0), (96, 64)), image((0, 0, 200))], []]
    new_grids = [backend.processor.image_processor(images=i)["image_grid_thw"].tolist() if i else [] for i in images]
    messages = [{"role": "system", "content": "You watch sports."}, user("What number?", *images[0])]
    turns = [tool("frames at 2.0 s, 3.0 s", *images[1]), user("Sure?")]
    previous: list[int] = []
    uncached = 0  # the last token of a turn cut off by max_new_tokens never went through the model
    for turn in range(3):
        # the earlier turns as the model wrote them, then the rest of the prompt
        prompt = continued(backend.processor, messages, previous) if turn else prompt_ids(backend.processor, messages)
        generation = assert_same_as_fresh(backend, fresh, messages, prompt)
        assert generation.prompt_tokens == len(prompt)
        assert generation.cached_tokens == len(previous) - uncached  # all of it, the earlier turns' tokens too
        assert grids == [g for t in new_grids[: turn + 1] for g in t]  # only new images are encoded
        text_ids = generation.token_ids[:-1] if generation.finish_reason == "stop" else generation.token_ids
        previous, uncached = prompt + text_ids, int(generation.finish_reason == "length")
        messages = [*messages, {"role": "assistant", "content": tokenizer.decode(text_ids)}]
        if turn < 2:
            messages.append(turns[turn])


@pytest.mark.parametrize("family", FAMILIES)
def test_diverging_conversations_drop_the_cache(tiny_model_dir, family: str) -> None:
    path = tiny_model_dir(family)
    backend, fresh = TransformersChatModel(str(path)), Fresh(path)
    system = {"role": "system", "content": "You watch sports."}
    first = [system, user("What number?", image((200, 0, 0)))]
    assert_same_as_fresh(backend, fresh, first)
    # same tokens, different image: the cache is kept only up to that image
    other_image = [system, user("What number?", image((0, 0, 200)))]
    generation = assert_same_as_fresh(backend, fresh, other_image)
    image_start = prompt_ids(backend.processor, other_image).index(backend.model.config.image_token_id)
    assert generation.cached_tokens == image_start
    # another conversation shares only the system prompt
    other = [system, user("Who scored the goal in the last minute?")]
    generation = assert_same_as_fresh(backend, fresh, other)
    assert generation.cached_tokens == shared_prefix(
        prompt_ids(backend.processor, other_image), prompt_ids(backend.processor, other)
    )
    # the same prompt again reuses all but the last token
    generation = assert_same_as_fresh(backend, fresh, other)
    assert generation.cached_tokens == generation.prompt_tokens - 1


def test_chat_counts_tokens_and_seeds_sampling(tiny_model_dir) -> None:
    backend = TransformersChatModel(str(tiny_model_dir("qwen3-vl")), device="cpu", dtype="float32")
    messages = [user("Describe the play.", image((10, 120, 30)))]
    completion = backend.chat(messages, GREEDY)
    assert completion.completion_tokens == GREEDY.max_new_tokens and completion.finish_reason == "length"
    assert completion.prompt_tokens == len(prompt_ids(backend.processor, messages))
    assert "<|im_end|>" not in completion.text and completion.seconds > 0
    sampling = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=3)
    texts = {backend.chat(messages, sampling).text for _ in range(2)}
    assert len(texts) == 1
    assert texts != {backend.chat(messages, GenerationConfig(max_new_tokens=8, temperature=1.0, seed=4)).text}
    assert backend.render(messages).endswith("<|vision_end|>Describe the play.<|im_end|>\n<|im_start|>assistant\n")
    backend.close()


def test_the_next_turn_goes_on_from_the_ids_the_model_sampled(tiny_model_dir) -> None:
    """A sampled turn need not be the tokenizer's own reading of its text. The next prompt holds the turn as the
    model wrote it (as GRPO rollouts do), not the text tokenised afresh, with the rest of the prompt after it."""
    path = tiny_model_dir("qwen3-vl")
    backend, reference = TransformersChatModel(str(path), device="cpu", dtype="float32"), Fresh(path)
    tokenizer = backend.processor.tokenizer
    special = set(tokenizer.all_special_ids)
    messages = [user("Describe the play.", image((10, 120, 30)))]
    for seed in range(50):  # a sampled turn that tokenises differently from its text (and holds no special token)
        first = backend.generate(messages, GenerationConfig(max_new_tokens=10, temperature=1.5, seed=seed))
        written = first.token_ids[:-1] if first.finish_reason == "stop" else first.token_ids
        text = tokenizer.decode(written)
        if not special & set(written) and tokenizer(text, add_special_tokens=False)["input_ids"] != written:
            break
    else:
        pytest.fail("no sampled turn tokenised differently from its text")
    follow = [*messages, {"role": "assistant", "content": text}, user("Sure?")]
    expected = continued(backend.processor, follow, prompt_ids(backend.processor, messages) + written)
    second = backend.generate(follow, GREEDY, output_logits=True)
    assert second.prompt_tokens == len(expected) != len(prompt_ids(backend.processor, follow))
    assert second.cached_tokens == first.prompt_tokens + len(first.token_ids) - 1  # the sampled ids are in the cache
    ids, first_logits = reference(follow, expected)
    assert second.token_ids == ids
    torch.testing.assert_close(second.logits[0][0], first_logits, atol=1e-4, rtol=0)


def test_installs_a_tool_template_for_qwen2_5_vl(tiny_model_dir, tmp_path: Path) -> None:
    """A Qwen2.5-VL checkpoint with its stock template (no tool messages) gets ours."""
    path = shutil.copytree(tiny_model_dir("qwen2.5-vl"), tmp_path / "stock")
    processor = AutoProcessor.from_pretrained(path)
    processor.chat_template = (
        resources.files(pytest.importorskip("trl")).joinpath("chat_templates/qwen2_5_vl.jinja").read_text()
    )
    processor.save_pretrained(path)
    backend = TransformersChatModel(str(path))
    rendered = backend.render([user("Go."), {"role": "assistant", "content": "<tool_call>{}</tool_call>"}, tool("ok")])
    assert "<|im_start|>user\n<tool_response>\nok\n</tool_response><|im_end|>\n" in rendered


def test_missing_local_directory_is_one_actionable_line(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="no such directory") as error:
        TransformersChatModel(str(tmp_path / "nowhere"))
    assert "\n" not in str(error.value)


def test_offline_hub_id_is_one_actionable_line(tmp_path: Path) -> None:
    code = (
        "from deepsport.backends.transformers_backend import TransformersChatModel\n"
        "try:\n    TransformersChatModel('Qwen/Qwen3-VL-8B-Instruct')\n"
        "except Exception as e:\n    print(type(e).__name__ + ': ' + str(e))\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == (
        "BackendError: Could not load model 'Qwen/Qwen3-VL-8B-Instruct' (no network access to the model hub and no "
        "local copy). Pass --model /path/to/local/checkpoint, or use an OpenAI-compatible endpoint with --backend "
        "openai --base-url URL."
    )


CALL = (
    '<think>I should look closer.</think>\n<tool_call>\n{"name": "choose_frames", "arguments": '
    '{"start": 2.0, "end": 4.0, "num_frames": 4}}\n</tool_call>'
)
ANSWER = "<think>The number is 7.</think>\n<answer>7</answer>"


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_memorized_model_calls_a_tool_then_answers(tmp_path: Path, family: str) -> None:
    frames = [image((60 * i, 100, 200 - 40 * i)) for i in range(4)]
    conversation = [
        {"role": "system", "content": "You answer questions about sports videos. Call tools to look closer."},
        user("What number is on the shirt?", image((0, 128, 0), (64, 48))),
        {"role": "assistant", "content": CALL},
        tool("Frames at 2.0 s, 2.7 s, 3.3 s, 4.0 s.", *frames),
        {"role": "assistant", "content": ANSWER},
    ]
    path = memorize(build_tiny_model(tmp_path / "tiny", family), [conversation], steps=300)
    backend = TransformersChatModel(str(path))
    config = GenerationConfig(max_new_tokens=80)
    call = backend.chat(conversation[:2], config)
    assert (call.text, call.finish_reason) == (CALL, "stop")
    answer = backend.chat([*conversation[:2], {"role": "assistant", "content": call.text}, conversation[3]], config)
    assert (answer.text, answer.finish_reason) == (ANSWER, "stop")
    assert answer.cached_tokens == call.prompt_tokens + call.completion_tokens - 1
