"""A real OpenAI-compatible HTTP server on 127.0.0.1 whose replies a test or benchmark scripts.

``LocalEndpoint(reply)`` serves ``POST /v1/chat/completions``: ``reply(body, n)`` gets the parsed request
and its 0-based arrival number and returns a ``Reply`` (status, payload, optional delay before answering);
``completion(text)`` builds a well-formed chat completion, and ``scripted(text)`` turns a function of the
request's messages (returning the reply text, None for a 500, or a ``Reply``) into a ``reply``. The text is the
model's turn in Hermes form; ``mode`` says which server answers, shaping it as that server does (``MODES``).
Every request is kept in ``requests`` (path, body, headers by lower-case name). ``latency`` and ``slots`` model
a real server: at most ``slots`` requests are served at once, each taking ``latency`` seconds, so the most it
can do is ``slots / latency`` requests per second.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deepsport.hermes import native_reply


@dataclass
class Reply:
    status: int = 200
    payload: dict[str, Any] | bytes = b""  # bytes are sent as they are (e.g. a malformed body)
    delay: float = 0.0  # seconds to wait before answering (past the client's timeout to simulate one)


@dataclass(frozen=True)
class Request:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


def message_text(message: dict[str, Any]) -> str:
    """The text of an OpenAI-format message (its text parts joined, images left out)."""
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


# mode: (field the thought goes to, or None: left in content, or "": dropped; tool calls parsed when tools= is sent)
MODES: dict[str, tuple[str | None, bool]] = {
    "plain": (None, False),  # no parsers: deepsport serve, vllm serve without flags
    "vllm-reasoning": ("reasoning_content", False),  # vLLM <= 0.10 --reasoning-parser qwen3; SGLang
    "vllm-reasoning-0.11": ("reasoning", False),  # vLLM >= 0.11 --reasoning-parser qwen3
    "vllm-tools": (None, True),  # --enable-auto-tool-choice --tool-call-parser hermes
    "vllm-thinking-tools": ("reasoning", True),  # both parsers (the Thinking teacher's setup)
    "openai": ("", True),  # the OpenAI chat API: no thought returned, tool_calls, no images in tool messages
}


def scripted(
    text: Callable[[list[dict[str, Any]]], str | Reply | None], mode: str = "plain"
) -> Callable[[dict[str, Any], int], Reply]:
    """A ``reply`` that answers ``text(messages)`` as a completion shaped by `mode`, or a 500 when it returns None
    (a ``Reply`` is sent as it is)."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")

    def reply(body: dict[str, Any], number: int) -> Reply:
        if mode == "openai" and (refused := _tool_images(body["messages"])):
            return Reply(400, {"error": {"message": refused, "type": "invalid_request_error", "code": 400}})
        answer = text(body["messages"])
        if answer is None:
            return Reply(500, {"error": {"message": "scripted failure", "type": "server_error", "code": 500}})
        if isinstance(answer, Reply):
            return answer
        return Reply(payload=completion(answer, mode=mode, tools=bool(body.get("tools"))))

    return reply


def completion(
    text: str,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    finish_reason: str = "stop",
    mode: str = "plain",
    tools: bool = False,
) -> dict[str, Any]:
    """A chat completion whose message is `text` as the `mode` server sends it (see ``MODES``)."""
    field, parses_tools = MODES[mode]
    message = native_reply(text, "reasoning" if field == "" else field, tools and parses_tools)
    if field is None and not message.get("tool_calls"):
        message["content"] = text  # no parser touched it: sent as generated
    if field == "":
        del message["reasoning"]
    finish = "tool_calls" if message.get("tool_calls") and finish_reason == "stop" else finish_reason
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion",
        "created": 0,
        "model": "local",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _tool_images(messages: list[dict[str, Any]]) -> str | None:
    """The OpenAI API's refusal of an image in a tool message, or None."""
    for message in messages:
        content = message.get("content")
        if (
            message.get("role") == "tool"
            and isinstance(content, list)
            and any(part.get("type") == "image_url" for part in content)
        ):
            return "Image URLs are only allowed for messages with role 'user', but this message has role 'tool'"
    return None


class LocalEndpoint:
    def __init__(self, reply: Callable[[dict[str, Any], int], Reply], latency: float = 0.0, slots: int = 0) -> None:
        self.requests: list[Request] = []
        self.served = 0  # answered with status 200
        counter = itertools.count()
        lock = threading.Lock()
        gate = threading.BoundedSemaphore(slots) if slots > 0 else None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    number = next(counter)
                    outer.requests.append(Request(self.path, body, {k.lower(): v for k, v in self.headers.items()}))
                answer = reply(body, number)
                with gate or contextlib.nullcontext():
                    time.sleep(latency + answer.delay)
                payload = answer.payload
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("retry-after-ms", "10")  # keeps the client's backoff short
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    return
                if answer.status == 200:
                    with lock:
                        outer.served += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # a real server's listen backlog: socketserver's default of 5 drops connection attempts when many client
    # threads (and their retries) connect at once, and a dropped SYN waits seconds to be sent again
    request_queue_size = 128
