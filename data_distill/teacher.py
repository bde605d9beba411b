"""Vision distillation: a teacher answers each question through the real agent loop on the real video.

``api``: any OpenAI-compatible model runs ``deepsport.agent.Agent`` with the same tools, budgets and prompt as
``deepsport ask``; its requests go through the response cache. ``oracle``: the script of ``oracle.py``.
One record per question: ``{"id", "trajectory"}``, or ``{"id", "error"}`` when the video cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from data_distill.caching import CachingChatModel
from data_distill.config import EndpointConfig, TeacherConfig
from data_distill.oracle import oracle_trajectory
from data_distill.runner import RetryLater
from deepsport.agent import Agent
from deepsport.agent_config import AgentConfig
from deepsport.backends.base import ChatModel
from deepsport.backends.openai_backend import OpenAIChatModel
from deepsport.cache import DiskCache
from deepsport.paths import VideoPathError, resolve_video
from deepsport.schemas import QAItem, Trajectory
from deepsport.video import VideoError

Job = Callable[[QAItem], dict[str, Any]]


def endpoint_model(
    endpoint: EndpointConfig, cache: DiskCache, what: str, agent: AgentConfig | None = None
) -> CachingChatModel:
    """The cached OpenAI-compatible client for `endpoint`, sending tools as `agent` says; raises ValueError when
    it is not configured."""
    if not endpoint.model or not endpoint.base_url:
        raise ValueError(f"the {what} needs an endpoint: set {what}.endpoint.model and {what}.endpoint.base_url")
    client = OpenAIChatModel(
        endpoint.model,
        endpoint.base_url,
        api_key_env=endpoint.api_key_env,
        timeout=endpoint.timeout,
        max_retries=endpoint.max_retries,
        tool_protocol=agent.tool_protocol if agent else "hermes",
        tool_images=agent.tool_images if agent else "user",
    )
    return CachingChatModel(client, cache, wire=(client.tool_protocol, client.tool_images))


def teacher_job(config: TeacherConfig, video_root: Path, model: ChatModel | None) -> Job:
    """The function that runs the teacher on one question (thread-safe; `model` None for the oracle)."""

    def run(item: QAItem) -> dict[str, Any]:
        try:
            video = resolve_video(video_root, item.video)
            if model is None:
                trajectory = oracle_trajectory(item, video, config.agent)
            else:
                trajectory = Agent(model, config.agent, backend="openai").run(video, item.question)
        except (VideoPathError, VideoError) as err:
            return {"id": item.id, "error": str(err)}
        if trajectory.stop_reason == "error":  # the endpoint still failing after the client's retries
            raise RetryLater(trajectory.error or "the teacher failed")
        trajectory = trajectory.model_copy(update={"id": item.id, "video": item.video})
        if config.max_think_chars is not None:
            trajectory = trim_thoughts(trajectory, config.max_think_chars)
        return {"id": item.id, "trajectory": trajectory.model_dump(mode="json")}

    return run


def trim_thoughts(trajectory: Trajectory, limit: int) -> Trajectory:
    """The trajectory with every thought over `limit` characters cut at its last sentence end within the limit
    (else its last space), in the turn records and in the messages SFT trains on; a trimmed turn records the
    thought's original length in ``think_chars``."""
    turns, messages = [], [dict(m) for m in trajectory.messages]
    assistant = [m for m in messages if m["role"] == "assistant"]
    for turn in trajectory.turns:
        if turn.think is None or len(turn.think) <= limit:
            turns.append(turn)
            continue
        short = cut_at_sentence(turn.think, limit)
        text = turn.text.replace(turn.think, short, 1)
        turns.append(turn.model_copy(update={"text": text, "think": short, "think_chars": len(turn.think)}))
        if turn.index < len(assistant) and assistant[turn.index]["content"] == turn.text:
            assistant[turn.index]["content"] = text
    return trajectory.model_copy(update={"turns": turns, "messages": messages})


def cut_at_sentence(text: str, limit: int) -> str:
    """`text` up to its last sentence end (. ! ? or a line break) within `limit` characters, else its last space."""
    head = text[: limit + 1]
    ends = [head.rfind(mark) for mark in (". ", "! ", "? ", "\n")]
    end = max(ends)
    if end > 0:
        return head[: end + 1].strip()
    space = head.rfind(" ")
    return head[: space if space > 0 else limit].strip()


def load_trajectory(record: dict[str, Any]) -> Trajectory | None:
    return Trajectory.model_validate(record["trajectory"]) if "trajectory" in record else None
