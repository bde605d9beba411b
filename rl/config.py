"""Typed configs of the two training jobs, loaded with ``deepsport.config.load_config`` (YAML + ``a.b=c`` overrides).

Every field a run needs has a type and a default here; ``trl`` passes any further TRL argument through
(``trl.torch_compile=true``), checked by TRL's own config class when the trainer is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from deepsport.agent_config import AgentConfig
from deepsport.config import ConfigError, to_dict
from deepsport.schemas import TASK_TYPES


@dataclass
class LoraSettings:
    enabled: bool = False  # False: full fine-tuning
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"  # of the language model; the vision tower stays frozen


@dataclass
class ModelSettings:
    name_or_path: str = "Qwen/Qwen3-VL-8B-Instruct"  # hub id or local checkpoint (Qwen3-VL or Qwen2.5-VL)
    dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"
    attn_implementation: str = "auto"  # auto: flash_attention_2 when flash-attn is installed (CUDA), else sdpa
    freeze_vision: bool = False  # full fine-tuning only: keep the vision tower as it is
    lora: LoraSettings = field(default_factory=LoraSettings)


@dataclass
class Curriculum:
    """Order of the SFT examples: by task type (listed order first, others after), then by trajectory length."""

    enabled: bool = False
    task_types: list[str] = field(default_factory=list)  # names from deepsport.schemas.TASK_TYPES
    by_length: bool = True  # fewer turns and frames first, within a task type

    def __post_init__(self) -> None:
        unknown = [name for name in self.task_types if name not in TASK_TYPES]
        if unknown:  # a misspelt type would silently go last
            valid = ", ".join(TASK_TYPES)
            raise ConfigError(f"data.curriculum.task_types: unknown task type {unknown[0]!r}; valid ones: {valid}")


@dataclass
class DataSettings:
    path: str = "data/distill/sft"  # a DatasetDict saved with save_to_disk
    split: str = "train"
    video_root: str = "."  # videos are relative to it; paths escaping it are rejected
    max_examples: int | None = None  # the first N (after ordering), for smoke runs
    curriculum: Curriculum = field(default_factory=Curriculum)


@dataclass
class OptimSettings:
    """The TRL/transformers training arguments every run sets; anything else goes in ``trl``."""

    output_dir: str = "runs/sft"
    learning_rate: float = 1e-5
    num_train_epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    warmup_steps: float = 0.03  # a fraction of the steps when < 1
    lr_scheduler_type: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    logging_steps: int = 10
    save_steps: int = 200
    save_total_limit: int | None = 3
    seed: int = 0
    activation_checkpointing: bool = True
    report_to: list[str] = field(default_factory=lambda: ["none"])  # e.g. [wandb], [tensorboard]


@dataclass
class SFTJob:
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    train: OptimSettings = field(default_factory=OptimSettings)
    resume: bool = True  # continue from the last checkpoint in train.output_dir
    trl: dict[str, Any] = field(default_factory=dict)  # extra trl.SFTConfig arguments


@dataclass
class JudgeSettings:
    model: str | None = None  # None: open-text answers only score on an exact match
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    cache: str | None = None  # None: <output_dir>/judge_cache.sqlite


@dataclass
class RewardSettings:
    """total = g_fmt·(acc + r_tool) − format_penalty·(1 − g_fmt); see rl/rewards.py."""

    gate: Literal["accuracy", "need"] = "accuracy"
    tool_bonus: float = 0.5  # r_tool = tool_bonus·acc when a tool was used and acc ≥ threshold
    tool_floor: float = 0.03  # r_tool when a tool was used and acc < threshold
    threshold: float = 0.5
    direct_bonus: float = 0.5  # "need" gate: r_tool = direct_bonus·acc for a right answer without tools
    format_penalty: float = 0.05
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    # the reward itself: path/to/file.py:function or package.module:function, called like rl.rewards.reward
    function: str = "rl.rewards:reward"


@dataclass
class VLLMSettings:
    mode: Literal["disabled", "colocate", "server"] = "disabled"  # disabled: transformers generate (CPU)
    server_base_url: str | None = None  # server mode: `trl vllm-serve --model ...` address
    gpu_memory_utilization: float = 0.3  # colocate mode
    tensor_parallel_size: int = 1  # colocate mode


@dataclass
class GRPOSettings(OptimSettings):
    output_dir: str = "runs/grpo"
    learning_rate: float = 1e-6
    gradient_accumulation_steps: int = 1
    num_generations: int = 8
    max_completion_length: int = 4096  # counts tool responses, frames included
    temperature: float = 1.0
    beta: float = 0.0  # KL coefficient
    loss_type: str = "dapo"
    log_completions: bool = False


@dataclass
class NeedToolSettings:
    """The no-tool pass behind the "need" gate (``deepsport train needs``): answer from the initial frames alone."""

    model: str | None = None  # None: model.name_or_path (the policy to be trained)
    backend: Literal["transformers", "openai"] = "transformers"  # openai: an endpoint such as vLLM for real runs
    base_url: str | None = None  # the endpoint, for backend openai
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8  # requests in flight (the in-process backend answers one at a time)
    samples: int = 1  # answers per question; needs_tool = mean accuracy < reward.threshold
    temperature: float = 1.0  # when samples > 1 (one sample is greedy)
    max_new_tokens: int = 256


@dataclass
class GRPOJob:
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=lambda: DataSettings(path="data/distill/rl"))
    # the episode every rollout runs, as ``deepsport ask`` (generation aside: TRL samples with train.*)
    agent: AgentConfig = field(default_factory=AgentConfig)
    reward: RewardSettings = field(default_factory=RewardSettings)
    need_tool: NeedToolSettings = field(default_factory=NeedToolSettings)
    vllm: VLLMSettings = field(default_factory=VLLMSettings)
    train: GRPOSettings = field(default_factory=GRPOSettings)
    resume: bool = True
    trl: dict[str, Any] = field(default_factory=dict)  # extra trl.GRPOConfig arguments


def write_resolved(config: SFTJob | GRPOJob, output_dir: str | Path) -> Path:
    """Write the config a run actually used to ``<output_dir>/config.yaml`` (next to its checkpoints)."""
    path = Path(output_dir) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")
    return path
