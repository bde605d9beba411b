"""The no-tool pass behind the "need" gate: can the initial frames alone answer each question?

Each question is answered by ``deepsport.agent.Agent`` with no tools and one turn (the same initial frames as a
rollout), scored like the reward; ``needs_tool`` is True when the mean accuracy is below the reward threshold.
Results go to ``<output_dir>/needs_tool.jsonl`` as they come, so an interrupted pass resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

from datasets import Dataset
from rich.progress import track

from deepsport.agent import Agent
from deepsport.backends import GenerationConfig, load_chat_model
from deepsport.jsonl import JsonlAppender, read_jsonl
from deepsport.schemas import QAItem
from deepsport.scoring import score_answer
from rl.config import GRPOJob
from rl.data import video_path


def needs_tool_column(dataset: Dataset, config: GRPOJob) -> list[bool]:
    """``needs_tool`` for every row of ``dataset``, computed once and cached next to the run's checkpoints."""
    path = Path(config.train.output_dir) / "needs_tool.jsonl"
    done = {record["id"]: record["needs_tool"] for record in read_jsonl(path)}
    todo = [row for row in dataset if row["id"] not in done]
    if todo:
        settings = config.need_tool
        model = load_chat_model(settings.model or config.model.name_or_path)
        generation = GenerationConfig(max_new_tokens=settings.max_new_tokens, temperature=float(settings.samples > 1))
        agent = Agent(model, dataclasses.replace(config.agent.with_preset("no_tools"), generation=generation))
        path.parent.mkdir(parents=True, exist_ok=True)
        with JsonlAppender(path) as out:
            for row in track(todo, description="no-tool pass"):
                item = QAItem.model_validate_json(row["qa"])
                video = video_path(config.data.video_root, row["video"])
                scores = []
                for _ in range(settings.samples):
                    score = score_answer(item, agent.run(video, item.question).answer)
                    scores.append(score.value if score is not None else 0.0)
                done[row["id"]] = statistics.fmean(scores) < config.reward.threshold
                out.write({"id": row["id"], "accuracy": statistics.fmean(scores), "needs_tool": done[row["id"]]})
        model.close()
    return [done[row_id] for row_id in dataset["id"]]
