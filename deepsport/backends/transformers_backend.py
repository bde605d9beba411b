"""The default backend: a Qwen-VL checkpoint run in-process with transformers, reusing its KV cache across turns.

An agent turn re-sends the whole conversation plus a few new messages. The backend keeps the KV cache of the
previous call and the token ids (and image fingerprints) it covers; a new prompt that starts with them only
prefills its new tokens, and only its new images go through the vision encoder. Any other prompt crops the
cache to the longest shared prefix (down to nothing for a different conversation).

How this works in transformers 5.24: ``generate`` continues from the ``cache`` it is given with the full
``input_ids``, slicing off the cached part itself. Two things are ours to provide: the features of the new
images only, as ``mm_encoder_outputs`` (raw ``pixel_values`` of the whole conversation would not match the
image tokens left after slicing), and M-RoPE positions computed over the whole sequence, which ``generate``
does from ``image_grid_thw`` of all images once the model's stored ``rope_deltas`` are cleared.
"""

from __future__ import annotations

import gc
import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import HfApi, snapshot_download
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError
from transformers import AutoModelForImageTextToText, AutoProcessor, BatchFeature, DynamicCache
from transformers import GenerationConfig as HFGenerationConfig

from deepsport.backends.base import BackendError, Completion, GenerationConfig, Message
from deepsport.hf import attention_implementation, with_tool_template

WRITTEN_SEQUENCES = 64  # recent conversations whose generated ids the next turn reuses (``_as_generated``)
ImageKey = tuple[tuple[int, ...], str]  # (grid t, h, w) and a digest of the image's pixel rows


@dataclass
class Generation:
    """One generated assistant turn as token ids, with the bookkeeping ``chat`` reports."""

    token_ids: list[int]  # generated ids, the stop token included when generation stopped on one
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    cached_tokens: int  # prompt tokens taken from the KV cache instead of being prefilled
    logits: tuple[torch.Tensor, ...] | None = None  # raw logits per generated token, when asked for


@dataclass
class _CachedPrefix:
    """The KV cache kept between calls and what it covers."""

    cache: DynamicCache
    ids: torch.Tensor  # (length,) token ids the cache covers
    images: list[ImageKey]  # the images whose tokens lie in ``ids``, in order


