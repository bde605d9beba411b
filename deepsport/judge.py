"""The LLM judge: a rubric and prompt (``JudgePrompt``), any OpenAI-compatible endpoint, a semantic score.

The built-in rubric grades open-text answers from 0 to 1; a prompt file (``load_judge_prompt``: YAML with
``system``, ``user`` and ``scale``, e.g. ``eval/judge_prompt.yaml``, the benchmark protocol's 0-100) swaps it.
Scores come back normalised to 0-1 with the judge's raw reply. Verdicts are cached on disk by (prompt, judge
model, item, prediction), so re-scoring a run costs nothing. A judge that cannot be reached or answers
something unreadable (a Thinking judge cut at ``max_tokens`` before its verdict included) raises
``JudgeError``: callers record the failure and score again later, never count it as a wrong answer.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import openai
import yaml

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

DEFAULT_USER = "Question: {question}\n{options}Reference answer: {reference}\nCandidate answer: {candidate}"


@dataclass(frozen=True)
class JudgePrompt:
    """What the judge reads: the rubric (system message), the user message template (fields ``question``,
    ``options`` (a line listing them, or empty), ``reference``, ``candidate``, ``answer_type``) and the top of
    the score scale the rubric asks for (1 or 100)."""

    system: str = RUBRIC
    user: str = DEFAULT_USER
    scale: float = 1.0


def load_judge_prompt(path: str | os.PathLike) -> JudgePrompt:
    """A judge prompt from a YAML file with ``system``, ``user`` and ``scale``; raises ValueError (one line)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"the judge prompt {path} cannot be read: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("system", "user")):
        raise ValueError(f"the judge prompt {path} needs 'system' and 'user' strings (and 'scale', e.g. 100)")
    scale = data.get("scale", 1)
    if not isinstance(scale, int | float) or scale <= 0:
        raise ValueError(f"the judge prompt {path}: 'scale' must be a positive number, got {scale!r}")
    try:
        data["user"].format(question="", options="", reference="", candidate="", answer_type="")
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(f"the judge prompt {path}: 'user' names an unknown field {err}") from None
    return JudgePrompt(data["system"], data["user"], float(scale))


_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_SCORE = re.compile(r'"?score"?\s*[:=]\s*"?([-+]?\d*\.?\d+)', re.I)


class JudgeError(RuntimeError):
    """The judge could not give a verdict (unreachable, refused, unreadable reply); one line a user can act on."""


@dataclass(frozen=True)
class JudgeResult:
    score: float  # 0-1
    rationale: str
    cached: bool = False
    reply: str = ""  # the judge's raw reply


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
        prompt: JudgePrompt | None = None,
        max_tokens: int = 256,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.prompt = prompt or JudgePrompt()
        self.max_tokens = max_tokens
        self.client = openai_client(base_url, api_key_env, timeout, max_retries)
        self.cache = DiskCache(Path(cache_path)) if cache_path else None

    def score(self, item: QAItem, prediction: str) -> JudgeResult:
        """The semantic score of ``prediction`` against ``item.answer``; raises JudgeError on failure."""
        prompt = judge_prompt(item, prediction, self.prompt.user)
        key = cache_key("judge", RUBRIC_VERSION, self.model, self.prompt.system, self.prompt.scale, prompt)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return JudgeResult(hit["score"], hit["rationale"], cached=True, reply=hit.get("reply", ""))
        reply = self._ask(prompt)
        score, rationale = parse_verdict(reply, self.prompt.scale)
        if self.cache is not None:
            self.cache.put(key, {"score": score, "rationale": rationale, "reply": reply})
        return JudgeResult(score, rationale, reply=reply)

    def _ask(self, prompt: str) -> str:
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": self.prompt.system}, {"role": "user", "content": prompt}],
                temperature=0.0,
                max_tokens=self.max_tokens,
            )
        except openai.APIConnectionError as err:
            raise JudgeError(f"the judge at {self.base_url} could not be reached; is the server running?") from err
        except openai.APIStatusError as err:
            raise JudgeError(f"the judge at {self.base_url} answered {err.status_code}: {err.message}") from err
        if not response.choices or response.choices[0].message is None:
            raise JudgeError(f"the judge at {self.base_url} sent a reply with no message")
        choice = response.choices[0]
        if not choice.message.content:  # a Thinking judge's thought may be in reasoning(_content), never a verdict
            cut = choice.finish_reason == "length"
            why = f"was cut at {self.max_tokens} tokens before its verdict (raise judge.max_tokens)" if cut else ""
            raise JudgeError(f"the judge at {self.base_url} {why or 'sent an empty reply'}")
        return choice.message.content

    def close(self) -> None:
        self.client.close()


def judge_prompt(item: QAItem, prediction: str, template: str = DEFAULT_USER) -> str:
    """The user message the judge reads: question, options if any, reference and candidate."""
    options = "Options: " + " | ".join(item.options) + "\n" if item.options else ""
    return template.format(
        question=item.question,
        options=options,
        reference=item.answer,
        candidate=prediction,
        answer_type=item.answer_type,
    )


def parse_verdict(reply: str, scale: float = 1.0) -> tuple[float, str]:
    """Score (normalised to 0-1) and rationale from a judge reply: a JSON object (amid text or fences, after any
    <think>), else ``score: x``; raises JudgeError when there is no score from 0 to `scale`."""
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
    if not 0.0 <= score <= scale:
        raise JudgeError(f"the judge's score {score:g} is outside 0 to {scale:g}: {_short(reply)}")
    return score / scale, rationale


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
