"""Tool lifecycle (create → execute → release), per-episode state and budgets, and the registry.

A tool is a name, a description, a JSON Schema for its arguments and an ``execute`` returning text plus
optional frames. Tools never raise at the model: bad arguments, a spent budget or a decoding failure come
back as an error result the model can read and recover from.
"""

from __future__ import annotations

import inspect
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import jsonschema

from deepsport.schemas import Span
from deepsport.validation import schema_problem
from deepsport.video import MAX_PIXELS, Frame, Video, VideoError
from deepsport.video_pool import VideoPool


class ToolError(Exception):
    """Raised inside a tool for a problem the model should read about (bad window, spent budget...)."""


@dataclass
class Budget:
    """What one episode may spend. Turns count model generations, the final answer turn included."""

    max_turns: int = 6
    frames_per_call: int = 8
    total_frames: int = 32  # frames returned by tools, initial frames not included
    repeat_iou: float = 0.9  # a window overlapping one already seen this much is refused


READAHEAD = 5.0  # seconds
CACHE_FRAMES = 384  # a 5 s window and the 5 s after it at 30 fps; about 265 MB at 640x360


@dataclass
class Episode:
    """State shared by the tools of one agent run: the open video, what was seen, what is left."""

    video: Video
    budget: Budget = field(default_factory=Budget)
    windows: list[Span] = field(default_factory=list)
    frames_returned: int = 0
    pool: VideoPool | None = None  # where the video came from (it goes back there); None: the episode owns it
    closed: bool = False

    @classmethod
    def open(
        cls,
        path: str | Path,
        budget: Budget | None = None,
        max_pixels: int | None = None,
        pool: VideoPool | None = None,
    ) -> Episode:
        """Open a video for one run: its own, or the one the episodes of `pool` share (GRPO's rollouts of one
        question: ``rl.env.ROLLOUT_VIDEOS``). While the model thinks, the video decodes the READAHEAD seconds after
        the last window and the rest of that window, so looking on or closer costs no decoding."""
        if pool is not None:
            return cls(video=pool.acquire(path, max_pixels), budget=budget or Budget(), pool=pool)
        pixels = MAX_PIXELS if max_pixels is None else max_pixels
        video = Video(path, max_pixels=pixels, cache_size=CACHE_FRAMES, readahead=READAHEAD)
        return cls(video=video, budget=budget or Budget())

    @property
    def duration(self) -> float:
        return self.video.info.duration

    @property
    def frames_left(self) -> int:
        return max(0, self.budget.total_frames - self.frames_returned)

    def clip_window(self, start: float, end: float) -> tuple[float, list[str]]:
        """Check a window against the video: the end to use (clipped to the video) and notes for the model."""
        if start >= self.duration:
            raise ToolError(f"start ({start:g} s) is beyond the end of the video ({self.duration:.2f} s).")
        if end < start:
            raise ToolError(f"end ({end:g} s) is before start ({start:g} s).")
        if end > self.duration:
            return self.duration, [f"end clipped to the video's end at {self.duration:.2f} s"]
        return end, []

    def close(self) -> None:
        """Hand the video back to its pool (or close it when the episode owns it); once."""
        if self.closed:
            return
        self.closed = True
        if self.pool is not None:
            self.pool.release(self.video)
        else:
            self.video.close()


@dataclass
class ToolResult:
    text: str
    frames: list[Frame] = field(default_factory=list)
    ok: bool = True
    window: Span | None = None


class Tool(ABC):
    """Base class: subclasses set ``name``, ``description``, ``parameters`` and implement ``execute``.

    A tool's options (``AgentConfig.tool_options[name]``, e.g. a checkpoint) are keyword arguments of its
    constructor after the episode.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]  # JSON Schema of the arguments object
    requires: ClassVar[tuple[str, ...]] = ()  # options it is offered only with (find_instruction: a library)

    def __init__(self, episode: Episode) -> None:
        self.episode = episode

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The OpenAI/Hermes function schema shown to the model."""
        return {
            "type": "function",
            "function": {"name": cls.name, "description": cls.description, "parameters": cls.parameters},
        }

    @classmethod
    def options(cls) -> list[str]:
        """The options this tool takes: its constructor's keyword arguments after the episode."""
        parameters = list(inspect.signature(cls.__init__).parameters.values())[2:]  # after self and episode
        return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @classmethod
    def missing(cls) -> str | None:
        """Why this tool cannot run here (an optional dependency not installed), or None when it can."""
        return None

    @abstractmethod
    def execute(self, *args: Any, **arguments: Any) -> ToolResult:
        """Run with the arguments the schema validated, as keywords."""

    def release(self) -> None:
        """Free per-episode resources; the episode itself closes the video."""


