"""The reward table: every case of the accuracy gate and the need gate, what counts as a format error, and a
user's own reward function in its place (``reward.function``)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepsport.cli import app
from deepsport.config import ConfigError, load_config
from deepsport.dev.synthetic import make_video
from deepsport.judge import JudgeError
from deepsport.parsing import parse_turn
from deepsport.schemas import QAItem, ToolCallRecord, Trajectory, TurnRecord
from rl.config import GRPOJob, RewardSettings
from rl.env import environment_factory
from rl.grpo import RolloutReward
from rl.rewards import format_errors, load_reward, reward, tool_reward

ITEM = QAItem(id="q", video="v.mp4", question="What number is shown?", answer="7", answer_type="number")
CALL = '<tool_call>\n{"name": "choose_frames", "arguments": {"start": 1.5, "end": 2.0, "num_frames": 2}}\n</tool_call>'
LOOK = f"<think>Look closer.</think>\n{CALL}"


def trajectory(*texts: str, calls_ok: tuple[bool, ...] | None = None) -> Trajectory:
    """A trajectory of model turns; each parsed tool call ran and succeeded unless ``calls_ok`` says otherwise."""
    parsed = [parse_turn(text) for text in texts]
    calls = [(i, call) for i, turn in enumerate(parsed) for call in turn.tool_calls]
    oks = calls_ok or (True,) * len(calls)
    last = parsed[-1] if parsed else None
    answer = last.answer if last else None
    return Trajectory(
        id="t",
        video="v.mp4",
        video_duration=4.0,
        question=ITEM.question,
        model="m",
        backend="trl",
        messages=[],
        turns=[
            TurnRecord(index=i, text=t, parse_errors=p.errors)
            for i, (t, p) in enumerate(zip(texts, parsed, strict=True))
        ],
        tool_calls=[
            ToolCallRecord(turn=i, name=c.name, arguments=c.arguments, ok=ok, result="ok" if ok else "Error: seen")
            for (i, c), ok in zip(calls, oks, strict=True)
        ],
        answer=answer,
        stop_reason="answer" if answer is not None else "no_answer",
    )


RIGHT, WRONG = "<answer>7</answer>", "<answer>3</answer>"
ACCURACY, NEED = RewardSettings(gate="accuracy"), RewardSettings(gate="need")

# (name, settings, turns, needs_tool, accuracy, format, tool, total)
CASES = [
    ("right without tools", ACCURACY, [RIGHT], None, 1.0, 1.0, 0.0, 1.0),
    ("wrong without tools", ACCURACY, [WRONG], None, 0.0, 1.0, 0.0, 0.0),
    ("right with a tool", ACCURACY, [LOOK, RIGHT], None, 1.0, 1.0, 0.5, 1.5),
    ("wrong with a tool", ACCURACY, [LOOK, WRONG], None, 0.0, 1.0, 0.03, 0.03),
    ("bad format, right, tool", ACCURACY, [LOOK, "<answer>7"], None, 1.0, 0.0, 0.5, -0.05),
    ("bad format, no answer", ACCURACY, ["I think it is 7"], None, 0.0, 0.0, 0.0, -0.05),
    ("need: tool where needed, right", NEED, [LOOK, RIGHT], True, 1.0, 1.0, 0.5, 1.5),
    ("need: tool where needed, wrong", NEED, [LOOK, WRONG], True, 0.0, 1.0, 0.03, 0.03),
    ("need: no tool where needed, right", NEED, [RIGHT], True, 1.0, 1.0, 0.0, 1.0),
    ("need: no tool where needed, wrong", NEED, [WRONG], True, 0.0, 1.0, 0.0, 0.0),
    ("need: tool where not needed, right", NEED, [LOOK, RIGHT], False, 1.0, 1.0, 0.0, 1.0),
    ("need: tool where not needed, wrong", NEED, [LOOK, WRONG], False, 0.0, 1.0, 0.0, 0.0),
    ("need: direct where not needed, right", NEED, [RIGHT], False, 1.0, 1.0, 0.5, 1.5),
    ("need: direct where not needed, wrong", NEED, [WRONG], False, 0.0, 1.0, 0.0, 0.0),
    ("need: bad format", NEED, [LOOK], True, 0.0, 0.0, 0.03, -0.05),
]


@pytest.mark.parametrize("name, settings, turns, needs, acc, fmt, tool, total", CASES, ids=[c[0] for c in CASES])
def test_reward_table(name, settings, turns, needs, acc, fmt, tool, total):
    parts = reward(trajectory(*turns), ITEM, settings, needs_tool=needs)
    assert parts.components() == pytest.approx({"accuracy": acc, "format": fmt, "tool": tool, "total": total})
    assert parts.tool_used == (LOOK in turns)


@pytest.mark.parametrize(
    "acc, used, expected",
    [(0.5, True, 0.25), (0.49, True, 0.03), (0.8, True, 0.4), (0.8, False, 0.0)],
)
def test_tool_reward_threshold_is_inclusive(acc, used, expected):
    assert tool_reward(used, acc, ACCURACY) == pytest.approx(expected)


def test_constants_are_configurable():
    settings = RewardSettings(tool_bonus=1.0, tool_floor=0.1, format_penalty=0.5)
    assert reward(trajectory(LOOK, RIGHT), ITEM, settings).total == pytest.approx(2.0)
    assert reward(trajectory(LOOK, WRONG), ITEM, settings).total == pytest.approx(0.1)
    assert reward(trajectory("no tags"), ITEM, settings).total == pytest.approx(-0.5)


@pytest.mark.parametrize(
    "turns, calls_ok, fragment",
    [
        ([LOOK, RIGHT], (False,), "call 0 (choose_frames) failed"),  # a repeated window or an invalid call
        (["<tool_call>\n{not json}\n</tool_call>", RIGHT], None, "not valid JSON"),
        (["<think>hmm", RIGHT], None, "1 <think> and 0 </think>"),
        ([RIGHT + RIGHT], None, "2 <answer> and 2 </answer>"),
        ([RIGHT, RIGHT], None, "an answer before the last turn"),
        (["<think>Look.</think>", RIGHT], None, "neither a tool call nor the final answer"),
        ([LOOK], None, "no <answer>"),
        ([], None, "no model turn"),
    ],
)
def test_format_errors(turns, calls_ok, fragment):
    errors = format_errors(trajectory(*turns, calls_ok=calls_ok))
    assert any(fragment in error for error in errors), errors


def test_well_formed_multi_call_trajectory_has_no_format_error():
    two_calls = f"{LOOK}\n{CALL.replace('1.5', '0.5').replace('2.0', '1.0')}"
    assert format_errors(trajectory(two_calls, LOOK.replace("1.5", "3.0").replace("2.0", "3.5"), RIGHT)) == []


def test_need_gate_requires_the_no_tool_pass():
    with pytest.raises(ValueError, match="needs_tool"):
        reward(trajectory(RIGHT), ITEM, NEED)


@pytest.mark.parametrize(
    "item, answer, expected",
    [
        (QAItem(id="c", video="v", question="?", answer="B", answer_type="choice", options=["x", "y"]), "B", 1.0),
        (
            QAItem(id="n", video="v", question="?", answer="2.5", answer_type="number", metadata={"tolerance": 0.5}),
            "2.9",
            1.0,
        ),
        (QAItem(id="s", video="v", question="?", answer="2.0-4.0", answer_type="time_span"), "3.0-5.0", 1 / 3),
    ],
)
def test_accuracy_uses_the_shared_scoring(item, answer, expected):
    assert reward(trajectory(f"<answer>{answer}</answer>"), item, ACCURACY).accuracy == pytest.approx(expected)


def test_open_text_without_a_judge_is_an_error_not_a_zero():
    item = QAItem(id="t", video="v", question="Why?", answer="a late tackle", answer_type="text")
    with pytest.raises(JudgeError):
        reward(trajectory("<answer>he was offside</answer>"), item, ACCURACY)
    assert reward(trajectory("<answer>A late tackle.</answer>"), item, ACCURACY).accuracy == 1.0  # exact match


CUSTOM = """
from rl.rewards import RewardBreakdown


