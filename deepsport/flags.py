"""Command-line flags as config overrides: ``deepsport ask`` and ``deepsport eval run`` share the agent's flags,
each the override of one ``deepsport.agent.AgentConfig`` key (``--max-turns 3`` is ``budget.max_turns=3``), so
the commands, the YAML configs and every stage read the same keys with the same defaults (AgentConfig's).
A flag left out overrides nothing. A leaf: it imports no deepsport code, so ``deepsport --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

AGENT_KEYS = {  # flag (parameter name) → AgentConfig key
    "initial_frames": "initial_frames",
    "sampling": "sampling",
    "max_turns": "budget.max_turns",
    "max_frames": "budget.total_frames",
    "max_new_tokens": "generation.max_new_tokens",
    "temperature": "generation.temperature",
    "tool_protocol": "tool_protocol",
}

InitialFrames = Annotated[
    int | None, typer.Option(min=1, help="Frames shown before the first turn (key: initial_frames).")
]
Sampling = Annotated[
    str | None,
    typer.Option(
        help="How the initial frames are chosen: uniform, or motion (more where the action is) (key: sampling)."
    ),
]
MaxTurns = Annotated[
    int | None, typer.Option(min=1, help="Model turns, the final answer included (key: budget.max_turns).")
]
MaxFrames = Annotated[
    int | None, typer.Option(min=0, help="Frames the tools may return in all (key: budget.total_frames).")
]
MaxNewTokens = Annotated[
    int | None, typer.Option(min=1, help="Tokens per model turn (key: generation.max_new_tokens).")
]
Temperature = Annotated[
    float | None, typer.Option(min=0.0, help="0 for greedy decoding (key: generation.temperature).")
]
ToolProtocol = Annotated[
    str | None,
    typer.Option(
        help="How an endpoint gets tools: hermes (in the prompt, any server) or native (tools= and tool messages; "
        "vLLM --enable-auto-tool-choice, hosted APIs) (key: tool_protocol)."
    ),
]
Overrides = Annotated[
    list[str] | None, typer.Argument(help="Config overrides key.sub=value (values read as YAML), applied before flags.")
]


def overrides(keys: Mapping[str, str], **flags: Any) -> list[str]:
    """``key=value`` overrides for the flags given (None: not given); `keys` maps a flag to its config key
    (a flag not in it names its key). Values are written as JSON, which the config loader reads as YAML."""
    return [
        f"{keys.get(name, name)}={json.dumps(str(value) if isinstance(value, Path) else value)}"
        for name, value in flags.items()
        if value is not None
    ]
