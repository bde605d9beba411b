"""The OpenAI-compatible backend against real HTTP servers on 127.0.0.1: retries, errors, request format."""

import pytest
from PIL import Image

from deepsport.backends.base import BackendError, GenerationConfig
from deepsport.backends.openai_backend import OpenAIChatModel
from deepsport.conversation import data_url_to_image
from deepsport.dev.endpoint import LocalEndpoint, Reply

REPLY = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "<answer>7</answer>"}, "finish_reason": "stop"}
    ],
    "usage": {
        "prompt_tokens": 11,
        "completion_tokens": 3,
        "total_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 5},
    },
}


@pytest.fixture
def server(request):
    """A real local endpoint answering the scripted (status, body) replies in order, then 500s."""
    replies = [Reply(status, payload) for status, payload in request.param]

    def reply(body, number):
        return replies[number] if number < len(replies) else Reply(500, {"error": {"message": "empty"}})

    with LocalEndpoint(reply) as endpoint:
        yield endpoint


def conversation():
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    return [
        {"role": "system", "content": "sys"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "0.50s: "}, {"type": "image", "image": image, "time": 0.5}],
        },
        {"role": "assistant", "content": "<tool_call>{}</tool_call>"},
        {
            "role": "tool",
            "content": [{"type": "text", "text": "1 frame"}, {"type": "image", "image": image, "time": 1.0}],
        },
    ]


@pytest.mark.parametrize(
    "server", [[(429, {"error": {"message": "slow down"}}), (503, {}), (200, REPLY)]], indirect=True
)
def test_retries_429_and_5xx_then_succeeds(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    model = OpenAIChatModel("m", server.url, api_key_env="MY_KEY", max_retries=3)
    completion = model.chat(conversation(), GenerationConfig(max_new_tokens=16))
    assert completion.text == "<answer>7</answer>"
    assert (completion.prompt_tokens, completion.completion_tokens, completion.cached_tokens) == (11, 3, 5)
    last = server.requests[-1]
    assert len(server.requests) == 3 and last.path == "/v1/chat/completions"
    assert last.headers["authorization"] == "Bearer sk-test"
    body = last.body
    assert body["max_tokens"] == 16 and body["temperature"] == 0.0
    # images travel as base64 JPEG data URLs; the tool result became a user turn in <tool_response> tags
    user, tool = body["messages"][1], body["messages"][3]
    assert user["content"][1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert data_url_to_image(user["content"][1]["image_url"]["url"]).size == (32, 24)
    assert tool["role"] == "user" and tool["content"][0] == {"type": "text", "text": "<tool_response>\n1 frame"}
    assert tool["content"][-1] == {"type": "text", "text": "\n</tool_response>"}


@pytest.mark.parametrize("server", [[(500, {"error": {"message": "boom"}})] * 3], indirect=True)
def test_persistent_5xx_becomes_one_line_backend_error(server):
    model = OpenAIChatModel("m", server.url, max_retries=2)
    with pytest.raises(BackendError, match=r"answered 500: boom") as err:
        model.chat(conversation(), GenerationConfig())
    assert "\n" not in str(err.value) and len(server.requests) == 3


@pytest.mark.parametrize(
    "server, fragment",
    [
        ([(401, {"error": {"message": "bad key"}})], "refused the API key (401). Put a valid key in $OPENAI_API_KEY"),
        ([(404, {"error": {"message": "no such model"}})], "has no model 'm' (404)"),
        ([(400, {"error": {"message": "too many images"}})], "answered 400: too many images"),
    ],
    indirect=["server"],
)
def test_client_errors_are_not_retried(server, fragment):
    with pytest.raises(BackendError) as err:
        OpenAIChatModel("m", server.url, max_retries=3).chat(conversation(), GenerationConfig())
    assert fragment in str(err.value) and len(server.requests) == 1


def test_unreachable_endpoint():
    model = OpenAIChatModel("m", "http://127.0.0.1:9/v1", max_retries=1, timeout=2)
    with pytest.raises(BackendError, match="could not be reached after retries"):
        model.chat(conversation(), GenerationConfig())


@pytest.mark.parametrize(
    "server, fragment",
    [
        ([(200, {"id": "x", "choices": []})], "sent a reply with no message"),
        ([(200, {"unexpected": 1})], "sent a reply with no message"),
    ],
    indirect=["server"],
)
def test_malformed_reply_becomes_one_line_backend_error(server, fragment):
    with pytest.raises(BackendError, match=fragment):
        OpenAIChatModel("m", server.url, max_retries=0).chat(conversation(), GenerationConfig())
