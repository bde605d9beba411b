"""GRPO with TRL's GRPOTrainer: rollouts are ``deepsport ask`` episodes run by ``rl.env``, scored by ``rl.rewards``
(or the function ``reward.function`` names).

Tool responses (text and frames) are masked from the loss by TRL's tool mask. Logged every step, next to TRL's
own metrics: ``reward/accuracy|format|tool|total`` and ``rollout/tool_call_rate|frames|turns`` (tool use
collapsing to zero shows here first).

    deepsport train rl --config configs/grpo.yaml [key=value ...]
    accelerate launch --config_file configs/accelerate/zero3.yaml -m rl grpo --config configs/grpo.yaml
"""

from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from deepsport.judge import Judge
from deepsport.schemas import QAItem
from rl.config import GRPOJob
from rl.data import DataError, load_split
from rl.env import assistant_turns, environment_factory, rollout_parser, rollout_trajectory, tool_schemas
from rl.models import device_args, load_model, load_processor, train_and_save
from rl.rewards import RewardBreakdown, RewardFunction, load_reward, make_judge

COLUMNS = ("id", "video", "qa")


class RolloutReward:
    """TRL reward function: rebuilds each rollout's Trajectory and returns its total ``reward`` (the function
    ``reward.function`` names, ``rl.rewards.load_reward``), logging every part."""

    __name__ = "deepsport"

    def __init__(self, reward: RewardFunction, tokenizer, config: GRPOJob, judge: Judge | None = None) -> None:
        self.reward = reward
        self.tokenizer = tokenizer
        self.settings = config.reward
        self.model_name = config.model.name_or_path
        self.judge = judge

    def __call__(
        self,
        completion_ids: list[list[int]],
        environments: list,
        qa: list[str],
        log_metric=None,
        log_extra=None,
        needs_tool: list[bool] | None = None,
        **_: Any,
    ) -> list[float]:
        texts = self.tokenizer.batch_decode(completion_ids, skip_special_tokens=False)
        trajectories = [
            rollout_trajectory(env, assistant_turns(text), self.model_name)
            for env, text in zip(environments, texts, strict=True)
        ]
        items = [QAItem.model_validate_json(text) for text in qa]
        needs: list[bool | None] = list(needs_tool) if needs_tool else [None] * len(items)
        parts = [
            self.reward(trajectory, item, self.settings, need, self.judge)
            for trajectory, item, need in zip(trajectories, items, needs, strict=True)
        ]
        wrong = next((p for p in parts if not isinstance(p, RewardBreakdown)), None)
        if wrong is not None:
            raise TypeError(
                f"reward.function {self.settings.function} returned {wrong!r}, not an rl.rewards.RewardBreakdown"
            )
        if log_metric is not None:
            for name in ("accuracy", "format", "tool", "total"):
                log_metric(f"reward/{name}", statistics.fmean(p.components()[name] for p in parts))
            log_metric("rollout/tool_call_rate", statistics.fmean(p.tool_used for p in parts))
            log_metric("rollout/frames", statistics.fmean(t.frames_used for t in trajectories))
            log_metric("rollout/turns", statistics.fmean(len(t.turns) for t in trajectories))
        if log_extra is not None:
            log_extra("answer", [t.answer for t in trajectories])
            log_extra("accuracy", [p.accuracy for p in parts])
            log_extra("format_errors", ["; ".join(p.format_errors) for p in parts])
        return [p.total for p in parts]


def make_trainer_class():
    from trl import GRPOTrainer
    from trl.trainer import grpo_trainer

    class DeepSportGRPOTrainer(GRPOTrainer):
        """GRPOTrainer whose rollouts follow the agent's rules.

        Prompts list the tools with the registry's own JSON schemas (TRL would derive them from the environment's
        methods), so rollout prompts are token-identical to ``deepsport ask``'s. Generated turns are read by
        ``rl.env.rollout_parser`` (the agent's parser and turn rule) in place of TRL's ``parse_response``.
        """

        def __init__(self, *args, tool_schemas: list[dict[str, Any]], max_calls_per_turn: int, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            if not hasattr(self, "_env_tools") or not hasattr(grpo_trainer, "parse_response"):
                raise RuntimeError("this TRL version's GRPOTrainer differs from 1.16's; rl/grpo.py supports trl 1.16")
            self._env_tools = {name: list(tool_schemas) for name in self._env_tools}
            self._parse_turn = rollout_parser(max_calls_per_turn)

        def _generate(self, prompts: list):
            trl_parse = grpo_trainer.parse_response
            grpo_trainer.parse_response = self._parse_turn
            try:
                return super()._generate(prompts)
            finally:
                grpo_trainer.parse_response = trl_parse

    return DeepSportGRPOTrainer


def rl_dataset(config: GRPOJob):
    """The RL prompts: the dataset rows plus a ``prompt`` column (system prompt; the question comes from reset)."""
    dataset = load_split(config.data, COLUMNS)
    items = [QAItem.model_validate_json(text) for text in dataset["qa"]]
    if any(item.answer_type == "text" for item in items) and config.reward.judge.model is None:
        raise DataError("the dataset has open-text questions: set reward.judge.model (an LLM judge) to score them")
    if config.reward.gate == "need" and "needs_tool" not in dataset.column_names:
        raise DataError(
            f"reward.gate=need needs a needs_tool column in {config.data.path}: run "
            "`deepsport train needs --config CONFIG` (the same config and overrides) first"
        )
    if config.reward.gate == "need" and None in dataset["needs_tool"]:
        unknown = dataset["needs_tool"].count(None)
        raise DataError(
            f"{unknown} questions in {config.data.path} have no needs_tool yet (their answers could not be scored): "
            "run `deepsport train needs` again"
        )
    system = config.agent.system_prompt
    prompt = [{"role": "system", "content": system}, {"role": "user", "content": ""}]
    return dataset.map(lambda _: {"prompt": prompt})


def grpo_args(config: GRPOJob):
    from trl import GRPOConfig

    vllm = config.vllm
    vllm_args: dict[str, Any] = {}
    if vllm.mode != "disabled":
        vllm_args = {
            "use_vllm": True,
            "vllm_mode": vllm.mode,
            "vllm_server_base_url": vllm.server_base_url,
            "vllm_gpu_memory_utilization": vllm.gpu_memory_utilization,
            "vllm_tensor_parallel_size": vllm.tensor_parallel_size,
        }
    return GRPOConfig(
        **asdict(config.train),
        max_tool_calling_iterations=config.agent.budget.max_turns - 1,
        remove_unused_columns=False,  # reset() and the reward read qa, video and needs_tool
        **device_args(config.model),
        **vllm_args,
        **config.trl,
    )


def build_trainer(config: GRPOJob):
    reward = load_reward(config.reward.function)  # a bad reward.function fails before any data or model loads
    judge = make_judge(config)
    dataset = rl_dataset(config)
    processor = load_processor(config.model.name_or_path)
    return make_trainer_class()(
        model=load_model(config.model),
        reward_funcs=[RolloutReward(reward, processor.tokenizer, config, judge)],
        args=grpo_args(config),
        train_dataset=dataset,
        processing_class=processor,
        environment_factory=environment_factory(config.agent, config.data.video_root),
        tool_schemas=tool_schemas(config.agent),
        max_calls_per_turn=config.agent.max_calls_per_turn,
    )


def run(config: GRPOJob) -> Path:
    """Train (resuming from the last checkpoint), save the final model to ``<output_dir>/final``; return it."""
    return train_and_save(config, build_trainer)
