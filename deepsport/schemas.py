"""The records that move between stages: a question about a video (QAItem), an agent run (Trajectory) and
an evaluation result (EvalRow).

All are pydantic models, so they serialise to JSON, validate on load and publish a JSON Schema
(``deepsport schema trajectory``). Times are seconds from the start of the video.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, computed_field, model_serializer

SCHEMA_VERSION = 1


class Span(BaseModel):
    """A time window in seconds."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return max(0.0, self.end - self.start)

    def iou(self, other: Span) -> float:
        inter = max(0.0, min(self.end, other.end) - max(self.start, other.start))
        union = max(self.end, other.end) - min(self.start, other.start)
        return inter / union if union > 0 else float(self.start == other.start)


AnswerType = Literal["choice", "number", "time_span", "text"]

# The four question dimensions of the benchmark.
DIMENSIONS = ("recognition", "rules", "assessment", "commentary")
# The task types distillation gives its questions (data_distill's templates and sources); SFT curricula name them.
TASK_TYPES = ("recognition", "temporal_localisation", "counting", "rules", "assessment", "commentary")


class QAItem(BaseModel):
    """One question about one video, with its reference answer and the evidence for it."""

    id: str
    video: str  # path relative to a video root
    question: str
    answer: str
    answer_type: AnswerType = "text"
    options: list[str] | None = None
    sport: str = "unknown"
    dimension: str | None = None
    task_type: str | None = None
    source: str | None = None
    evidence: Span | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ToolCallRecord(BaseModel):
    """One tool call the model made and what came back."""

    turn: int
    name: str
    arguments: dict[str, Any]
    ok: bool
    result: str  # the text the model read
    window: Span | None = None  # the time window the call looked at, if any
    frame_times: list[float] = Field(default_factory=list)
    seconds: float = 0.0


class TurnRecord(BaseModel):
    """One generation by the model."""

    index: int
    text: str  # raw model output
    think: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str = "stop"  # "length": cut at the token limit
    parse_errors: list[str] = Field(default_factory=list)
    think_chars: int | None = None  # the thought's length before it was trimmed (teacher.max_think_chars)

    @model_serializer(mode="wrap")
    def _trim_only_when_set(self, handler: SerializerFunctionWrapHandler):  # unannotated: the schema stays the model's
        """Written only for a trimmed thought, so untrimmed records keep the shape they always had."""
        data = handler(self)
        if self.think_chars is None:
            data.pop("think_chars", None)
        return data


StopReason = Literal["answer", "untagged_answer", "no_answer", "error"]


class Trajectory(BaseModel):
    """The full record of one agent run; images in ``messages`` are stored as ``{"type": "image", "time": t}``."""

    schema_version: int = SCHEMA_VERSION
    id: str
    video: str
    video_duration: float
    question: str
    model: str
    backend: str
    messages: list[dict[str, Any]]
    turns: list[TurnRecord] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    windows: list[Span] = Field(default_factory=list)
    frame_times: list[float] = Field(default_factory=list)  # every frame shown, initial frames included
    answer: str | None = None
    stop_reason: StopReason = "no_answer"
    error: str | None = None
    seconds: float = 0.0
    config: dict[str, Any] = Field(default_factory=dict)
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form; mypy cannot type it
    @property
    def frames_used(self) -> int:
        return len(self.frame_times)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form; mypy cannot type it
    @property
    def prompt_tokens(self) -> int:
        return sum(t.prompt_tokens for t in self.turns)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form; mypy cannot type it
    @property
    def completion_tokens(self) -> int:
        return sum(t.completion_tokens for t in self.turns)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form; mypy cannot type it
    @property
    def cached_tokens(self) -> int:
        return sum(t.cached_tokens for t in self.turns)


class EvalRow(BaseModel):
    """One item's line in an evaluation run's ``results.jsonl``: the item, what the agent answered and its score.

    An ``error`` row (unreadable video, backend failure) says why and is retried when the run is resumed; an ``ok``
    row has a score, or none yet (``score_method`` says why: ``needs_judge``, ``judge_failed``). A row is written
    with the fields it was given only, so rows read back and written again keep the shape they had on disk.
    """

    id: str
    item: QAItem
    status: Literal["ok", "error"]
    latency: float  # seconds, the whole agent run
    prediction: str | None = None
    stop_reason: StopReason | None = None
    frames_used: int = 0
    tool_calls: int = 0
    turns: int = 0
    trajectory: Trajectory | None = None
    error: str | None = None
    score: float | None = None  # 0-1
    score_method: str | None = None  # a rule (choice, number, time_iou...), judge, needs_judge or judge_failed
    parsed: str | None = None  # the answer as the rule read it
    judge_rationale: str | None = None
    judge_error: str | None = None
    judge_score: float | None = None  # 0-100: the LLM judge's verdict (every item with --judge-all); None: unknown
    judge_model: str | None = None  # the judge asked (with judge_score None and judge_error: it failed)
    judge_reply: str | None = None  # the judge's raw reply

    @model_serializer(mode="wrap")
    def _given_fields(self, handler: SerializerFunctionWrapHandler):  # unannotated: the JSON Schema stays the model's
        return {key: value for key, value in handler(self).items() if key in self.model_fields_set}


SCHEMAS: dict[str, type[BaseModel]] = {"trajectory": Trajectory, "qaitem": QAItem, "evalrow": EvalRow}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of a record type by name ("trajectory", "qaitem" or "evalrow")."""
    return SCHEMAS[name].model_json_schema(mode="serialization")
