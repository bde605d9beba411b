"""The GRPO environment: one rollout is one ``deepsport ask`` episode, with the same tools, budgets and prompts.

The episode is a ``deepsport.session.Session``, as the agent's; this module only adapts TRL's calling convention
to it. TRL's GRPOTrainer makes one environment per rollout, calls ``reset(**row)`` with the dataset row, shows the
returned blocks (the session's first user message: the initial frames and the question) in the first user turn,
and turns every public method into a tool. Each method here is one tool of the registry, run by the session
(frame budget, windows already seen), and returns the tool message content the agent loop would add (text, then
timestamped frames).

After the rollout, ``rollout_trajectory`` records the generated turns in the session and finishes it into a
``Trajectory``, so the rewards score exactly what ``deepsport ask`` would have recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepsport.backends.base import Completion
from deepsport.parsing import ParsedTurn
from deepsport.schemas import QAItem, ToolCallRecord, Trajectory
from deepsport.session import Session, tool_message, with_final_prompt
from deepsport.tools import REGISTRY, tool_names
from rl.config import AgentSettings
from rl.data import video_path

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
NOT_RUN = "Error: the call did not run (unknown tool)."


class ToolEnvironment:
    """One rollout's ``Session``. Subclasses made by ``environment_factory`` add one method per tool."""

    def __init__(self, settings: AgentSettings, video_root: str | Path) -> None:
        self.settings = settings
        self.video_root = video_root
        self.item: QAItem | None = None
        self.session: Session | None = None

    def reset(self, qa: str, **_row: Any) -> list[dict[str, Any]]:
        """Open the row's video, pick the initial frames, and return the first user turn's content."""
        self._close()
        self.item = QAItem.model_validate_json(qa)
        path = video_path(self.video_root, self.item.video)
        self.session = Session(path, self.item.question, self.settings.agent_config())
        return self.session.messages[1]["content"]  # after the system message, which TRL's prompt column holds

    def _opened(self) -> tuple[QAItem, Session]:
        """The row and the session ``reset`` opened."""
        if self.item is None or self.session is None:
            raise RuntimeError("the environment has no episode: call reset(**row) first")
        return self.item, self.session

    def _call(self, name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
        _, session = self._opened()
        result, _ = session.call(-1, name, arguments)  # the turn is set by rollout_trajectory
        message = tool_message(result)
        # As the agent: once the budget is spent, the result ends with the request for the answer. TRL's loop
        # does not tell turns apart, so each call counts as one turn (the agent allows several per turn).
        if session.answer_now(len(session.tool_calls)):
            message = with_final_prompt(message)
        return message["content"]

    def _close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None


def _tool_method(name: str) -> Callable[..., list[dict[str, Any]]]:
    def method(self: ToolEnvironment, **arguments: Any) -> list[dict[str, Any]]:
        return self._call(name, arguments)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = REGISTRY[name].description
    return method


def tool_schemas(settings: AgentSettings) -> list[dict[str, Any]]:
    """The JSON schemas the model is shown, exactly as ``Toolbox.schemas`` gives them to the agent."""
    return [REGISTRY[name].schema() for name in tool_names(settings.tools)]


def environment_factory(settings: AgentSettings, video_root: str | Path) -> Callable[[], ToolEnvironment]:
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
    """The ``Trajectory`` of a finished rollout: its turns, the tool calls the environment ran, the answer.

    Records the turns in the environment's session: call it once per rollout."""
    item, session = environment._opened()
    parsed = [session.record_turn(Completion(text, prompt_tokens=0, completion_tokens=0))[1] for text in turns]
    session.tool_calls = _calls_by_turn(parsed, session.tool_calls)
    # named as the dataset names them; the conversation itself is TRL's completion, not kept here
    named: dict[str, Any] = {"id": item.id, "video": item.video, "messages": [], "seconds": 0.0, "config": {}}
    return session.finish(model, "trl").model_copy(update=named)


def _calls_by_turn(turns: list[ParsedTurn], ran: list[ToolCallRecord]) -> list[ToolCallRecord]:
    """The calls the turns made, in order, each with its turn: those TRL ran (`ran`, in order), and a NOT_RUN
    record for a call TRL could not run (unknown tool), which left none."""
    records, ran = [], list(ran)
    for index, turn in enumerate(turns):
        for call in turn.tool_calls:
            if ran and ran[0].name == call.name:
                records.append(ran.pop(0).model_copy(update={"turn": index}))
            else:
                records.append(
                    ToolCallRecord(turn=index, name=call.name, arguments=call.arguments, ok=False, result=NOT_RUN)
                )
    return records
