"""The evaluation job's settings (``configs/eval.yaml``), loaded with ``deepsport.config.load_config``.

Every ``deepsport eval run`` flag is an override of one key here (``--max-turns 3`` is
``agent.budget.max_turns=3``); flags win over the file. A run directory keeps the resolved config in
``config.json`` and refuses to go on with other values of ``ANSWER_KEYS``, the keys that decide the answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deepsport.agent_config import AgentConfig
from deepsport.backends import BACKENDS, DEFAULT_MODEL
from deepsport.config import ConfigError

ANSWER_KEYS = ("benchmark", "model", "backend", "agent")


@dataclass
class JudgeConfig:
    """The LLM judge of open-text answers, behind an OpenAI-compatible endpoint."""

    model: str | None = None  # None: open-text answers stay unscored (`deepsport eval score` later)
    base_url: str | None = None  # e.g. http://127.0.0.1:8001/v1; needed with a model
    api_key_env: str = "OPENAI_API_KEY"
    cache: str | None = None  # verdict cache; None: <out>/judge_cache.sqlite
    all: bool = False  # the benchmark protocol: every item scored 0-100 by the judge, beside the rule-based score
    prompt: str | None = None  # YAML rubric and prompt (system, user, scale); None: eval/judge_prompt.yaml with
    # `all`, else the built-in 0-1 rubric for open text
    max_tokens: int = 1024  # per verdict; Thinking judges need room to think before it


@dataclass
class EvalConfig:
    benchmark: str | None = None  # JSONL of QAItems, or a datasets folder (its test split); required
    video_root: str | None = None  # the benchmark's video paths are relative to it; None: the benchmark's folder
    out: str | None = None  # run directory; None: eval_runs/<benchmark>-<model>[-baseline]
    model: str = DEFAULT_MODEL  # hub id, local checkpoint directory, or the endpoint's model name
    backend: str = "transformers"  # transformers (in process) or openai (any compatible endpoint)
    base_url: str | None = None  # the endpoint, for backend openai
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the endpoint's API key
    device: str = "auto"  # backend transformers: auto, cpu, cuda
    concurrency: int = 8  # items in flight (backend openai; transformers answers one at a time)
    limit: int | None = None  # only the first N selected items
    sports: list[str] | None = None  # only these sports; None: all
    dimensions: list[str] | None = None  # only these dimensions; None: all
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    thumbnail_items: int = 30  # items whose report entry shows frame thumbnails
    agent: AgentConfig = field(default_factory=AgentConfig)  # as `deepsport ask`; preset: baseline for no tools

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {self.backend!r}")
        if self.judge.max_tokens < 1:
            raise ConfigError(f"judge.max_tokens must be at least 1, got {self.judge.max_tokens}")
        for key, low in (("concurrency", 1), ("limit", 1), ("thumbnail_items", 0)):
            value = getattr(self, key)
            if value is not None and value < low:
                raise ConfigError(f"{key} must be at least {low}, got {value}")


def answer_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide the answers, flattened to dotted keys (``agent.budget.max_turns``)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        else:
            flat[prefix] = value

    for key in ANSWER_KEYS:
        walk(key, config.get(key))
    return flat
