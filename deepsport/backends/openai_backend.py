"""Any OpenAI-compatible chat endpoint: ``vllm serve``, ``deepsport serve``, hosted models.

Images travel as base64 JPEG data URLs, the API key comes from an environment variable, and the
``openai`` client retries 408/409/429/5xx answers, dropped connections and timeouts with exponential backoff.
"""

from __future__ import annotations

import os
import time
from typing import cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from deepsport.backends.base import BackendError, Completion, GenerationConfig, Message
from deepsport.conversation import to_openai

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"


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
    ) -> None:
        self.name = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.jpeg_quality = jpeg_quality
        self.client = openai_client(base_url, api_key_env, timeout, max_retries)

    def chat(self, messages: list[Message], config: GenerationConfig) -> Completion:
        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(
                model=self.name,
                # to_openai builds plain dicts in the chat wire format (system/user/assistant turns, text and
                # image_url parts); the SDK's per-role TypedDicts cannot be inferred from a dict[str, Any].
                messages=cast(list[ChatCompletionMessageParam], to_openai(messages, self.jpeg_quality)),
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
        usage = response.usage
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=(getattr(details, "cached_tokens", None) or 0) if details else 0,
            seconds=time.perf_counter() - started,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
        )

    def close(self) -> None:
        self.client.close()


def _detail(err: openai.APIStatusError, limit: int = 200) -> str:
    """The server's own error message, on one line."""
    body = err.body.get("error", err.body) if isinstance(err.body, dict) else None
    message = body["message"] if isinstance(body, dict) and isinstance(body.get("message"), str) else err.message
    line = " ".join(message.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