REGISTRY: dict[str, type[Tool]] = {}


def register(cls: type[Tool]) -> type[Tool]:
    """Class decorator adding a tool to the registry under its name."""
    jsonschema.Draft202012Validator.check_schema(cls.parameters)
    REGISTRY[cls.name] = cls
    return cls


def tool_names(names: list[str] | None = None, options: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The tools to offer: `names` checked against the registry, or every registered tool that can run here and
    has the options it requires in `options` ([] means none: the no-tools baseline). Raises ValueError naming an
    unknown or unavailable tool."""
    options = options or {}

    def unmet(name: str) -> list[str]:
        return [o for o in REGISTRY[name].requires if options.get(name, {}).get(o) is None]

    if names is None:
        return [n for n, tool in REGISTRY.items() if tool.missing() is None and not unmet(n)]
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown tool(s) {unknown}; available: {sorted(REGISTRY)}")
    missing = [f"{n} cannot run: {REGISTRY[n].missing()}" for n in names if REGISTRY[n].missing()]
    missing += [f"{n} needs tool_options.{n}.{unmet(n)[0]}" for n in names if unmet(n)]
    if missing:
        raise ValueError("; ".join(missing))
    return list(names)


def check_options(options: dict[str, dict[str, Any]]) -> None:
    """Raise ValueError naming the first tool or option in `options` that no registered tool takes."""
    for name, given in options.items():
        if name not in REGISTRY:
            raise ValueError(f"tool_options: unknown tool '{name}'; available: {', '.join(sorted(REGISTRY))}")
        known = REGISTRY[name].options()
        unknown = [option for option in given if option not in known]
        if unknown:
            takes = f"its options: {', '.join(known)}" if known else "it takes no options"
            raise ValueError(f"tool_options: {name} has no option '{unknown[0]}'; {takes}")


class Toolbox:
    """The tools of one episode, called by name with arguments straight from the model."""

    def __init__(
        self, episode: Episode, names: list[str] | None = None, options: dict[str, dict[str, Any]] | None = None
    ) -> None:
        """`options`: each tool's constructor options by tool name; an unknown tool or option is a ValueError."""
        options = options or {}
        check_options(options)
        self.episode = episode
        self.tools = {n: REGISTRY[n](episode, **options.get(n, {})) for n in tool_names(names, options)}
        self.validators = {n: jsonschema.Draft202012Validator(t.parameters) for n, t in self.tools.items()}

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    def call(self, name: str, arguments: Any) -> tuple[ToolResult, float]:
        """Run one call; returns the result and the seconds it took. Never raises."""
        started = time.perf_counter()
        result = self._call(name, arguments)
        return result, time.perf_counter() - started

    def _call(self, name: str, arguments: Any) -> ToolResult:
        tool = self.tools.get(name)
        if tool is None:
            return error_result(f"unknown tool '{name}'. Available tools: {', '.join(self.tools)}.")
        if not isinstance(arguments, dict):
            return error_result(f"the arguments of {name} must be a JSON object, got {arguments!r}.")
        problems = [schema_problem(e) for e in self.validators[name].iter_errors(arguments)]
        if problems:
            return error_result(f"invalid arguments for {name}: {'; '.join(problems)}.")
        try:
            return tool.execute(**arguments)
        except ToolError as err:
            return error_result(str(err))
        except VideoError as err:
            return error_result(f"the video could not be read: {err}")

    def close(self) -> None:
        for tool in self.tools.values():
            tool.release()


def error_result(message: str) -> ToolResult:
    return ToolResult(text=f"Error: {message}", ok=False)
