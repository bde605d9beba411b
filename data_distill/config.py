"""The distillation job's settings (``configs/distill.yaml``), loaded with ``deepsport.config.load_config``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from deepsport.agent_config import AgentConfig


@dataclass
class SourceConfig:
    name: str  # an adapter in data_distill.sources.SOURCES
    path: str  # the dataset's annotation file or folder
    options: dict[str, Any] = field(default_factory=dict)  # passed to the adapter


@dataclass
class EndpointConfig:
    """An OpenAI-compatible endpoint (vLLM server, hosted API)."""

    model: str = ""
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 300.0
    max_retries: int = 5  # the openai client's own backoff on 408/409/429/5xx, dropped connections, timeouts


@dataclass
class TextConfig:
    """Optional text distillation: an LLM rewrites templated questions and drafts a rationale."""

    enabled: bool = False
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    max_new_tokens: int = 256
    temperature: float = 0.7


@dataclass
class TeacherConfig:
    kind: Literal["oracle", "api"] = "oracle"
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)  # the same tools, budgets and prompt as `deepsport ask`
    think: bool = True  # the teacher thinks: the filter rejects a turn whose <think> is empty
    max_think_chars: int | None = None  # longer thoughts are cut at a sentence end (the turn records the length)


@dataclass
class FilterConfig:
    min_score: float = 0.7  # an answer scoring at least this is right (choice/number 0 or 1, time IoU, judge)
    duplicate_threshold: float = 0.9  # word overlap (Jaccard) of two questions on one video with one answer
    judge: EndpointConfig | None = None  # LLM judge for open-text answers; None: such items are not kept


@dataclass
class ExportConfig:
    test_fraction: float = 0.1  # of the videos, held out as the benchmark
    validation_fraction: float = 0.1
    seed: str = "deepsport"  # mixed into the video hash that assigns splits


@dataclass
class DistillConfig:
    video_root: str = "."
    out_dir: str = "runs/distill"
    sources: list[SourceConfig] = field(default_factory=list)
    concurrency: int = 8  # requests (agent runs) in flight at once
    text: TextConfig = field(default_factory=TextConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
