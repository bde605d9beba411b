"""Tiny randomly initialised Qwen3-VL / Qwen2.5-VL checkpoints for offline tests.

A built checkpoint is a real one: a locally trained byte-level BPE tokenizer carrying the Qwen special
tokens, the real processor classes (sized so a frame becomes a handful of vision tokens), a tool-capable chat
template, and a model small enough to train on a CPU in seconds. It loads with ``AutoProcessor`` and
``AutoModelForImageTextToText`` like any hub checkpoint.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Literal

import torch
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import BPE
from tokenizers.trainers import BpeTrainer
from transformers import (
    AutoModelForImageTextToText,
    GenerationConfig,
    Qwen2_5_VLConfig,
    Qwen2_5_VLProcessor,
    Qwen2Tokenizer,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
    Qwen3VLConfig,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

from deepsport.prompts import chat_template as shipped_template

Family = Literal["qwen3-vl", "qwen2.5-vl"]

VOCAB_SIZE = 3000  # BPE tokens, before the special tokens and tags
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
TAGS = [
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
]
MAX_MERGED_SIDE = 4  # a frame becomes at most 4 x 4 vision tokens
MIN_MERGED_SIDE = 1

_SENTENCES = [
    "The striker controls the ball on the edge of the box and shoots low into the far corner.",
    "The goalkeeper dives to his left and pushes the shot around the post for a corner kick.",
    "A long pass over the defence finds the winger, who crosses for a header at the near post.",
    "The referee shows a yellow card after a late tackle in midfield.",
    "The point guard dribbles past the screen and hits a three-pointer from the top of the key.",
    "The center grabs the offensive rebound and scores with a layup before the buzzer.",
    "The server tosses the ball high and hits an ace down the middle of the court.",
    "The batter swings and lifts the ball over the left field wall for a home run.",
    "The sprinter leaves the blocks fast and leans at the finish line to win by a hundredth of a second.",
    "The gymnast lands the vault cleanly and raises both arms toward the judges.",
    "The player with number 7 on the red shirt receives the ball near the halfway line.",
    "How many passes does the blue team make before the shot? Answer with a number.",
    "What is the score shown in the top left corner of the broadcast at the end of the clip?",
    "Which player touches the ball last before it goes out of bounds?",
    "Look closer at the frames around the moment of the foul to see who made contact first.",
    "The replay shows the ball crossing the line by a few centimetres, so the goal stands.",
    "The coach calls a timeout with two minutes left in the fourth quarter.",
    "The swimmer touches the wall first and looks up at the scoreboard to check the time.",
    "The frames show the kicker approaching the ball, the contact, and the ball in the air.",
    "I should look closer at the end of the video to read the scoreboard.",
    "The number on the back of the shirt is hard to read at this resolution.",
    "The action happens between two and four seconds, so I will sample more frames there.",
    "You are a helpful assistant that watches sports videos and answers questions about them.",
    "Think step by step inside think tags, call a tool when you need to see more, and give the answer.",
]
_COMMON_WORDS = """
about above across action actually after again against ago ahead air all almost alone along already also always
among amount and angle animal another answer any anyone anything appear area arm around arrive ask attack attempt
away back bad balance base beat because become before begin behind believe below best better between big black
blue body both bottom bounce box break bright bring brother build call camera can captain carry case catch cause
center certain chance change check chest child choose circle clear clock close cloud coach cold color come common
compare complete contact control corner could count country course cover cross crowd cut dark day dead decide deep
defend describe detail different direction distance does done door double down draw drive drop during each early
easy edge effect either else empty end enough enter even evening event every exact example explain eye face fact
fall family far fast father feel few field fight final find fine finish fire first floor follow foot force form
forward free friend from front full game get give glass good great green ground group grow half hand happen hard
head hear heavy height help here high hold home hope hour house however human idea image important inside instead
into its jump just keep kind know large last late later lead learn least leave left length less light line list
little long look lose low main make many mark match matter mean measure middle might minute miss moment more
morning most mother move much must name near need never next night nothing notice number object often old once
only open order other outside over own page paper part pass past pattern people perhaps person picture piece place
plan play point position possible power present press pull push question quick quiet rather reach read ready real
reason record red remember rest result return right river road rock room round row rule run same save second see
seem sentence set several shape short should show side sign simple since size slow small so some something soon
sound space speed stand start state stay step still stop story straight strong such sudden sure surface take talk
team tell than that their them then there these thing think those though three through time together too top
toward track travel tree true try turn under until upon usual very view voice wait walk wall want watch water way
weather week weight well went were what wheel when where which while white whole why wide will wind window winter
with within without wonder word work world would write wrong yard year yellow yes yet young
"""
_SPORTS_WORDS = """
football soccer basketball tennis baseball volleyball handball hockey rugby cricket golf boxing swimming cycling
athletics gymnastics badminton skiing skating diving rowing wrestling judo fencing archery marathon triathlon
goalkeeper defender midfielder striker forward winger fullback sweeper pitcher catcher batter shortstop outfielder
quarterback receiver linebacker guard center setter libero spiker server referee umpire linesman coach substitute
goal penalty freekick offside header volley dribble tackle foul assist save block steal rebound dunk layup jumper
rally serve smash lob backhand forehand deuce advantage ace fault net baseline sideline touchline crossbar post
inning strike homerun bunt pitch catch throw kick shot pass cross clearance interception possession counterattack
timeout overtime halftime quarter period set tiebreak scoreboard score draw win loss league cup tournament final
semifinal stadium arena court pitch rink pool track lane hurdle relay sprint finish podium medal gold silver bronze
jersey shirt number captain lineup formation tactic pressing transition replay broadcast camera angle slowmotion
whistle card yellow red corner throwin goalkick kickoff restart injury stretcher celebration fans chant banner
"""


# The corpus is fixed text, not the live prompts and tool registry: the tokenizer fixes the vocabulary and so the
# random model, and a new tool or a reworded description must not change what the tiny model is (tests and the
# learning proof would change outcome with it). These are the system prompt with the tool list, and the agent's
# other prompts, as they were when the corpus was frozen; the tool calls below use the same tools' number arguments.
_PROMPT_TEXTS = [
    (
        "You are DeepSport, an expert sports video analyst. You see a few frames of a video, each labelled with "
        "its time in seconds from the start. Think inside <think></think>. To look closer, call a tool; its frames "
        "or numbers come back to you. Put your final answer inside <answer></answer>.\n"
        "\n"
        "# Tools\n"
        "\n"
        "You may call one or more functions to assist with the user query.\n"
        "\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n"
        "<tools>\n"
        '{"type": "function", "function": {"name": "choose_frames", "description": "Extract frames uniformly from '
        "a time window of the video to look at it more closely. Times are in seconds from the start of the "
        'video.", "parameters": {"type": "object", "properties": {"start": {"type": "number", "minimum": 0, '
        '"description": "Window start in seconds."}, "end": {"type": "number", "minimum": 0, "description": '
        '"Window end in seconds."}, "num_frames": {"type": "integer", "minimum": 1, "maximum": 32, "description": '
        '"How many frames to extract from the window."}}, "required": ["start", "end", "num_frames"], '
        '"additionalProperties": false}}}\n'
        '{"type": "function", "function": {"name": "estimate_pose", "description": "Measure the pose of the main '
        "person (one per frame) at a time or over a window: joint angles (elbows, shoulders, hips, knees, trunk "
        "lean), limb speeds and how fast joints turn, as a table of numbers per frame. Give `time` for one moment, "
        "or `start` and `end` (seconds) for a window. Set `overlay` to also get the frames with the skeleton drawn "
        "(they count against the frame budget). Works on close views of athletes; in wide shots players are "
        'usually too small and nobody is found.", "parameters": {"type": "object", "properties": {"time": {"type": '
        '"number", "minimum": 0, "description": "One moment, in seconds."}, "start": {"type": "number", "minimum": '
        '0, "description": "Window start in seconds."}, "end": {"type": "number", "minimum": 0, "description": '
        '"Window end in seconds."}, "num_frames": {"type": "integer", "minimum": 2, "maximum": 32, "description": '
        '"Frames spread over the window (default 8)."}, "overlay": {"type": "boolean", "description": "Also return '
        'the frames with the skeleton drawn."}}, "additionalProperties": false}}}\n'
        '{"type": "function", "function": {"name": "spot_actions", "description": "Find when events happen in the '
        "video (e.g. goals, fouls, serves, or salient moments): returns events with their label, time in seconds "
        "and a score from 0 to 1, sorted by time, as text. Look at an event with choose_frames around its time. "
        'The result says which labels this spotter can name.", "parameters": {"type": "object", "properties": '
        '{"labels": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "Only events with '
        'these labels (default: every label)."}, "start": {"type": "number", "minimum": 0, "description": "Only '
        'events from this time, in seconds."}, "end": {"type": "number", "minimum": 0, "description": "Only events '
        'up to this time, in seconds."}, "top_k": {"type": "integer", "minimum": 1, "maximum": 50, "description": '
        '"Only the best-scoring events, at most this many (default 10)."}}, "additionalProperties": false}}}\n'
        "</tools>\n"
        "\n"
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n"
        "<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n'
        "</tool_call>"
    ),
    "Your tool budget is spent. Give your final answer now inside <answer></answer>.",
    "Call a tool, or give your final answer inside <answer></answer>.",
]
_CALL_NUMBERS = {
    "choose_frames": ("start", "end"),
    "estimate_pose": ("time", "start", "end"),
    "spot_actions": ("start", "end"),
}


def _corpus() -> list[str]:
    """English, sports and tool-call text, so the agent's prompts, tags, JSON and timestamps tokenise compactly.
    Fixed: it depends on nothing outside this module."""
    rng = random.Random(0)
    texts = [*_SENTENCES, *_PROMPT_TEXTS]
    words = (_COMMON_WORDS + _SPORTS_WORDS).split()
    for _ in range(2000):
        picked = [rng.choice(words) for _ in range(rng.randint(6, 16))]
        texts.append(" ".join(w.title() if rng.random() < 0.2 else w for w in picked) + rng.choice(".?!,:;"))
    for _ in range(400):
        name = rng.choice(list(_CALL_NUMBERS))
        args: dict[str, float] = {p: round(rng.uniform(0, 60), rng.choice([0, 1, 2])) for p in _CALL_NUMBERS[name]}
        if name == "choose_frames":
            args["num_frames"] = rng.randint(1, 16)
        sentence = rng.choice(_SENTENCES)
        call = json.dumps({"name": name, "arguments": args})
        times = ", ".join(f"{t:.1f} s" for t in sorted(rng.uniform(0, 60) for _ in range(rng.randint(1, 6))))
        texts.append(f"<think>{sentence}</think>\n<tool_call>\n{call}\n</tool_call>")
        texts.append(f"<tool_response>\nFrames at {times}.\n</tool_response>")
        texts.append(f"<think>{sentence}</think>\n<answer>{rng.choice([rng.randint(0, 99), sentence])}</answer>")
        texts.append(f'{{"error": "Invalid arguments for {name}: {sentence}"}}')
    return texts


def build_tokenizer() -> Qwen2Tokenizer:
    """A byte-level BPE tokenizer trained on the built-in corpus, with the Qwen special tokens and tags."""
    bpe = Tokenizer(BPE())
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(_corpus(), trainer)
    model = json.loads(bpe.to_str())["model"]
    vocab: dict[str, int] = model["vocab"]
    for token in SPECIAL_TOKENS + TAGS:
        vocab[token] = len(vocab)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,  # type: ignore[arg-type]  # tokenizers' BPE takes (a, b) pairs; transformers says list[str]
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=32768,
    )
    tokenizer.add_tokens(SPECIAL_TOKENS, special_tokens=True)
    tokenizer.add_tokens(TAGS)
    return tokenizer


def chat_template(family: Family) -> str:
    """The tool-capable chat template: Qwen3-VL's own, or ours for Qwen2.5-VL."""
    return shipped_template("qwen3_vl" if family == "qwen3-vl" else "qwen2_5_vl_tools")


