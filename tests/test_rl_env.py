"""The GRPO environment shows the policy exactly what the agent loop shows it, tool results included."""

import json
from pathlib import Path

import pytest
from test_session import run_like_trl

from deepsport.agent import Agent, AgentConfig
from deepsport.backends.replay import ReplayChatModel
from deepsport.dev.synthetic import make_video
from deepsport.prompts import FINAL_PROMPT
from deepsport.schemas import QAItem
from deepsport.tools import Budget
from rl.env import environment_factory

CALLS = [{"start": 1.0, "end": 3.0, "num_frames": 2}, {"start": 5.0, "end": 8.0, "num_frames": 2}]


def without_pixels(content: list[dict]) -> list[dict]:
    return [{k: v for k, v in block.items() if k != "image"} for block in content]


@pytest.mark.parametrize("budget", [Budget(max_turns=3), Budget(total_frames=4)], ids=["last turn", "frames spent"])
def test_tool_results_equal_the_agents_and_end_with_the_request_for_the_answer(tmp_path: Path, budget: Budget):
    video = make_video(tmp_path / "v.mp4", duration=10.0)
    settings = AgentConfig(initial_frames=2, budget=budget, tools=["choose_frames"])
    item = QAItem(id="q", video="v.mp4", question="What colour?", answer="A")

    environment = environment_factory(settings, tmp_path)()
    environment.reset(qa=item.model_dump_json())
    turns = [f'<tool_call>{{"name": "choose_frames", "arguments": {json.dumps(args)}}}</tool_call>' for args in CALLS]
    from_env = [without_pixels(reply) for reply in run_like_trl(environment, turns, budget.max_turns)]

    trajectory = Agent(ReplayChatModel([*turns, "<answer>A</answer>"]), settings).run(video, item.question)
    from_agent = [m["content"] for m in trajectory.messages if m["role"] == "tool"]
    assert from_env == from_agent
    assert FINAL_PROMPT not in str(from_env[0])  # the first call leaves a turn and frames to use
    assert from_env[1][-1] == {"type": "text", "text": f"\n{FINAL_PROMPT}"}