class TransformersChatModel:
    """A Hugging Face Qwen3-VL / Qwen2.5-VL checkpoint (hub id or local directory) as a :class:`ChatModel`.

    Calls are serialised: the KV cache is shared state.
    """

    def __init__(self, model: str, device: str = "auto", dtype: str = "auto", attn_implementation: str | None = None):
        self.name = model
        target = _torch_device(device)
        torch_dtype = _torch_dtype(dtype, target)
        _check_hub(model)
        try:
            self.processor = AutoProcessor.from_pretrained(model)
            self.model = AutoModelForImageTextToText.from_pretrained(
                model,
                dtype=torch_dtype,
                device_map=str(target),
                attn_implementation=attention_implementation(attn_implementation, target),
            ).eval()
        except torch.OutOfMemoryError as e:
            raise BackendError(
                f"Out of GPU memory loading model '{model}' ({torch_dtype} on {target}). Free the GPU, use a "
                "smaller model, or serve it elsewhere and use --backend openai --base-url URL."
            ) from e
        except Exception as e:
            raise BackendError(_load_error(model, e)) from e
        self.device = self.model.device
        with_tool_template(self.processor)
        tokenizer = self.processor.tokenizer
        self._image_token_id: int = self.model.config.image_token_id
        self._merge = self.processor.image_processor.merge_size
        self._pad_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        self._end_id: int = tokenizer.convert_tokens_to_ids("<|im_end|>")
        eos = self.model.generation_config.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        self._stop_ids = list(dict.fromkeys([self._end_id, *eos]))
        self._prefix: _CachedPrefix | None = None
        self._written: OrderedDict[str, torch.Tensor] = OrderedDict()  # recent sequences by their text (oldest first)
        self._lock = threading.Lock()

    def render(self, messages: list[Message]) -> str:
        """The prompt text the model continues: the chat template with the assistant turn opened."""
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def chat(self, messages: list[Message], config: GenerationConfig) -> Completion:
        start = time.perf_counter()
        generation = self.generate(messages, config)
        ids = generation.token_ids
        if generation.finish_reason == "stop":
            ids = ids[:-1]
        return Completion(
            text=self.processor.tokenizer.decode(ids, skip_special_tokens=False),
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=len(generation.token_ids),
            cached_tokens=generation.cached_tokens,
            seconds=time.perf_counter() - start,
            finish_reason=generation.finish_reason,
        )

    def generate(self, messages: list[Message], config: GenerationConfig, output_logits: bool = False) -> Generation:
        """Generate the next assistant turn as token ids, reusing the KV cache of the previous call."""
        inputs = self.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        )
        if "pixel_values_videos" in inputs:
            raise BackendError("Video content blocks are not supported: pass the frames as images.")
        with self._lock, torch.inference_mode():
            inputs = self._as_generated(inputs)
            ids = inputs["input_ids"][0]
            images = self._image_keys(inputs)
            cached = self._reusable_length(ids, images)
            cache = (
                self._prefix.cache if self._prefix is not None and cached else DynamicCache(config=self.model.config)
            )
            cache.crop(cached - cache.get_seq_length())
            self._prefix = None  # a failure below leaves the cache in an unknown state
            kwargs = self._model_inputs(inputs, ids, cached)
            if config.seed is not None:
                torch.manual_seed(config.seed)
            self.model.model.rope_deltas = None  # M-RoPE positions are recomputed over the whole sequence
            out = self.model.generate(
                **kwargs, cache=cache, generation_config=self._generation_config(config, output_logits)
            )
            sequence = out.sequences[0].cpu()
            self._prefix = _CachedPrefix(cache, sequence[: cache.get_seq_length()], images)
            self._remember(sequence)
        new = sequence[len(ids) :].tolist()
        stopped = bool(new) and new[-1] in self._stop_ids
        return Generation(
            token_ids=new,
            finish_reason="stop" if stopped else "length",
            prompt_tokens=len(ids),
            cached_tokens=cached,
            logits=out.logits if output_logits else None,
        )

    def close(self) -> None:
        """Free the model and the KV cache; the instance cannot be used afterwards."""
        self._prefix = None
        self._written.clear()
        del self.model
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _as_generated(self, inputs: BatchFeature) -> BatchFeature:
        """The prompt with an earlier call's sequence as the model wrote it, where the prompt continues one.

        Re-rendering a turn's text tokenises it afresh, and a sampled turn need not be the tokenizer's own reading
        of its text (``ch`` ``oose`` for ``choose``): the model would go on from tokens it never wrote. GRPO rollouts
        (TRL) go on from the generated ids, and so does this backend: both loops show the model the same tokens."""
        ids = inputs["input_ids"][0]
        decode = self.processor.tokenizer.decode
        for end in reversed((ids == self._end_id).nonzero().flatten().tolist()):
            # the <|im_end|> the model wrote, or the template's after a turn cut off by max_new_tokens
            for cut in (end + 1, end):
                written = self._written.get(decode(ids[:cut], skip_special_tokens=False))
                if written is None:
                    continue
                if torch.equal(written, ids[:cut]):
                    return inputs
                spliced = torch.cat([written, ids[cut:]])
                fields: dict = {"input_ids": spliced[None], "attention_mask": torch.ones_like(spliced)[None]}
                if "mm_token_type_ids" in inputs:
                    types = self.processor.create_mm_token_type_ids([spliced.tolist()])
                    fields["mm_token_type_ids"] = torch.tensor(types)
                return BatchFeature({**inputs, **fields})
        return inputs

    def _remember(self, sequence: torch.Tensor) -> None:
        """Keep a call's whole sequence (prompt and generated ids) under its text, for ``_as_generated``."""
        self._written[self.processor.tokenizer.decode(sequence, skip_special_tokens=False)] = sequence
        while len(self._written) > WRITTEN_SEQUENCES:
            self._written.popitem(last=False)

    def _image_keys(self, inputs: BatchFeature) -> list[ImageKey]:
        grids = inputs.get("image_grid_thw")
        if grids is None:
            return []
        rows = torch.split(inputs["pixel_values"], grids.prod(-1).tolist())
        return [
            (tuple(grid.tolist()), hashlib.sha1(pixels.numpy().tobytes()).hexdigest())
            for grid, pixels in zip(grids, rows, strict=True)
        ]

    def _image_starts(self, ids: torch.Tensor) -> list[int]:
        """Position of the first token of each image in ``ids`` (each image is one run of image tokens)."""
        is_image = ids == self._image_token_id
        starts = is_image & ~torch.cat([is_image.new_zeros(1), is_image[:-1]])
        return starts.nonzero().flatten().tolist()

    def _reusable_length(self, ids: torch.Tensor, images: list[ImageKey]) -> int:
        """How many leading tokens of ``ids`` the kept KV cache holds: same tokens and the same images."""
        if self._prefix is None:
            return 0
        old = self._prefix.ids
        length = min(len(old), len(ids) - 1)  # at least one token is prefilled to get the next logits
        mismatch = (old[:length] != ids[:length]).nonzero()
        if len(mismatch):
            length = int(mismatch[0])
        for index, start in enumerate(self._image_starts(ids)):
            if start >= length:
                break
            end = start + math.prod(images[index][0]) // self._merge**2
            if end > length or index >= len(self._prefix.images) or self._prefix.images[index] != images[index]:
                return start
        return length

    def _model_inputs(self, inputs: BatchFeature, ids: torch.Tensor, cached: int) -> dict:
        """``generate`` kwargs: the full sequence, all image grids, and encoder features of the new images only."""
        kwargs = {k: inputs[k] for k in ("input_ids", "attention_mask", "mm_token_type_ids") if k in inputs}
        grids = inputs.get("image_grid_thw")
        if grids is not None:
            kwargs["image_grid_thw"] = grids
            first_new = sum(start < cached for start in self._image_starts(ids))
            if first_new < len(grids):
                first_row = int(grids[:first_new].prod(-1).sum())
                features = self.model.get_image_features(
                    pixel_values=inputs["pixel_values"][first_row:].to(self.device),
                    image_grid_thw=grids[first_new:].to(self.device),
                    return_dict=True,
                )
                kwargs["mm_encoder_outputs"] = {"image": features}
        return {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}

    def _generation_config(self, config: GenerationConfig, output_logits: bool) -> HFGenerationConfig:
        """Exactly the requested decoding: the checkpoint's own sampling defaults are not applied."""
        sampling = {"temperature": config.temperature, "top_p": config.top_p, "top_k": 0}
        return HFGenerationConfig(
            max_new_tokens=config.max_new_tokens,
            do_sample=config.temperature > 0,
            eos_token_id=self._stop_ids,
            pad_token_id=self._pad_id,
            return_dict_in_generate=True,
            output_logits=output_logits,
            **(sampling if config.temperature > 0 else {}),
        )


