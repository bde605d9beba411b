"""The GRPO environment: one rollout is one ``deepsport ask`` episode, with the same tools, budgets and prompts.

TRL's GRPOTrainer makes one environment per rollout, calls ``reset(**row)`` with the dataset row, shows the
returned blocks (the initial frames and the question, as ``deepsport.prompts.question_message`` writes them) in
the first user turn, and turns every public method into a tool. Each method here is one tool of the registry,
run through ``deepsport.tools.Toolbox`` on the episode's ``Episode`` (frame budget, windows already seen), and
returns the tool message content the agent loop would add (text, then timestamped frames).

After the rollout, ``rollout_trajectory`` rebuilds a ``Trajectory`` from the generated text and what the
environment recorded, so the rewards score exactly what ``deepsport ask`` would have recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepsport.agent import AgentConfig, answer_now, run_tool, tool_message, with_final_prompt
from deepsport.keyframes import initial_frames
from deepsport.parsing import parse_turn
from deepsport.prompts import question_message
from deepsport.schemas import QAItem, Span, ToolCallRecord, Trajectory, TurnRecord
from deepsport.tools import REGISTRY, Episode, Toolbox, tool_names
from rl.data import video_path

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
NOT_RUN = "Error: the call did not run (unknown tool)."


class ToolEnvironment:
    """One rollout's episode. Subclasses made by ``environment_factory`` add one method per tool."""

    def __init__(self, settings: AgentConfig, video_root: str | Path) -> None:
        self.settings = settings
        self.video_root = video_root
        self.item: QAItem | None = None
        self.episode: Episode | None = None
        self.toolbox: Toolbox | None = None
        self.initial_times: list[float] = []
        self.records: list[ToolCallRecord] = []

    def reset(self, qa: str, **_row: Any) -> list[dict[str, Any]]:
        """Open the row's video, pick the initial frames, and return the first user turn's content."""
        self._close()
        config = self.settings
        self.item = QAItem.model_validate_json(qa)
        self.episode = Episode.open(video_path(self.video_root, self.item.video), config.budget, config.max_pixels)
        self.toolbox = Toolbox(self.episode, config.tools)
        frames = initial_frames(self.episode.video, config.initial_frames, config.sampling)
        self.episode.windows.append(Span(start=0.0, end=self.episode.duration))  # as the agent: seen at a glance
        self.initial_times = [frame.time for frame in frames]
        self.records = []
        return question_message(frames, self.episode.duration, self.item.question)["content"]

    def _call(self, name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
        result, record = run_tool(self.toolbox, -1, name, arguments)  # the turn is set by rollout_trajectory
        self.records.append(record)
        message = tool_message(result)
        # As the agent: once the budget is spent, the result ends with the request for the answer. TRL's loop
        # does not tell turns apart, so each call counts as one turn (the agent allows several per turn).
        if answer_now(self.episode, len(self.records)):
            message = with_final_prompt(message)
        return message["content"]

    def _close(self) -> None:
        if self.toolbox is not None:
            self.toolbox.close()
        if self.episode is not None:
            self.episode.close()
        self.toolbox = self.episode = None


def _tool_method(name: str) -> Callable[..., list[dict[str, Any]]]:
    def method(self: ToolEnvironment, **arguments: Any) -> list[dict[str, Any]]:
        return self._call(name, arguments)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = REGISTRY[name].description
    return method


def tool_schemas(settings: AgentConfig) -> list[dict[str, Any]]:
    """The JSON schemas the model is shown, exactly as ``Toolbox.schemas`` gives them to the agent."""
    return [REGISTRY[name].schema() for name in tool_names(settings.tools)]


def environment_factory(settings: AgentConfig, video_root: str | Path) -> Callable[[], ToolEnvironment]:
    """A zero-argument factory for TRL: environments whose public methods are the configured tools."""
    methods = {name: _tool_method(name) for name in tool_names(settings.tools)}
    cls = type("DeepSportEnvironment", (ToolEnvironment,), methods)
    return functools.partial(cls, settings, video_root)


def assistant_turns(text: str) -> list[str]:
    """The model's turns in a decoded multi-turn completion (special tokens kept); tool responses dropped."""
    first, *rest = text.split(IM_START)
    turns = [first] + [part.removeprefix("assistant\n") for part in rest if part.startswith("assistant\n")]
    return [turn.split(IM_END)[0].strip() for turn in turns]


def rollout_trajectory(environment: ToolEnvironment, turns: list[str], model: str = "policy") -> Trajectory:
    """The ``Trajectory`` of a finished rollout: its turns, the tool calls the environment ran, the answer."""
    item, episode = environment.item, environment.episode
    parsed = [parse_turn(text) for text in turns]
    records, ran = [], list(environment.records)
    for index, turn in enumerate(parsed):
        for call in turn.tool_calls:  # in order; a call TRL could not run (unknown tool) left no record
            if ran and ran[0].name == call.name:
                records.append(ran.pop(0).model_copy(update={"turn": index}))
            else:
                records.append(
                    ToolCallRecord(turn=index, name=call.name, arguments=call.arguments, ok=False, result=NOT_RUN)
                )
    answer, stop_reason = None, "no_answer"
    if parsed and parsed[-1].answer is not None:
        answer, stop_reason = parsed[-1].answer, "answer"
    elif parsed and not parsed[-1].tagged and parsed[-1].rest:
        answer, stop_reason = parsed[-1].rest, "untagged_answer"
    return Trajectory(
        id=item.id,
        video=item.video,
        video_duration=episode.duration,
        question=item.question,
        model=model,
        backend="trl",
        messages=[],
        turns=[
            TurnRecord(index=i, text=text, think=turn.think, parse_errors=turn.errors)
            for i, (text, turn) in enumerate(zip(turns, parsed, strict=True))
        ],
        tool_calls=records,
        windows=list(episode.windows[1:]),
        frame_times=environment.initial_times + [t for record in records for t in record.frame_times],
        answer=answer,
        stop_reason=stop_reason,
    )
