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
from deepsport.backends.base import ChatModel
from deepsport.backends.openai_backend import OpenAIChatModel
from deepsport.cache import DiskCache
from deepsport.paths import VideoPathError, resolve_video
from deepsport.schemas import QAItem, Trajectory
from deepsport.video import VideoError

Job = Callable[[QAItem], dict[str, Any]]


def endpoint_model(endpoint: EndpointConfig, cache: DiskCache, what: str) -> CachingChatModel:
    """The cached OpenAI-compatible client for `endpoint`; raises ValueError when it is not configured."""
    if not endpoint.model or not endpoint.base_url:
        raise ValueError(f"the {what} needs an endpoint: set {what}.endpoint.model and {what}.endpoint.base_url")
    client = OpenAIChatModel(
        endpoint.model,
        endpoint.base_url,
        api_key_env=endpoint.api_key_env,
        timeout=endpoint.timeout,
        max_retries=endpoint.max_retries,
    )
    return CachingChatModel(client, cache)


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
        return {"id": item.id, "trajectory": trajectory.model_dump(mode="json")}

    return run


def load_trajectory(record: dict[str, Any]) -> Trajectory | None:
    return Trajectory.model_validate(record["trajectory"]) if "trajectory" in record else None
