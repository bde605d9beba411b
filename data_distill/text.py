"""Text distillation (optional): an LLM rewrites a templated question into a natural one and drafts a rationale
from the annotation text only (it never sees the video).

Only the question's stem goes through the LLM: the options list and the answer-format hint that follow it are
put back as they were, so a rewrite can never drop, reorder or reword an option. A rewrite is refused (the
templated question is kept, with the reason in ``metadata["text_error"]``) when the reply is not the JSON asked
for, spans several lines, changes the times or numbers of the question, or names the answer. The answer,
options and evidence are never changed. An accepted rewrite keeps the templated question in
``metadata["template_question"]`` and the rationale in ``metadata["rationale"]``, where the oracle teacher
uses it. An endpoint that fails (after the client's retries) records nothing: the next run asks again.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from typing import Any

from data_distill.questions import FORMAT_HINTS
from data_distill.runner import RetryLater
from deepsport.backends.base import BackendError, ChatModel, GenerationConfig
from deepsport.schemas import QAItem
from deepsport.scoring import normalize_text

PROMPT = (
    "You rewrite templated questions about sports videos. Rewrite the question as one natural, varied line of "
    "English with the same meaning: keep every time and number exactly as written, do not list the options "
    "(they are shown after your question), and never reveal or hint at the answer. Then draft a short rationale "
    "(one or two sentences) for the answer, written as what the video shows, without mentioning annotations. "
    'Reply with one JSON object and nothing else: {"question": "...", "rationale": "..."}'
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def split_question(item: QAItem) -> tuple[str, str]:
    """The question's stem and what follows it: its options list and answer-format hint, as the templates write
    them (``stem + "\\n" + "A. ..." lines + "\\n" + hint``). A question of another shape is all stem."""
    question = item.question
    if item.options:
        block = "\n" + "\n".join(f"{string.ascii_uppercase[i]}. {o}" for i, o in enumerate(item.options))
        if (at := question.find(block)) > 0:
            return question[:at], question[at:]
    for hint in filter(None, FORMAT_HINTS.values()):
        if question.endswith("\n" + hint) and len(question) > len(hint) + 1:
            return question[: -len(hint) - 1], "\n" + hint
    return question, ""


def rewrite_prompt(item: QAItem, stem: str) -> str:
    """What the LLM reads: the stem, the options and answer for context, and the annotation."""
    lines = [f"Sport: {item.sport}", f"Question: {stem}"]
    if item.options:
        lines.append("Options: " + "; ".join(f"{string.ascii_uppercase[i]}. {o}" for i, o in enumerate(item.options)))
    lines.append(f"Answer: {item.answer}" + (f" ({option})" if (option := _correct_option(item)) else ""))
    if item.evidence is not None:
        lines.append(f"Evidence: {item.evidence.start:g}-{item.evidence.end:g} s")
    lines.append(f"Annotation: {json.dumps(item.metadata, ensure_ascii=False, default=str)}")
    return "\n".join(lines)


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
    if not isinstance(question, str) or not isinstance(rationale, str) or not question.strip() or not rationale.strip():
        return None
    return question.strip(), rationale.strip()


def rewrite_problem(item: QAItem, stem: str, rewrite: str) -> str | None:
    """Why a rewritten stem cannot replace ``stem`` (None when it can)."""
    if "\n" in rewrite:
        return "it spans several lines (options and hints are added after the question, not by the rewrite)"
    before, after = _numbers(stem), _numbers(rewrite)
    if before != after:
        return f"it changes the question's times or numbers ({_listed(before)} became {_listed(after)})"
    answer = _correct_option(item) or item.answer
    if _names(rewrite, answer) and not _names(stem, answer):
        return f"it names the answer ({answer!r})"
    return None


def text_job(model: ChatModel, generation: GenerationConfig) -> Callable[[QAItem], dict[str, Any]]:
    """The function that rewrites one item; its record is the rewritten QAItem, or the templated one with the
    reason in ``metadata["text_error"]``. Raises RetryLater when the endpoint fails."""

    def run(item: QAItem) -> dict[str, Any]:
        stem, tail = split_question(item)
        messages = [{"role": "system", "content": PROMPT}, {"role": "user", "content": rewrite_prompt(item, stem)}]
        try:
            reply = model.chat(messages, generation).text
        except BackendError as err:
            raise RetryLater(str(err)) from err
        metadata = dict(item.metadata)
        parsed = parse_rewrite(reply)
        problem = "the reply is not the JSON asked for" if parsed is None else rewrite_problem(item, stem, parsed[0])
        if problem is not None:
            metadata["text_error"] = f"rewrite refused: {problem}; the templated question is kept"
            return item.model_copy(update={"metadata": metadata}).model_dump(mode="json")
        question, rationale = parsed  # type: ignore[misc]
        metadata.update(template_question=item.question, rationale=rationale)
        return item.model_copy(update={"question": question + tail, "metadata": metadata}).model_dump(mode="json")

    return run


def _correct_option(item: QAItem) -> str | None:
    letter = item.answer.strip().upper()
    if item.options and len(letter) == 1 and 0 <= (index := ord(letter) - ord("A")) < len(item.options):
        return item.options[index]
    return None


def _numbers(text: str) -> list[float]:
    return sorted(float(n) for n in _NUMBER.findall(text))


def _listed(numbers: list[float]) -> str:
    return ", ".join(f"{n:g}" for n in numbers) or "none"


def _names(text: str, answer: str) -> bool:
    """Whether ``text`` contains ``answer`` as whole words (case, punctuation and articles aside)."""
    words = normalize_text(answer)
    return bool(words) and f" {words} " in f" {normalize_text(text)} "
