"""The agent loop: initial frames → generate → parse → run tools → feed results back → … → answer.

One loop serves ``deepsport ask``, teacher rollouts, evaluation and replay; any ``ChatModel`` drives it.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from deepsport.backends.base import BackendError, ChatModel, Completion, GenerationConfig, Message
from deepsport.config import from_dict, merge, to_dict
from deepsport.conversation import to_json
from deepsport.keyframes import Sampling, initial_frames
from deepsport.parsing import ParsedTurn, parse_turn
from deepsport.prompts import (
    FINAL_PROMPT,
    NUDGE_PROMPT,
    SYSTEM_PROMPT,
    frame_blocks,
    question_message,
    system_message,
    text_message,
)
from deepsport.schemas import Span, ToolCallRecord, Trajectory, TurnRecord
from deepsport.tools import Budget, Episode, Toolbox, ToolResult
from deepsport.video import MAX_PIXELS, Frame

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
    spotter_checkpoint: str | None = None  # trained spotter for spot_actions; None: the training-free one
    system_prompt: str = SYSTEM_PROMPT

    @classmethod
    def preset(cls, name: str) -> AgentConfig:
        """The settings of preset `name`, every other key at its default."""
        return from_dict(cls, {"preset": name})

    def with_preset(self, name: str) -> AgentConfig:
        """These settings with preset `name`'s values on top (e.g. the rollout's frames, without tools)."""
        return from_dict(AgentConfig, merge(to_dict(self), PRESETS[name]))


class Observer:
    """Hooks called as a run unfolds (the CLI prints from them); every method is optional."""

    def started(self, video: str, duration: float, frames: list[Frame]) -> None: ...

    def turn(self, record: TurnRecord, parsed: ParsedTurn) -> None: ...

    def tool(self, record: ToolCallRecord) -> None: ...


class Agent:
    def __init__(self, model: ChatModel, config: AgentConfig | None = None, backend: str = "") -> None:
        self.model = model
        self.config = config or AgentConfig()
        self.backend = backend or type(model).__name__

    def run(self, video: str | Path, question: str, observer: Observer | None = None) -> Trajectory:
        """Answer one question about one video. Raises VideoError when the video cannot be read."""
        observer = observer or Observer()
        started = time.perf_counter()
        episode = Episode.open(video, self.config.budget, self.config.max_pixels)
        episode.spotter_checkpoint = self.config.spotter_checkpoint
        toolbox = Toolbox(episode, self.config.tools)
        try:
            frames = initial_frames(episode.video, self.config.initial_frames, self.config.sampling)
            episode.windows.append(Span(start=0.0, end=episode.duration))
            observer.started(str(video), episode.duration, frames)
            messages = [
                system_message(toolbox.schemas(), self.config.system_prompt),
                question_message(frames, episode.duration, question),
            ]
            trajectory = Trajectory(
                id=uuid.uuid4().hex[:12],
                video=str(video),
                video_duration=episode.duration,
                question=question,
                model=self.model.name,
                backend=self.backend,
                messages=[],
                frame_times=[f.time for f in frames],
                config=dataclasses.asdict(self.config),
            )
            self._loop(messages, toolbox, trajectory, observer)
        finally:
            toolbox.close()
            episode.close()
        trajectory.messages = to_json(messages)
        trajectory.windows = list(episode.windows[1:])
        trajectory.seconds = time.perf_counter() - started
        return trajectory

    def _loop(self, messages: list[Message], toolbox: Toolbox, traj: Trajectory, observer: Observer) -> None:
        episode = toolbox.episode
        if answer_now(episode, 0):  # one turn in all: ask for the answer with the question
            messages.append(text_message("user", FINAL_PROMPT))
        for index in range(episode.budget.max_turns):
            try:
                completion = self.model.chat(messages, self.config.generation)
            except BackendError as err:
                traj.stop_reason, traj.error = "error", str(err)
                return
            parsed = parse_turn(completion.text)
            messages.append(text_message("assistant", completion.text))
            record = _turn_record(index, completion, parsed)
            traj.turns.append(record)
            observer.turn(record, parsed)
            if parsed.answer is not None:
                traj.answer, traj.stop_reason = parsed.answer, "answer"
                return
            if not parsed.tagged and parsed.rest:
                traj.answer, traj.stop_reason = parsed.rest, "untagged_answer"
                return
            if answer_now(episode, index):
                return
            replies = self._run_calls(index, parsed, toolbox, traj, observer) if parsed.tagged else []
            if not answer_now(episode, index + 1):
                messages.extend(replies or [text_message("user", NUDGE_PROMPT)])
            elif replies:  # the request for the answer follows the last tool result
                messages.extend([*replies[:-1], with_final_prompt(replies[-1])])
            else:
                messages.append(text_message("user", FINAL_PROMPT))

    def _run_calls(
        self, index: int, parsed: ParsedTurn, toolbox: Toolbox, traj: Trajectory, observer: Observer
    ) -> list[Message]:
        """Run the turn's tool calls; each result (or parse error) becomes one ``tool`` message."""
        replies = [tool_message(ToolResult(text=f"Error: {e}", ok=False)) for e in parsed.errors]
        limit = self.config.max_calls_per_turn
        for n, call in enumerate(parsed.tool_calls):
            if n >= limit:
                replies.append(tool_message(ToolResult(f"Error: only {limit} tool calls run per turn.", ok=False)))
                break
            result, record = run_tool(toolbox, index, call.name, call.arguments)
            traj.tool_calls.append(record)
            traj.frame_times.extend(record.frame_times)
            observer.tool(record)
            replies.append(tool_message(result))
        return replies


def run_tool(toolbox: Toolbox, turn: int, name: str, arguments: dict[str, Any]) -> tuple[ToolResult, ToolCallRecord]:
    """Run one tool call (never raises) and the record a trajectory keeps of it."""
    result, seconds = toolbox.call(name, arguments)
    record = ToolCallRecord(
        turn=turn,
        name=name,
        arguments=arguments,
        ok=result.ok,
        result=result.text,
        window=result.window,
        frame_times=[f.time for f in result.frames],
        seconds=seconds,
    )
    return result, record


def answer_now(episode: Episode, turn: int) -> bool:
    """Whether turn `turn` must give the answer: it is the last one, or the tools' frame budget is spent."""
    return turn >= episode.budget.max_turns - 1 or episode.frames_left == 0


def with_final_prompt(message: Message) -> Message:
    """The tool message that ends the tool phase, with the request for the final answer after its result."""
    return {**message, "content": [*message["content"], {"type": "text", "text": f"\n{FINAL_PROMPT}"}]}


def tool_message(result: ToolResult) -> Message:
    content: list[dict[str, Any]] = [{"type": "text", "text": result.text}]
    return {"role": "tool", "content": content + frame_blocks(result.frames)}


def _turn_record(index: int, completion: Completion, parsed: ParsedTurn) -> TurnRecord:
    return TurnRecord(
        index=index,
        text=completion.text,
        think=parsed.think,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens,
        seconds=completion.seconds,
        finish_reason=completion.finish_reason,
        parse_errors=parsed.errors,
    )