def _processor(family: Family, tokenizer: Qwen2Tokenizer) -> Qwen3VLProcessor | Qwen2_5_VLProcessor:
    patch = 16 if family == "qwen3-vl" else 14
    factor = patch * 2
    size = {"shortest_edge": (MIN_MERGED_SIDE * factor) ** 2, "longest_edge": (MAX_MERGED_SIDE * factor) ** 2}
    mean_std = {"image_mean": [0.5] * 3, "image_std": [0.5] * 3} if family == "qwen3-vl" else {}
    vision: dict[str, Any] = {"patch_size": patch, "temporal_patch_size": 2, "merge_size": 2, "size": size, **mean_std}
    image_processor = Qwen2VLImageProcessor(**vision)
    if family == "qwen3-vl":
        qwen3_video = Qwen3VLVideoProcessor(**vision, cap_pixels_per_frame=True)
        return Qwen3VLProcessor(image_processor, tokenizer, qwen3_video, chat_template=chat_template(family))
    qwen2_video = Qwen2VLVideoProcessor(**vision)
    return Qwen2_5_VLProcessor(image_processor, tokenizer, qwen2_video, chat_template=chat_template(family))


# ~1B parameters (0.85B language model, 0.1B vision tower): real layer sizes, for speed and memory checks on a GPU.
LARGE: dict[str, dict[str, Any]] = {
    "text": {
        "hidden_size": 2048,
        "intermediate_size": 6144,
        "num_hidden_layers": 16,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
    },
    "vision": {"depth": 8, "hidden_size": 1024, "intermediate_size": 4096, "num_heads": 16, "out_hidden_size": 2048},
    "qwen3-vl": {"head_dim": 128, "mrope_section": [24, 20, 20], "deepstack_visual_indexes": [2, 5, 7]},
    "qwen2.5-vl": {"mrope_section": [16, 24, 24], "fullatt_block_indexes": [3, 7]},
}


