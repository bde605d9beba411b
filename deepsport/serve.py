"""``deepsport serve``: an OpenAI-compatible ``/v1/chat/completions`` endpoint over an in-process model.

For people without vLLM (CPU, laptops) and for sharing one loaded model between jobs. Requests are
answered one at a time (one model, one KV cache); images arrive as data URLs.
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

ROLES = {"system", "user", "assistant", "tool"}


def create_app(model: ChatModel) -> FastAPI:
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
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": completion.text},
            "finish_reason": completion.finish_reason,
        }
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
    return from_openai(body["messages"]), config


def _error(status: int, message: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def serve(model: ChatModel, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted."""
    import uvicorn

    uvicorn.run(create_app(model), host=host, port=port, log_level="warning")