def per_turn(trajectory, item, settings, needs_tool=None, judge=None):
    total = settings.tool_bonus * len(trajectory.turns)
    return RewardBreakdown(accuracy=0.0, format=1.0, tool=0.0, total=total, tool_used=bool(trajectory.tool_calls))


def too_few(trajectory, item):
    return None


def plain(trajectory, item, settings, needs_tool=None, judge=None):
    return 1.0
"""


class Decoded:
    """A tokenizer whose completions decode to the given texts."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def batch_decode(self, ids: list[list[int]], skip_special_tokens: bool) -> list[str]:
        return self.texts[: len(ids)]


def test_reward_function_from_a_file_scores_the_rollouts(tmp_path: Path):
    (tmp_path / "my_reward.py").write_text(CUSTOM)
    make_video(tmp_path / ITEM.video, duration=4.0, fps=4.0, size=(96, 64))
    config = load_config(
        GRPOJob, None, [f"reward.function={tmp_path / 'my_reward.py'}:per_turn", "reward.tool_bonus=2"]
    )
    environments = [environment_factory(config.agent, tmp_path)() for _ in range(2)]
    for environment in environments:
        environment.reset(qa=ITEM.model_dump_json())
    two_turns = f"{LOOK}<|im_end|>\n<|im_start|>user\n(frames)<|im_end|>\n<|im_start|>assistant\n{RIGHT}"
    rollout_reward = RolloutReward(load_reward(config.reward.function), Decoded([RIGHT, two_turns]), config)
    logged = {}
    totals = rollout_reward([[0], [0]], environments, [ITEM.model_dump_json()] * 2, log_metric=logged.__setitem__)
    assert totals == [2.0, 4.0] and logged["reward/total"] == 3.0 and logged["reward/accuracy"] == 0.0
    environments[0].reset(qa=ITEM.model_dump_json())  # a new rollout: a trajectory is finished once
    ours = RolloutReward(load_reward(GRPOJob().reward.function), Decoded([RIGHT]), GRPOJob())
    assert ours([[0]], environments[:1], [ITEM.model_dump_json()]) == [1.0]  # the default: rl.rewards.reward
    assert load_reward("rl/rewards.py:reward") is reward  # our file by path is our module, not a copy
    plain = RolloutReward(load_reward(f"{tmp_path / 'my_reward.py'}:plain"), Decoded([RIGHT]), config)
    with pytest.raises(TypeError, match="returned 1.0, not an rl.rewards.RewardBreakdown"):
        plain([[0]], environments[:1], [ITEM.model_dump_json()])


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nowhere.py:reward", "reward.function: nowhere.py not found"),
        ("{dir}/my_reward.py:missing", "my_reward.py has no function 'missing'"),
        ("{dir}/my_reward.py:too_few", "too_few must take (trajectory, item, settings, needs_tool, judge)"),
        ("{dir}/broken.py:reward", "cannot load {dir}/broken.py (SyntaxError: "),
        ("rl.no_such_module:reward", "cannot load rl.no_such_module (ModuleNotFoundError: "),
        ("my_reward.py", "must be path/to/file.py:function or package.module:function"),
    ],
)
def test_a_bad_reward_function_is_a_config_error(tmp_path: Path, spec: str, message: str):
    (tmp_path / "my_reward.py").write_text(CUSTOM)
    (tmp_path / "broken.py").write_text("def reward(:\n")
    with pytest.raises(ConfigError) as raised:
        load_reward(spec.format(dir=tmp_path))
    assert message.format(dir=tmp_path) in str(raised.value) and "\n" not in str(raised.value)


def test_training_refuses_a_bad_reward_function_before_loading_anything(tmp_path: Path):
    overrides = [f"train.output_dir={tmp_path}", f"reward.function={tmp_path / 'nowhere.py'}:reward"]
    result = CliRunner().invoke(app, ["train", "rl", "--config", "configs/grpo.yaml", *overrides])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"reward.function: {tmp_path / 'nowhere.py'} not found" in " ".join(result.stderr.split())
