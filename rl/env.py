"""The GRPO environment: one rollout is one ``deepsport ask`` episode, with the same tools, budgets, prompts and
rules for reading the model's turns.

The episode is a ``deepsport.session.Session``, as the agent's; this module only adapts TRL's calling convention
to it. TRL's GRPOTrainer makes one environment per rollout, calls ``reset(**row)`` with the dataset row, shows the
returned blocks (the session's first user message: the initial frames and the question) in the first user turn,
and runs the tool calls it parses from each generated turn. The trainer (``rl.grpo``) parses turns with
``rollout_parser``: the agent's parser and turn rule (``deepsport.session.turn_requests``), each request routed to
``deepsport_tool``, which replies as the agent loop would (text, then timestamped frames; the request for the
answer after the last result once the budget is spent).

After the rollout, ``rollout_trajectory`` records the generated turns in the session and finishes it into a
``Trajectory``, so the rewards score exactly what ``deepsport ask`` would have recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepsport.agent_config import AgentConfig
from deepsport.backends.base import Completion
from deepsport.parsing import ToolCall, parse_turn
from deepsport.schemas import QAItem, Trajectory
from deepsport.session import Session, turn_requests, with_final_prompt
from deepsport.tools import REGISTRY, tool_names
from deepsport.tools.base import CACHE_FRAMES, READAHEAD
from deepsport.video_pool import VideoPool
from rl.data import video_path

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
# The rollouts of one question look at nearby windows of one video: they share it, and while they do, the frames
# the decoder passes are kept from 2 s before each window (benchmarks/bench_rollout_tools.py)
ROLLOUT_VIDEOS = VideoPool(keep_before=2.0, cache_size=CACHE_FRAMES, readahead=READAHEAD)
DISPATCH = "deepsport_tool"  # the one method TRL calls: ``rollout_parser`` routes every request of a turn to it


class ToolEnvironment:
    """One rollout's ``Session``. TRL calls ``deepsport_tool`` once per request of a turn, as ``rollout_parser``
    wrote them: the agent's parser and turn rule decide what runs, the environment only replies."""

    def __init__(self, settings: AgentConfig, video_root: str | Path) -> None:
        self.settings = settings
        self.video_root = video_root
        self.item: QAItem | None = None
        self.session: Session | None = None
        self.turn = -1  # the model turn whose requests are being answered
        self.stopped: int | None = None  # the turn at which the agent would have stopped (no calls left)

    def reset(self, qa: str, **_row: Any) -> list[dict[str, Any]]:
        """Open the row's video, pick the initial frames, and return the first user turn's content."""
        self._close()
        self.item = QAItem.model_validate_json(qa)
        path = video_path(self.video_root, self.item.video)
        self.session = Session(path, self.item.question, self.settings, ROLLOUT_VIDEOS)
        self.turn, self.stopped = -1, None
        return self.session.messages[1]["content"]  # after the system message, which TRL's prompt column holds

    def deepsport_tool(self, position: int, count: int, **request: Any) -> list[dict[str, Any]]:
        """Reply to request `position` of the `count` a turn made (a call: name and arguments; or an error)."""
        _, session = self._opened()
        if position == 0:
            self.turn += 1
        if self.stopped is None and session.answer_now(self.turn):
            self.stopped = self.turn  # the agent stops here without running anything; so does the trajectory
        if self.stopped is not None:
            return [{"type": "text", "text": "Error: no tool calls are left; give your final answer."}]
        wanted = request["error"] if "error" in request else ToolCall(request["name"], request["arguments"])
        message, _ = session.reply(self.turn, wanted)
        if position == count - 1 and session.answer_now(self.turn + 1):
            message = with_final_prompt(message)  # as the agent: the request for the answer follows the last result
        return message["content"]

    def _opened(self) -> tuple[QAItem, Session]:
        """The row and the session ``reset`` opened."""
        if self.item is None or self.session is None:
            raise RuntimeError("the environment has no episode: call reset(**row) first")
        return self.item, self.session

    def _close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None


def tool_schemas(settings: AgentConfig) -> list[dict[str, Any]]:
    """The JSON schemas the model is shown, exactly as ``Toolbox.schemas`` gives them to the agent."""
    return [REGISTRY[name].schema() for name in tool_names(settings.tools, settings.tool_options)]


def environment_factory(settings: AgentConfig, video_root: str | Path) -> Callable[[], ToolEnvironment]:
    """A zero-argument factory for TRL (checks the configured tools first)."""
    tool_names(settings.tools, settings.tool_options)
    return functools.partial(ToolEnvironment, settings, video_root)


def rollout_parser(max_calls_per_turn: int) -> Callable[..., dict[str, Any]]:
    """A stand-in for TRL's ``parse_response`` that reads a generated turn as the agent does.

    ``deepsport.parsing.parse_turn`` (tolerant of what the agent tolerates) and ``turn_requests`` (parse errors
    shown to the model, at most `max_calls_per_turn` calls) make the requests; each becomes one TRL tool call of
    ``deepsport_tool`` with its position in the turn, so the environment knows where turns begin and end."""

    def parse(tokenizer: Any, ids: list[int], prefix: Any = None, tools: Any = None) -> dict[str, Any]:
        return rollout_message(turn_text(tokenizer.decode(ids, skip_special_tokens=False)), max_calls_per_turn)

    return parse


def rollout_message(text: str, max_calls_per_turn: int) -> dict[str, Any]:
    """A generated turn as the assistant message TRL's tool loop reads: its requests as ``deepsport_tool`` calls."""
    requests = turn_requests(parse_turn(text), max_calls_per_turn)
    calls = []
    for position, request in enumerate(requests):
        fields = {"error": request} if isinstance(request, str) else vars(request)
        arguments = {"position": position, "count": len(requests), **fields}
        calls.append({"type": "function", "function": {"name": DISPATCH, "arguments": arguments}})
    return {"role": "assistant", "content": text, **({"tool_calls": calls} if calls else {})}


def turn_text(decoded: str) -> str:
    """One generated turn's text: up to its end token, stripped (special tokens decoded)."""
    return decoded.split(IM_END)[0].replace("<|endoftext|>", "").strip()


def assistant_turns(text: str) -> list[str]:
    """The model's turns in a decoded multi-turn completion (special tokens kept); tool responses dropped."""
    first, *rest = text.split(IM_START)
    turns = [first] + [part.removeprefix("assistant\n") for part in rest if part.startswith("assistant\n")]
    return [turn_text(turn) for turn in turns]


def rollout_trajectory(environment: ToolEnvironment, turns: list[str], model: str = "policy") -> Trajectory:
    """The ``Trajectory`` of a finished rollout: its turns (up to where the agent would have stopped), the tool
    calls the environment ran, the answer. Records the turns in the environment's session: call it once."""
    item, session = environment._opened()
    if environment.stopped is not None:
        turns = turns[: environment.stopped + 1]
    for text in turns:
        session.record_turn(Completion(text, prompt_tokens=0, completion_tokens=0))
    # named as the dataset names them; the conversation itself is TRL's completion, not kept here
    named: dict[str, Any] = {"id": item.id, "video": item.video, "messages": [], "seconds": 0.0, "config": {}}
    return session.finish(model, "trl").model_copy(update=named)