def _torch_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError:
        raise BackendError(f"Unknown device '{device}': use auto, cpu, cuda or cuda:N.") from None


def _torch_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(value := getattr(torch, dtype, None), torch.dtype):
        return value
    raise BackendError(f"Unknown dtype '{dtype}': use auto, float32, bfloat16 or float16.")


def _check_hub(model: str) -> None:
    """Fail within seconds, not after minutes of download retries, when a hub id has no local copy and the hub
    cannot be reached."""
    if hub_constants.HF_HUB_OFFLINE or Path(model).expanduser().exists() or model.startswith(("/", ".", "~")):
        return
    try:
        snapshot_download(model, local_files_only=True)
        return  # cached: nothing to download
    except Exception:  # not cached (or only partly): ask the hub
        pass
    try:
        HfApi().model_info(model, timeout=10)
    except HfHubHTTPError as e:
        raise BackendError(_load_error(model, e)) from e
    except Exception as e:  # connection refused, DNS failure, timeout
        raise BackendError(_offline(model)) from e


def _offline(model: str) -> str:
    return (
        f"Could not load model '{model}' (no network access to the model hub and no local copy). Pass "
        "--model /path/to/local/checkpoint, or use an OpenAI-compatible endpoint with --backend openai "
        "--base-url URL."
    )


def _load_error(model: str, error: Exception) -> str:
    """One line saying why ``model`` did not load and what to do about it."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if Path(model).expanduser().is_dir():
        return f"Could not load model '{model}' from its local directory: {reason}"
    if model.startswith(("/", ".", "~")):
        return f"Could not load model '{model}': no such directory."
    chain: list[BaseException] = [error]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and cause not in chain:
        chain.append(cause)
    if any(isinstance(e, RepositoryNotFoundError | GatedRepoError) for e in chain):
        return (
            f"Could not load model '{model}' (not found on the model hub, or gated). Check the id, log in with "
            "`hf auth login` for gated models, or pass --model /path/to/local/checkpoint."
        )
    if any(isinstance(e, LocalEntryNotFoundError) for e in chain) or "couldn't connect" in reason:
        return _offline(model)
    return f"Could not load model '{model}': {reason}"
