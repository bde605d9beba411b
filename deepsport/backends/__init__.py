"""Model backends behind one interface (``ChatModel.chat``); heavy ones are imported only when chosen."""

from __future__ import annotations

from deepsport.backends.base import BackendError, ChatModel, Completion, GenerationConfig, Message

DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"
BACKENDS = ("transformers", "openai")


def load_chat_model(
    model: str = DEFAULT_MODEL,
    backend: str = "transformers",
    base_url: str | None = None,
    api_key_env: str | None = None,
    device: str = "auto",
    tool_protocol: str = "hermes",
    tool_images: str = "user",
) -> ChatModel:
    """Build the chosen backend; raises BackendError with a one-line, actionable message. `tool_protocol` and
    `tool_images` (``AgentConfig``'s keys) say how an endpoint is sent tools (see ``openai_backend``)."""
    if backend == "transformers":
        from deepsport.backends.transformers_backend import TransformersChatModel

        return TransformersChatModel(model, device=device)
    if backend == "openai":
        from deepsport.backends.openai_backend import DEFAULT_API_KEY_ENV, OpenAIChatModel

        if not base_url:
            raise BackendError("--backend openai needs --base-url, e.g. http://127.0.0.1:8000/v1")
        return OpenAIChatModel(
            model,
            base_url,
            api_key_env=api_key_env or DEFAULT_API_KEY_ENV,
            tool_protocol=tool_protocol,
            tool_images=tool_images,
        )
    raise BackendError(f"Unknown backend '{backend}'. Choose one of: {', '.join(BACKENDS)}.")


__all__ = ["BackendError", "ChatModel", "Completion", "GenerationConfig", "Message", "load_chat_model"]
