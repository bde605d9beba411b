"""The agent's settings (``AgentConfig``): the ``agent:`` section of every job config and the flags of ``ask``.

Named presets (``PRESETS``) are defined here once: ``baseline`` (16 uniform frames, one turn, no tools) and
``no_tools`` (the configured initial frames, one turn, no tools: the need gate's pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from deepsport.backends.base import GenerationConfig
from deepsport.config import from_dict, merge, to_dict
from deepsport.keyframes import Sampling
from deepsport.prompts import SYSTEM_PROMPT
from deepsport.tools import Budget
from deepsport.video import MAX_PIXELS

NO_TOOLS: dict[str, Any] = {"tools": [], "budget": {"max_turns": 1, "total_frames": 0}}
PRESETS: dict[str, dict[str, Any]] = {
    "no_tools": NO_TOOLS,  # one turn: answer from the initial frames alone, no tools shown
    "baseline": {**NO_TOOLS, "initial_frames": 16, "sampling": "uniform"},  # 16 uniform frames, no tools
}


@dataclass
class AgentConfig:
    """The agent's settings: the ``agent:`` section of every job config (eval, GRPO, the distillation teacher)
    and the flags of ``deepsport ask``, so every stage reads the same keys with the same defaults. A ``preset``
    key (``PRESETS``) gives the section's starting values; keys written next to it win."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = PRESETS

    initial_frames: int = 8
    sampling: Sampling = "uniform"  # how the initial frames are chosen: uniform or motion
    budget: Budget = field(default_factory=Budget)
    # GRPO rollouts do not read generation: TRL samples them (train.temperature, train.max_completion_length)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    tools: list[str] | None = None  # None: every registered tool; []: none (answer from the initial frames)
    max_calls_per_turn: int = 4
    max_pixels: int = MAX_PIXELS  # frame size budget (initial and tool frames); trajectories record it for SFT
    # each tool's constructor options by tool name, e.g. {"spot_actions": {"checkpoint": "spotter.pt"}}
    tool_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    system_prompt: str = SYSTEM_PROMPT
    # how an OpenAI-compatible endpoint is sent tools: hermes (in the system text, results as <tool_response> user
    # turns: any server) or native (tools=, role tool results; needs the server's tool parser); trajectories store
    # the Hermes form either way. tool_images: where native tool frames go: user (a user message after the
    # results; OpenAI refuses images in tool messages) or tool (inside the tool message: vLLM, SGLang)
    tool_protocol: Literal["hermes", "native"] = "hermes"
    tool_images: Literal["user", "tool"] = "user"

    @classmethod
    def preset(cls, name: str) -> AgentConfig:
        """The settings of preset `name`, every other key at its default."""
        return from_dict(cls, {"preset": name})

    def with_preset(self, name: str) -> AgentConfig:
        """These settings with preset `name`'s values on top (e.g. the rollout's frames, without tools)."""
        return from_dict(AgentConfig, merge(to_dict(self), PRESETS[name]))
