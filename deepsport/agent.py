"""The agent loop: initial frames → generate → parse → run tools → feed results back → … → answer.

One loop serves ``deepsport ask``, teacher rollouts, evaluation and replay; any ``ChatModel`` drives it. The
episode it drives (video, tools, messages, records) is a ``deepsport.session.Session``, as in GRPO rollouts.
"""

from __future__ import annotations

from pathlib import Path

from deepsport.agent_config import AgentConfig
from deepsport.backends.base import BackendError, ChatModel, Message
from deepsport.parsing import ParsedTurn
from deepsport.prompts import CUT_PROMPT, FINAL_PROMPT, NUDGE_PROMPT, text_message
from deepsport.schemas import ToolCallRecord, Trajectory, TurnRecord
from deepsport.session import Session, final_answer, turn_requests, with_final_prompt
from deepsport.video import Frame


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
        with Session(video, question, self.config) as session:
            observer.started(session.video, session.duration, session.frames)
            error = self._loop(session, observer)
            return session.finish(self.model.name, self.backend, error)

    def _loop(self, session: Session, observer: Observer) -> str | None:
        """Generate turns until one answers or the budget ends; returns the backend's error if one stopped it."""
        if session.answer_now(0):  # one turn in all: ask for the answer with the question
            session.messages.append(text_message("user", FINAL_PROMPT))
        for index in range(self.config.budget.max_turns):
            try:
                completion = self.model.chat(session.messages, self.config.generation)
            except BackendError as err:
                return str(err)
            record, parsed = session.record_turn(completion)
            observer.turn(record, parsed)
            if final_answer(parsed)[1] != "no_answer" or session.answer_now(index):
                return None
            replies: list[Message] = []
            for request in turn_requests(parsed, self.config.max_calls_per_turn):
                message, call = session.reply(index, request)
                if call is not None:
                    observer.tool(call)
                replies.append(message)
            if not session.answer_now(index + 1):
                nudge = CUT_PROMPT if completion.finish_reason == "length" else NUDGE_PROMPT
                session.messages.extend(replies or [text_message("user", nudge)])
            elif replies:  # the request for the answer follows the last tool result
                session.messages.extend([*replies[:-1], with_final_prompt(replies[-1])])
            else:
                session.messages.append(text_message("user", FINAL_PROMPT))
        return None
