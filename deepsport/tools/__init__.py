"""The agent's tool suite. Each tool is one module that registers itself on import."""

# registers choose_frames, find_instruction, estimate_pose, spot_actions
from deepsport.tools import frames, instruction, pose, spot  # noqa: F401
from deepsport.tools.base import (
    REGISTRY,
    Budget,
    Episode,
    Tool,
    Toolbox,
    ToolError,
    ToolResult,
    register,
    tool_names,
)

__all__ = ["REGISTRY", "Budget", "Episode", "Tool", "ToolError", "ToolResult", "Toolbox", "register", "tool_names"]
