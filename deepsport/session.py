"""One question about one video: the open episode, its tools, the conversation and what a Trajectory records.

``Session`` is the episode both loops drive: ``deepsport.agent.Agent`` (a ``ChatModel`` writes the turns) and the
GRPO environment ``rl.env`` (TRL writes them). Opening it picks the initial frames and writes the first messages;
``call`` runs and records a tool call; ``record_turn`` records a model turn; ``finish`` makes the Trajectory,
resolving the answer and the stop reason. Use it as a context manager: leaving it closes the tools and the video.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepsport.backends.base import Completion, Message
from deepsport.conversation import to_json
from deepsport.keyframes import initial_frames
from deepsport.parsing import ParsedTurn, ToolCall, parse_turn
from deepsport.prompts import FINAL_PROMPT, frame_blocks, question_message, system_message, text_message
from deepsport.schemas import Span, StopReason, ToolCallRecord, Trajectory, TurnRecord
from deepsport.tools import Episode, Toolbox, ToolResult
from deepsport.video_pool import VideoPool

if TYPE_CHECKING:
    from deepsport.agent_config import AgentConfig


class Session:
    """An open episode for one question. Raises VideoError when the video cannot be read, ValueError on unknown
    tools or tool options (the video is closed again)."""

    def __init__(self, video: str | Path, question: str, config: AgentConfig, videos: VideoPool | None = None) -> None:
        self.started = time.perf_counter()
        self.video, self.question, self.config = str(video), question, config
        with ExitStack() as stack:
            self.episode = Episode.open(video, config.budget, config.max_pixels, pool=videos)
            stack.callback(self.episode.close)
            self.toolbox = Toolbox(self.episode, config.tools, config.tool_options)
            stack.callback(self.toolbox.close)  # closed first
            self.frames = initial_frames(self.episode.video, config.initial_frames, config.sampling)
            self._resources = stack.pop_all()
        self.episode.windows.append(Span(start=0.0, end=self.duration))  # seen at a glance; not recorded
        self.messages: list[Message] = [
            system_message(self.toolbox.schemas(), config.system_prompt),
            question_message(self.frames, self.duration, question),
        ]
        self.turns: list[TurnRecord] = []
        self.tool_calls: list[ToolCallRecord] = []
        self._last: ParsedTurn | None = None

    @property
    def duration(self) -> float:
        return self.episode.duration

    def answer_now(self, turn: int) -> bool:
        """Whether turn `turn` must give the answer: it is the last one, or the tools' frame budget is spent."""
        return turn >= self.config.budget.max_turns - 1 or self.episode.frames_left == 0

    def call(self, turn: int, name: str, arguments: dict[str, Any]) -> tuple[ToolResult, ToolCallRecord]:
        """Run one tool call made in turn `turn` (never raises) and record it."""
        result, seconds = self.toolbox.call(name, arguments)
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
        self.tool_calls.append(record)
        return result, record

    def reply(self, turn: int, request: ToolCall | str) -> tuple[Message, ToolCallRecord | None]:
        """The tool message answering one request of turn `turn` (see ``turn_requests``): a call is run and
        recorded; an error is only shown to the model."""
        if isinstance(request, str):
            return tool_message(ToolResult(text=f"Error: {request}", ok=False)), None
        result, record = self.call(turn, request.name, request.arguments)
        return tool_message(result), record

    def record_turn(self, completion: Completion) -> tuple[TurnRecord, ParsedTurn]:
        """Record the model's next turn and add it to the conversation."""
        parsed = parse_turn(completion.text)
        record = TurnRecord(
            index=len(self.turns),
            text=completion.text,
            think=parsed.think,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cached_tokens=completion.cached_tokens,
            seconds=completion.seconds,
            finish_reason=completion.finish_reason,
            parse_errors=parsed.errors,
        )
        self.messages.append(text_message("assistant", completion.text))
        self.turns.append(record)
        self._last = parsed
        return record, parsed

    def finish(self, model: str, backend: str, error: str | None = None) -> Trajectory:
        """The Trajectory so far: the answer is the last turn's (see ``final_answer``); `error` stops it with none."""
        answer, stop_reason = final_answer(self._last) if error is None else (None, "error")
        return Trajectory(
            id=uuid.uuid4().hex[:12],
            video=self.video,
            video_duration=self.duration,
            question=self.question,
            model=model,
            backend=backend,
            messages=to_json(self.messages),
            turns=list(self.turns),
            tool_calls=list(self.tool_calls),
            windows=list(self.episode.windows[1:]),
            frame_times=[f.time for f in self.frames] + [t for call in self.tool_calls for t in call.frame_times],
            answer=answer,
            stop_reason=stop_reason,
            error=error,
            seconds=time.perf_counter() - self.started,
            config=dataclasses.asdict(self.config),
        )

    def close(self) -> None:
        """Release the tools, then the video."""
        self._resources.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def final_answer(turn: ParsedTurn | None) -> tuple[str | None, StopReason]:
    """The answer a turn gives and the stop reason it makes: tagged ("answer"), plain text without any tag
    ("untagged_answer"), or none ("no_answer": the run goes on, or it ran out of turns)."""
    if turn is not None and turn.answer is not None:
        return turn.answer, "answer"
    if turn is not None and not turn.tagged and turn.rest:
        return turn.rest, "untagged_answer"
    return None, "no_answer"


def turn_requests(turn: ParsedTurn, limit: int) -> list[ToolCall | str]:
    """What a turn asks of the tools, one request per ``<tool_call>`` in the order written (so a native endpoint's
    call ids pair with the replies): a call, or an error message for the model to read (a call it could not parse,
    or one past the `limit` of calls that run per turn). The one rule for the agent and for GRPO rollouts
    (``rl.env``); a turn that answers asks nothing."""
    if final_answer(turn)[1] != "no_answer":
        return []
    requests: list[ToolCall | str] = []
    calls = 0
    for request in turn.requests:
        if isinstance(request, ToolCall):
            calls += 1
            if calls > limit:
                request = f"only {limit} tool calls run per turn; this one ({request.name}) did not run."
        requests.append(request)
    return requests


def with_final_prompt(message: Message) -> Message:
    """The tool message that ends the tool phase, with the request for the final answer after its result."""
    return {**message, "content": [*message["content"], {"type": "text", "text": f"\n{FINAL_PROMPT}"}]}


def tool_message(result: ToolResult) -> Message:
    content: list[dict[str, Any]] = [{"type": "text", "text": result.text}]
    return {"role": "tool", "content": content + frame_blocks(result.frames)}
