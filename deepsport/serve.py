"""``deepsport serve``: an OpenAI-compatible ``/v1/chat/completions`` endpoint over an in-process model.

For people without vLLM (CPU, laptops) and for sharing one loaded model between jobs. Requests are
answered one at a time (one model, one KV cache); images arrive as data URLs.

Replies take the shapes ``vllm serve`` gives (``deepsport.hermes.native_reply``): with ``split_reasoning`` the
thought in ``message.reasoning`` (as ``--reasoning-parser qwen3``), and for a request with ``tools`` the calls in
``message.tool_calls`` (as ``--enable-auto-tool-choice --tool-call-parser hermes``). Native requests are read
back into the Hermes form the model was trained on: ``tools`` into the system text, assistant ``tool_calls`` into
``<tool_call>`` blocks.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse

from deepsport.backends.base import BackendError, ChatModel, GenerationConfig
from deepsport.conversation import from_openai
from deepsport.hermes import native_reply, read_native_calls, write_turn
from deepsport.prompts import split_tools, system_message

ROLES = {"system", "user", "assistant", "tool"}


def create_app(model: ChatModel, split_reasoning: bool = False) -> FastAPI:
    app = FastAPI(title="DeepSport", docs_url=None, redoc_url=None)
    lock = threading.Lock()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model.name, "object": "model", "owned_by": "deepsport"}]}

    @app.post("/v1/chat/completions")
    def chat_completions(body: dict[str, Any] = Body(...)) -> JSONResponse:  # noqa: B008
        try:
            messages, config = _parse_request(body)
        except (ValueError, KeyError, TypeError) as err:
            return _error(400, f"invalid request: {err}")
        if body.get("model") not in (None, model.name):
            return _error(404, f"model '{body.get('model')}' is not served here; this server serves '{model.name}'")
        try:
            with lock:  # FastAPI runs sync endpoints in worker threads
                completion = model.chat(messages, config)
        except BackendError as err:
            return _error(500, str(err))
        usage = {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": completion.cached_tokens},
        }
        message = native_reply(completion.text, "reasoning" if split_reasoning else None, bool(body.get("tools")))
        finish = "tool_calls" if message.get("tool_calls") and completion.finish_reason == "stop" else None
        choice = {"index": 0, "message": message, "finish_reason": finish or completion.finish_reason}
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model.name,
                "choices": [choice],
                "usage": usage,
            }
        )

    return app


def _parse_request(body: Any) -> tuple[list[dict[str, Any]], GenerationConfig]:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        raise ValueError("'messages' must be a non-empty list")
    if body.get("stream"):
        raise ValueError("streaming is not supported; send stream=false")
    for message in body["messages"]:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ValueError(f"each message needs a role among {sorted(ROLES)}")
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 512
    config = GenerationConfig(
        max_new_tokens=int(max_tokens),
        temperature=float(body.get("temperature") or 0.0),
        top_p=float(body.get("top_p") or 1.0),
        seed=body.get("seed"),
    )
    messages = from_openai([_hermes_message(m) for m in body["messages"]])
    tools = body.get("tools")
    if tools:
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise ValueError("'tools' must be a list of function schemas")
        if messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": ""})
        if isinstance(messages[0]["content"], str) and not split_tools(messages[0]["content"])[1]:
            messages[0] = system_message(tools, messages[0]["content"])
    return messages, config


def _hermes_message(message: dict[str, Any]) -> dict[str, Any]:
    """An assistant message with native ``tool_calls`` as the Hermes text the model writes."""
    if message.get("role") != "assistant" or not message.get("tool_calls"):
        return message
    content = message.get("content")
    return {"role": "assistant", "content": write_turn(content or "", None, read_native_calls(message["tool_calls"]))}


def _error(status: int, message: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def serve(model: ChatModel, host: str = "127.0.0.1", port: int = 8000, split_reasoning: bool = False) -> None:
    """Serve until interrupted."""
    import uvicorn

    uvicorn.run(create_app(model, split_reasoning), host=host, port=port, log_level="warning")
