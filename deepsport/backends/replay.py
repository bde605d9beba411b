"""A backend that replays recorded assistant turns, so a trajectory can be re-run through the real tools."""

from __future__ import annotations

from deepsport.backends.base import BackendError, Completion, GenerationConfig, Message
from deepsport.schemas import Trajectory


class ReplayChatModel:
    """Answers each turn with the next recorded text, whatever the conversation says."""

    def __init__(self, texts: list[str], name: str = "replay") -> None:
        self.texts = list(texts)
        self.name = name
        self.position = 0

    @classmethod
    def from_trajectory(cls, trajectory: Trajectory) -> ReplayChatModel:
        return cls([turn.text for turn in trajectory.turns], name=f"replay:{trajectory.model}")

    def chat(self, messages: list[Message], config: GenerationConfig) -> Completion:
        if self.position >= len(self.texts):
            raise BackendError(f"the recording has only {len(self.texts)} turns and the agent asked for more")
        text = self.texts[self.position]
        self.position += 1
        return Completion(text=text, prompt_tokens=0, completion_tokens=0)

    def close(self) -> None:
        pass
