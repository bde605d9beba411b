"""Text distillation (optional): an LLM rewrites a templated question into a natural one and drafts a rationale
from the annotation text only (it never sees the video). The rationale goes to ``metadata["rationale"]``,
where the oracle teacher uses it; the templated question is kept in ``metadata["template_question"]``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from data_distill.runner import RetryLater
from deepsport.backends.base import BackendError, ChatModel, GenerationConfig
from deepsport.schemas import QAItem

PROMPT = (
    "You rewrite templated questions about sports videos. Rewrite the question in natural, varied English with "
    "the same meaning (keep option letters and times as they are; never reveal the answer), and draft a short "
    "rationale (one or two sentences) explaining the answer from the annotation alone. Reply with one JSON "
    'object and nothing else: {"question": "...", "rationale": "..."}'
)


def rewrite_prompt(item: QAItem) -> str:
    options = "".join(f"\n{chr(65 + i)}. {o}" for i, o in enumerate(item.options or []))
    annotation = json.dumps(item.metadata, ensure_ascii=False, default=str)
    return f"Sport: {item.sport}\nQuestion: {item.question}{options}\nAnswer: {item.answer}\nAnnotation: {annotation}"


def parse_rewrite(text: str) -> tuple[str, str] | None:
    """The rewritten question and rationale from a reply, or None when it holds no such JSON object."""
    start, end = text.find("{"), text.rfind("}")
    try:
        reply = json.loads(text[start : end + 1]) if 0 <= start < end else None
    except json.JSONDecodeError:
        return None
    if not isinstance(reply, dict):
        return None
    question, rationale = reply.get("question"), reply.get("rationale")
    if not isinstance(question, str) or not isinstance(rationale, str) or not question.strip():
        return None
    return question.strip(), rationale.strip()


def text_job(model: ChatModel, generation: GenerationConfig) -> Callable[[QAItem], dict[str, Any]]:
    """The function that rewrites one item; its record is the rewritten QAItem (the original when unreadable)."""

    def run(item: QAItem) -> dict[str, Any]:
        messages = [{"role": "system", "content": PROMPT}, {"role": "user", "content": rewrite_prompt(item)}]
        try:
            reply = model.chat(messages, generation).text
        except BackendError as err:
            raise RetryLater(str(err)) from err
        parsed = parse_rewrite(reply)
        metadata = dict(item.metadata)
        if parsed is None:
            metadata["text_error"] = "the rewrite was not the JSON asked for; the templated question is kept"
            return item.model_copy(update={"metadata": metadata}).model_dump(mode="json")
        question, rationale = parsed
        metadata.update(template_question=item.question, rationale=rationale)
        return item.model_copy(update={"question": question, "metadata": metadata}).model_dump(mode="json")

    return run
