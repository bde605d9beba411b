"""One conversation, one prompt text: our tools block and OpenAI conversion render exactly as the templates do."""

import pytest
from PIL import Image
from transformers import AutoProcessor

from deepsport.conversation import from_openai, to_json, to_openai
from deepsport.dev.tiny_model import build_tiny_model
from deepsport.prompts import SYSTEM_PROMPT, question_message, system_message
from deepsport.session import tool_message
from deepsport.tools import REGISTRY, ToolResult
from deepsport.video import Frame


@pytest.fixture(scope="module", params=["qwen3-vl", "qwen2.5-vl"])
def processor(request, tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp(request.param), family=request.param)
    return AutoProcessor.from_pretrained(path)


def frames(*times):
    return [Frame(time=t, index=int(t * 10), image=Image.new("RGB", (64, 48), (int(t * 20), 0, 0))) for t in times]


def conversation():
    schemas = [tool.schema() for tool in REGISTRY.values()]
    arguments = '{"start": 1.0, "end": 2.0, "num_frames": 2}'
    call = f'<tool_call>\n{{"name": "choose_frames", "arguments": {arguments}}}\n</tool_call>'
    return [
        system_message(schemas),
        question_message(frames(0.5, 1.5), duration=2.0, question="Who serves?"),
        {"role": "assistant", "content": f"<think>Closer.</think>\n{call}\n{call}"},
        tool_message(ToolResult(text="2 frames from 1.00s to 2.00s", frames=frames(1.0, 2.0))),
        tool_message(ToolResult(text="Error: you already looked at 1.00-2.00 s.", ok=False)),
        {"role": "assistant", "content": "<answer>the near player</answer>"},
        {"role": "user", "content": "And then?"},
    ]


def render(processor, messages, **kwargs):
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)


def test_tools_block_matches_the_template_rendering_of_tools(processor):
    messages = conversation()
    schemas = [tool.schema() for tool in REGISTRY.values()]
    with_template_tools = [{"role": "system", "content": SYSTEM_PROMPT}, *messages[1:]]
    assert render(processor, messages) == render(processor, with_template_tools, tools=schemas)


def test_openai_round_trip_renders_the_same_prompt(processor):
    messages = conversation()
    wire = to_openai(messages)
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert render(processor, from_openai(wire)) == render(processor, messages)
    assert "<|im_start|>user\n<tool_response>\n2 frames" in render(processor, messages)


def test_trace_json_keeps_times_not_pixels():
    stored = to_json(conversation())
    images = [b for m in stored if isinstance(m["content"], list) for b in m["content"] if b["type"] == "image"]
    assert images == [{"type": "image", "time": t} for t in (0.5, 1.5, 1.0, 2.0)]