def _config(family: Family, tokenizer: Qwen2Tokenizer, large: bool = False) -> Qwen3VLConfig | Qwen2_5_VLConfig:
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    token_ids: dict[str, Any] = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
    }
    text: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    vision: dict[str, Any] = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": 64,
    }
    sizes = LARGE[family] if large else {}
    if large:
        text |= LARGE["text"]
        vision |= LARGE["vision"]
    if family == "qwen3-vl":
        text |= {
            "head_dim": sizes.get("head_dim", 16),
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": sizes.get("mrope_section", [4, 2, 2]),
                "mrope_interleaved": True,
            },
        }
        deepstack = sizes.get("deepstack_visual_indexes", [0, 1])
        vision |= {"patch_size": 16, "num_position_embeddings": 256, "deepstack_visual_indexes": deepstack}
        return Qwen3VLConfig(text_config=text, vision_config=vision, **token_ids)
    mrope = sizes.get("mrope_section", [4, 2, 2])
    text |= {"rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": mrope}}
    full = sizes.get("fullatt_block_indexes", [1])
    vision |= {"patch_size": 14, "window_size": 112, "fullatt_block_indexes": full, "tokens_per_second": 2}
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **token_ids)


def build_tiny_model(out_dir: str | Path, family: Family = "qwen3-vl", seed: int = 0, large: bool = False) -> Path:
    """Build and save a tiny randomly initialised checkpoint of ``family`` to ``out_dir``; returns the path.
    ``large``: the same vocabulary with real layer sizes, about 1B parameters (for GPU speed and memory checks)."""
    out = Path(out_dir)
    tokenizer = build_tokenizer()
    processor = _processor(family, tokenizer)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_config(_config(family, tokenizer, large), dtype=torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
