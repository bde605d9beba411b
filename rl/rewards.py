"""Rewards: pure functions of (trajectory, reference QAItem) returning named components.

- accuracy in [0, 1]: ``deepsport.judge.grade`` (exact for choices, numbers with tolerance, temporal IoU or
  tolerance for times; the LLM judge, cached, for open text);
- format gate g_fmt in {0, 1}: the run ends with an ``<answer>``, every tag is closed, every turn before the last
  calls a tool, and every call is valid (parsable, known tool, valid arguments, not a window already seen);
- tool reward r_tool, by gate:
  "accuracy" (DeepSport's): tool_bonus·acc if a tool was used and acc ≥ threshold, tool_floor if a tool was used
  and acc < threshold, 0 without tools;
  "need": the same on questions the initial frames cannot answer (``needs_tool``), 0 for tool use on the others,
  which instead earn direct_bonus·acc for a right answer (acc ≥ threshold) given without tools;
- total = g_fmt·(acc + r_tool) − format_penalty·(1 − g_fmt).

``reward.function`` swaps in another reward (``load_reward``): any function with ``reward``'s parameters that
returns a ``RewardBreakdown``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from deepsport.config import ConfigError
from deepsport.judge import Judge, grade
from deepsport.parsing import parse_turn
from deepsport.schemas import QAItem, Trajectory
from rl.config import GRPOJob, RewardSettings

TAGS = ("think", "tool_call", "answer")


@dataclass(frozen=True)
class RewardBreakdown:
    accuracy: float
    format: float  # g_fmt
    tool: float  # r_tool
    total: float
    tool_used: bool
    format_errors: tuple[str, ...] = ()

    def components(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "format": self.format, "tool": self.tool, "total": self.total}


def format_errors(trajectory: Trajectory) -> list[str]:
    """Why a trajectory is not well formed ([] when it is)."""
    turns = trajectory.turns
    if not turns:
        return ["no model turn"]
    errors = []
    for turn in turns:
        last = turn.index == turns[-1].index
        errors += [f"turn {turn.index}: {error}" for error in turn.parse_errors]
        for tag in TAGS:
            opened, closed = turn.text.count(f"<{tag}>"), turn.text.count(f"</{tag}>")
            if opened != closed or (tag != "tool_call" and opened > 1):
                errors.append(f"turn {turn.index}: {opened} <{tag}> and {closed} </{tag}>")
        parsed = parse_turn(turn.text)
        if not last and parsed.answer is not None:
            errors.append(f"turn {turn.index}: an answer before the last turn")
        if not last and not parsed.tool_calls:
            errors.append(f"turn {turn.index}: neither a tool call nor the final answer")
    if trajectory.stop_reason != "answer":
        errors.append(f"no <answer> (stop reason: {trajectory.stop_reason})")
    errors += [
        f"call {i} ({call.name}) failed: {call.result}" for i, call in enumerate(trajectory.tool_calls) if not call.ok
    ]
    return errors


def accuracy(trajectory: Trajectory, item: QAItem, judge: Judge | None = None) -> float:
    """The answer's score; an open-text answer no rule decides goes to ``judge`` (JudgeError without one)."""
    return grade(item, trajectory.answer, judge).value


def tool_reward(used: bool, acc: float, settings: RewardSettings, needs_tool: bool | None = None) -> float:
    """r_tool for the configured gate; the "need" gate requires ``needs_tool``."""
    if settings.gate == "need":
        if needs_tool is None:
            raise ValueError('the "need" gate needs a needs_tool value per question (the no-tool pass)')
        if not needs_tool:
            return settings.direct_bonus * acc if not used and acc >= settings.threshold else 0.0
    if not used:
        return 0.0
    return settings.tool_bonus * acc if acc >= settings.threshold else settings.tool_floor


def reward(
    trajectory: Trajectory,
    item: QAItem,
    settings: RewardSettings,
    needs_tool: bool | None = None,
    judge: Judge | None = None,
) -> RewardBreakdown:
    """Every component of the reward of one trajectory."""
    errors = format_errors(trajectory)
    acc = accuracy(trajectory, item, judge)
    used = bool(trajectory.tool_calls)
    r_tool = tool_reward(used, acc, settings, needs_tool)
    g_fmt = 0.0 if errors else 1.0
    total = g_fmt * (acc + r_tool) - settings.format_penalty * (1.0 - g_fmt)
    return RewardBreakdown(acc, g_fmt, r_tool, total, used, tuple(errors))


RewardFunction = Callable[[Trajectory, QAItem, RewardSettings, bool | None, Judge | None], RewardBreakdown]


def load_reward(spec: str) -> RewardFunction:
    """The function ``reward.function`` names (``path/to/file.py:function`` or ``package.module:function``),
    checked to take ``reward``'s five parameters; a bad name is a one-line ConfigError."""
    where, _, name = spec.rpartition(":")
    if not where or not name.isidentifier():
        raise ConfigError(f"reward.function must be path/to/file.py:function or package.module:function, not {spec!r}")
    from_file = where.endswith(".py")
    if from_file and not Path(where).is_file():
        raise ConfigError(f"reward.function: {where} not found")
    try:
        module = _module_from_file(Path(where)) if from_file else importlib.import_module(where)
    except Exception as err:  # noqa: BLE001 (whatever the user's module raises while loading)
        raise ConfigError(
            f"reward.function: cannot load {where} ({type(err).__name__}: {' '.join(str(err).split())})"
        ) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f"reward.function: {where} has no function {name!r}")
    try:
        inspect.signature(function).bind(*[None] * 5)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"reward.function: {name} must take (trajectory, item, settings, needs_tool, judge) like "
            f"rl.rewards.reward ({err})"
        ) from None
    return function


def _module_from_file(path: Path) -> ModuleType:
    """The module in a Python file; a file already imported (``rl/rewards.py``) is that module, not a copy."""
    resolved = path.resolve()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve() == resolved:
            return module
    name = f"_reward_{resolved.stem}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    assert spec is not None and spec.loader is not None  # a .py file always has a source loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def make_judge(config: GRPOJob) -> Judge | None:
    """The reward's LLM judge for open-text answers (``reward.judge``), cached next to the run; None without one."""
    settings = config.reward.judge
    if settings.model is None:
        return None
    cache = settings.cache or str(Path(config.train.output_dir) / "judge_cache.sqlite")
    return Judge(settings.model, settings.base_url, settings.api_key_env, cache_path=cache)
