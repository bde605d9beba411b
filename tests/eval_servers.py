"""Real OpenAI-compatible servers on 127.0.0.1 (``deepsport.serve`` under uvicorn) over scripted models.

The scripted model decides each reply from the conversation itself, so replies stay right whatever order
concurrent requests arrive in: the evaluation and judge tests know every score in advance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from deepsport.backends.base import BackendError, Completion, GenerationConfig, Message
from deepsport.serve import create_app


class ScriptedModel:
    """A ChatModel whose ``reply(messages)`` gives the text; returning None makes the server answer 500."""

    def __init__(self, reply: Callable[[list[Message]], str | None], name: str = "scripted", delay: float = 0.0):
        self.reply = reply
        self.name = name
        self.delay = delay
        self.requests: list[list[Message]] = []

    def chat(self, messages: list[Message], config: GenerationConfig) -> Completion:
        self.requests.append(messages)
        time.sleep(self.delay)
        text = self.reply(messages)
        if text is None:
            raise BackendError("scripted failure")
        return Completion(text=text, prompt_tokens=10, completion_tokens=5)

    def close(self) -> None:
        pass


def text_of(message: Message) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


@contextmanager
def serving(model: ScriptedModel) -> Iterator[str]:
    """Serve ``model`` on a free port; yields the base URL (``http://127.0.0.1:PORT/v1``)."""
    server = uvicorn.Server(uvicorn.Config(create_app(model), host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
