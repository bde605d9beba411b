"""Any OpenAI-compatible chat endpoint: ``vllm serve``, ``deepsport serve``, SGLang, hosted models.

Images travel as base64 JPEG data URLs, the API key comes from an environment variable, and the
``openai`` client retries 408/409/429/5xx answers, dropped connections and timeouts with exponential backoff.

The reply shapes read (``choices[0].message``, field names from vLLM's ``ChatMessage`` and the OpenAI chat API);
each becomes the one Hermes-form turn (``deepsport.hermes.write_turn``) that trajectories store:
- ``content`` only: the model's own text, tags and all (no parsers on the server; ``deepsport serve``).
- ``reasoning_content`` + ``content``: the thought split off by a reasoning parser (vLLM <= 0.10 with
  ``--reasoning-parser qwen3|deepseek_r1``, SGLang ``--reasoning-parser``, hosted Thinking models). It becomes
  the turn's ``<think>``.
- ``reasoning`` + ``content``: the same from vLLM >= 0.11, which renamed the field.
- a thought with ``content`` null and ``finish_reason: "length"``: cut at the token limit while thinking; the turn
  records ``finish_reason: length`` (the agent tells the model it was cut).
- ``tool_calls: [{"id", "type": "function", "function": {"name", "arguments": "<JSON string>"}}]`` with the
  ``<tool_call>`` text stripped from ``content`` (vLLM ``--enable-auto-tool-choice --tool-call-parser hermes``,
  hosted APIs; ``finish_reason: "tool_calls"``): each call is written back as a ``<tool_call>`` block.
Malformed calls (arguments that are not JSON, no name, an unknown tool) reach the model as tool errors it can
recover from; a missing id does not matter (ids are ours); ``tool_calls`` that is not a list is a BackendError.

``tool_protocol="native"`` also sends the conversation natively (``deepsport.conversation.to_openai_native``:
``tools=``, ``role: tool`` results with ``tool_call_id``, no earlier thoughts); ``"hermes"`` (the default) sends
the turns as stored with the tools in the system text and tool results as ``<tool_response>`` user turns.
"""

from __future__ import annotations

import os
import time
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from deepsport.backends.base import BackendError, Completion, GenerationConfig, Message
from deepsport.conversation import to_openai, to_openai_native
from deepsport.hermes import read_native_calls, write_turn

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
TOOL_PROTOCOLS = ("hermes", "native")
TOOL_IMAGES = ("user", "tool")


def openai_client(
    base_url: str, api_key_env: str = DEFAULT_API_KEY_ENV, timeout: float = 300.0, max_retries: int = 5
) -> openai.OpenAI:
    """A client of the endpoint, its key read from ``api_key_env`` (local servers such as vLLM take any key)."""
    api_key = os.environ.get(api_key_env) or "EMPTY"
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)


class OpenAIChatModel:
    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        timeout: float = 300.0,
        max_retries: int = 5,
        jpeg_quality: int = 90,
        tool_protocol: str = "hermes",
        tool_images: str = "user",
    ) -> None:
        if tool_protocol not in TOOL_PROTOCOLS or tool_images not in TOOL_IMAGES:
            raise BackendError(
                f"tool_protocol must be one of {', '.join(TOOL_PROTOCOLS)} (got {tool_protocol!r}) and tool_images "
                f"one of {', '.join(TOOL_IMAGES)} (got {tool_images!r})"
            )
        self.tool_protocol, self.tool_images = tool_protocol, tool_images
        self.name = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.jpeg_quality = jpeg_quality
        self.client = openai_client(base_url, api_key_env, timeout, max_retries)

    def chat(self, messages: list[Message], config: GenerationConfig) -> Completion:
        started = time.perf_counter()
        tools: dict[str, Any] = {}
        if self.tool_protocol == "native":
            wire, schemas = to_openai_native(messages, self.tool_images, self.jpeg_quality)
            tools = {"tools": schemas} if schemas else {}
        else:
            wire = to_openai(messages, self.jpeg_quality)
        try:
            response = self.client.chat.completions.create(
                model=self.name,
                # to_openai builds plain dicts in the chat wire format (system/user/assistant turns, text and
                # image_url parts); the SDK's per-role TypedDicts cannot be inferred from a dict[str, Any].
                messages=cast(list[ChatCompletionMessageParam], wire),
                **tools,
                max_tokens=config.max_new_tokens,
                temperature=config.temperature,
                top_p=config.top_p,
                seed=config.seed,
            )
        except openai.APIConnectionError as err:
            kind = "timed out" if isinstance(err, openai.APITimeoutError) else "could not be reached"
            raise BackendError(
                f"The endpoint {self.base_url} {kind} after retries. Is the server running and the URL right?"
            ) from err
        except openai.AuthenticationError as err:
            raise BackendError(
                f"The endpoint {self.base_url} refused the API key (401). Put a valid key in ${self.api_key_env}."
            ) from err
        except openai.NotFoundError as err:
            raise BackendError(
                f"The endpoint {self.base_url} has no model '{self.name}' (404). Check --model against its /models."
            ) from err
        except openai.APIStatusError as err:
            raise BackendError(f"The endpoint {self.base_url} answered {err.status_code}: {_detail(err)}") from err
        except ValueError as err:  # a body that is not JSON
            raise BackendError(f"The endpoint {self.base_url} sent a reply that is not JSON: {err}") from err
        if not getattr(response, "choices", None) or response.choices[0].message is None:
            raise BackendError(f"The endpoint {self.base_url} sent a reply with no message; is it a chat endpoint?")
        choice = response.choices[0]
        try:
            text = reply_text(choice.message.to_dict(warnings=False))
        except ValueError as err:
            raise BackendError(f"The endpoint {self.base_url} sent a malformed reply: {err}") from None
        usage = response.usage
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        return Completion(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=(getattr(details, "cached_tokens", None) or 0) if details else 0,
            seconds=time.perf_counter() - started,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
        )

    def close(self) -> None:
        self.client.close()


def reply_text(message: dict[str, Any]) -> str:
    """A reply message in any shape above as one Hermes-form turn; raises ValueError on malformed ``tool_calls``."""
    thought = message.get("reasoning_content") or message.get("reasoning")
    content = message.get("content")
    return write_turn(
        content if isinstance(content, str) else "",
        thought if isinstance(thought, str) else None,
        read_native_calls(message.get("tool_calls")),
    )


def _detail(err: openai.APIStatusError, limit: int = 200) -> str:
    """The server's own error message, on one line."""
    body = err.body.get("error", err.body) if isinstance(err.body, dict) else None
    message = body["message"] if isinstance(body, dict) and isinstance(body.get("message"), str) else err.message
    line = " ".join(message.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
