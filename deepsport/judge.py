"""The LLM judge for open-text answers: a fixed rubric, any OpenAI-compatible endpoint, a 0–1 semantic score.

Verdicts are cached on disk by (rubric, judge model, item, prediction), so re-scoring a run costs nothing.
A judge that cannot be reached or answers something unreadable raises ``JudgeError``: callers record the
failure and score again later, never count it as a wrong answer.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import openai

from deepsport.backends.openai_backend import DEFAULT_API_KEY_ENV, openai_client
from deepsport.cache import DiskCache, cache_key
from deepsport.schemas import QAItem
from deepsport.scoring import Score, score_answer

RUBRIC_VERSION = 1
RUBRIC = """You grade answers to questions about sports videos. You do not see the video: judge only whether \
the candidate answer means the same as the reference answer.

Score from 0 to 1:
- 1.0: same meaning as the reference; every fact the reference states is there, and nothing contradicts it.
- 0.7: the key fact is right, with a minor detail missing or slightly imprecise.
- 0.4: partly right: some facts right, an important one missing or wrong.
- 0.0: wrong, contradicts the reference, does not answer, or only hedges.
Wording, length and style do not matter; extra correct detail is fine; an extra wrong claim lowers the score.

Reply with one JSON object and nothing else: {"score": <number from 0 to 1>, "rationale": "<one sentence>"}"""

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_SCORE = re.compile(r'"?score"?\s*[:=]\s*"?([-+]?\d*\.?\d+)', re.I)


class JudgeError(RuntimeError):
    """The judge could not give a verdict (unreachable, refused, unreadable reply); one line a user can act on."""


@dataclass(frozen=True)
class JudgeResult:
    score: float
    rationale: str
    cached: bool = False


class Judge:
    """Scores open-text predictions with a chat model behind an OpenAI-compatible endpoint (thread-safe)."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        cache_path: str | os.PathLike | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.client = openai_client(base_url, api_key_env, timeout, max_retries)
        self.cache = DiskCache(Path(cache_path)) if cache_path else None

    def score(self, item: QAItem, prediction: str) -> JudgeResult:
        """The semantic score of ``prediction`` against ``item.answer``; raises JudgeError on failure."""
        key = cache_key("judge", RUBRIC_VERSION, self.model, item.question, item.answer, prediction)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return JudgeResult(hit["score"], hit["rationale"], cached=True)
        reply = self._ask(judge_prompt(item, prediction))
        score, rationale = parse_verdict(reply)
        if self.cache is not None:
            self.cache.put(key, {"score": score, "rationale": rationale})
        return JudgeResult(score, rationale)

    def _ask(self, prompt: str) -> str:
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": RUBRIC}, {"role": "user", "content": prompt}],
                temperature=0.0,
                max_tokens=256,
            )
        except openai.APIConnectionError as err:
            raise JudgeError(f"the judge at {self.base_url} could not be reached; is the server running?") from err
        except openai.APIStatusError as err:
            raise JudgeError(f"the judge at {self.base_url} answered {err.status_code}: {err.message}") from err
        if not response.choices or not response.choices[0].message.content:
            raise JudgeError(f"the judge at {self.base_url} sent an empty reply")
        return response.choices[0].message.content

    def close(self) -> None:
        self.client.close()


def judge_prompt(item: QAItem, prediction: str) -> str:
    """The user message the judge reads: question, reference and candidate."""
    return f"Question: {item.question}\nReference answer: {item.answer}\nCandidate answer: {prediction}"


def parse_verdict(reply: str) -> tuple[float, str]:
    """Score and rationale from a judge reply: a JSON object (amid text or fences, after any <think>), else
    ``score: x``; raises JudgeError when there is no score in 0 to 1."""
    text = _THINK.sub(" ", reply)
    start, end = text.find("{"), text.rfind("}")
    verdict = None
    if 0 <= start < end:
        try:
            verdict = json.loads(text[start : end + 1])
        except json.JSONDecodeError:
            verdict = None
    if isinstance(verdict, dict) and isinstance(verdict.get("score"), int | float | str):
        raw, rationale = verdict["score"], str(verdict.get("rationale", "")).strip()
    elif match := _SCORE.search(text):
        raw, rationale = match.group(1), ""
    else:
        raise JudgeError(f"the judge's reply has no score: {_short(reply)}")
    try:
        score = float(raw)
    except ValueError:
        raise JudgeError(f"the judge's score is not a number: {_short(reply)}") from None
    if not 0.0 <= score <= 1.0:
        raise JudgeError(f"the judge's score {score:g} is outside 0 to 1: {_short(reply)}")
    return score, rationale


def grade(item: QAItem, prediction: str | None, judge: Judge | None = None) -> Score:
    """Score deterministically when a rule decides, else ask the judge; raises JudgeError when none can."""
    score = score_answer(item, prediction)
    if score is not None:
        return score
    if judge is None:
        raise JudgeError(f"item {item.id} has an open-text answer: scoring it needs a judge (--judge-model)")
    verdict = judge.score(item, prediction or "")
    return Score(verdict.score, "judge")


def _short(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")
