"""Proof that training works: a tiny model learns a task that needs the frame tool, from scratch, on CPU.

The task: "Which colour does the background turn? A. red; B. green; C. blue" about 10 s synthetic videos whose
grey background turns one of the three colours from 3 s to 7 s; the two initial frames (2.5 s and 7.5 s) are
always grey, so the model must call ``choose_frames`` and read the colour from the frames that come back.
(A full-frame colour, not a digit: a vision tower trained from scratch on a few hundred examples can learn to
see it; an earlier digit version stayed at chance, so tool use could not pay.) Steps, all through our own commands:

1. oracle trajectories (``data_distill.oracle``, the real agent loop with scripted turns) on a few SFT videos;
2. ``deepsport train sft`` from a randomly initialised tiny Qwen3-VL;
3. ``deepsport train rl`` (GRPO, the tool environment, the gated reward) from the SFT checkpoint on more
   questions without trajectories (RL prompts are cheap, teacher trajectories are not);
4. both checkpoints answer held-out questions through ``deepsport.agent.Agent`` (what ``deepsport ask`` runs),
   greedy: the share of runs with well-formed tool calls, and accuracy.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python -m benchmarks.learn_tool_use [--work DIR] [--processes 2] [--seed N]

Running it again on the same ``--work`` resumes: finished trainings are kept (``resume: true``), the rest is redone.

Targets: ≥ 90% well-formed tool calls after SFT, GRPO accuracy above SFT accuracy, and sampled GRPO rollouts as
often well formed as sampled agent runs (format-gate rates within 5 points): the SFT model, temperature 0.8, on the
same 32 questions, 8 runs each through ``deepsport.agent.Agent`` (one seed per run) and 8 GRPO rollouts each
(a ``train rl`` run at learning rate 0, ``reward/format`` over all ranks): 256 runs a side, about 3 points of
sampling noise on the difference. With ``--processes 2`` both trainings run on two ranks (``accelerate launch``)
with the same global batches.

Settings: 60 oracle trajectories, SFT 100 steps (batch 6, lr 3e-3); GRPO on 64 questions, 50 steps of 16 rollouts
(8 per question, temperature 0.8, beta 0.02, lr 5e-4); 48 held-out questions; seed 0. The tiny tokenizer is trained
on fixed text (``deepsport.dev.tiny_model``), so adding or rewording tools does not change the model or these figures.

Measured (2 cores; "loaded": five other engineers' jobs ran too, load 7-14; OMP_NUM_THREADS=1 per rank):

  processes  seed  well-formed   accuracy    accuracy       format gate, sampled:      wall time (GRPO)
                   after SFT     after SFT   after GRPO     agent / rollouts (256 each)
  1          0     100%          60.4%       75.0% (36/48)  87.1% / 82.4% (-4.7)       13.2 min loaded
  2          0     100%          60.4%       100% (48/48)   87.1% / 90.6% (+3.5)       5.3 min loaded
  2          1     100%          56.3%       100% (48/48)   84.4% / 84.8% (+0.4)       8.6 min loaded
  All targets met in the three runs (GRPO at lr 5e-4 rerun on the runs' work folders after a first try at 1e-3). A
  whole 2-process run on the loaded machine took about 53 min (SFT 6, parity 29, GRPO 5-17, evaluations the rest);
  an earlier 1-process run took 5.7 min on a quiet machine (SFT 135 s, GRPO 134 s).
  Fragile: before (SFT with 2 threads per rank, otherwise the same), 2 processes seed 0 stayed at 60.4% after GRPO,
  twice (reward/accuracy 0.44 -> 0.50), and 1 process seed 0 reached 100%: thread counts change float rounding, and
  with it which rollouts are sampled. At lr 1e-3 the rollouts stopped calling the tool within 10 steps (2 processes,
  seed 0: tool-call rate 0.94 -> 0, after GRPO 0% tool calls and accuracy 35.4%; seed 1: 0.94 -> 0.60 by step 10).

Parity, what was checked: the token ids TRL's rollouts continue from equal the agent's rendering of the same
conversation (31 of 32 rollouts identical; the other differed inside its final answer, sampled as ":" and a
newline where the tokenizer reads one token; the SFT model's 65 sampled agent turns all tokenised as the tokenizer
would). The transformers backend now continues from the sampled ids in any case, as TRL does. Left padding (TRL
generates a rank's rollouts as one batch) leaves the next-token logits equal (max difference 1.4e-6). Still
unexplained: the same SFT model's rollouts passed the gate 82.4% of the time in 1 process (16 rollouts per rank per
batch) and 90.6% in 2 (8 per rank), as earlier 82.8% and 89.1% (128 each), about 2.5 standard errors apart each time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import time
from pathlib import Path

from datasets import Dataset, DatasetDict

from data_distill.oracle import oracle_trajectory
from deepsport.agent import Agent, AgentConfig
from deepsport.backends.base import GenerationConfig
from deepsport.backends.transformers_backend import TransformersChatModel
from deepsport.dev.launch import train_command
from deepsport.dev.synthetic import DEFAULT_COLOR, make_video
from deepsport.dev.tiny_model import build_tiny_model
from deepsport.schemas import QAItem, Span
from deepsport.tools import Budget
from rl.config import RewardSettings
from rl.rewards import reward

COLOURS = (("red", (220, 30, 30)), ("green", (30, 200, 30)), ("blue", (30, 30, 220)))
QUESTION = "Which colour does the background turn?\nOptions: A. red; B. green; C. blue\nAnswer with the letter."
SHOWN = (3.0, 7.0)
AGENT = {
    "initial_frames": 2,
    "tools": ["choose_frames"],
    "budget": Budget(max_turns=3, frames_per_call=4, total_frames=4),
}
AGENT_OVERRIDES = [
    "agent.initial_frames=2",
    "agent.tools=[choose_frames]",
    "agent.budget.max_turns=3",
    "agent.budget.frames_per_call=4",
    "agent.budget.total_frames=4",
]
SFT_STEPS, RL_STEPS, RL_LR, TEMPERATURE, BETA = 100, 50, 5e-4, 0.8, 0.02
PARITY_QUESTIONS = 32  # questions whose rollouts and agent runs are compared, 8 samples each (256 runs a side)
TINY = ["model.dtype=float32", "model.freeze_vision=false", "train.report_to=[none]"]


def make_items(root: Path, split: str, count: int, rng: random.Random) -> list[QAItem]:
    items = []
    for i in range(count):
        answer = rng.randrange(len(COLOURS))
        name = f"{split}_{i:03d}.mp4"
        if not (root / name).exists():
            colours = [(SHOWN[0], COLOURS[answer][1]), (SHOWN[1], DEFAULT_COLOR)]
            make_video(root / name, duration=10.0, fps=4.0, size=(128, 96), colors=colours)
        items.append(
            QAItem(
                id=f"{split}{i}",
                video=name,
                question=QUESTION,
                answer="ABC"[answer],
                answer_type="choice",
                options=[colour for colour, _ in COLOURS],
                sport="synthetic",
                task_type="read_colour",
                evidence=Span(start=SHOWN[0], end=SHOWN[1]),
            )
        )
    return items


def rows(items: list[QAItem], videos: Path, with_trajectories: bool) -> list[dict]:
    out = []
    for item in items:
        row = {"id": item.id, "video": item.video, "sport": item.sport, "source": "synthetic"}
        row |= {"task_type": item.task_type, "qa": item.model_dump_json()}
        if with_trajectories:
            trajectory = oracle_trajectory(item, videos / item.video, AgentConfig(**AGENT))
            row["trajectory"] = trajectory.model_dump_json()
        out.append(row)
    return out


def save(path: Path, records: list[dict]) -> Path:
    dataset = Dataset.from_list(records)
    DatasetDict(train=dataset, validation=dataset.select(range(min(4, len(dataset))))).save_to_disk(str(path))
    return path


def train(kind: str, config: str, overrides: list[str], processes: int) -> float:
    started = time.perf_counter()
    cmd = train_command(kind, config, overrides, processes)
    subprocess.run(cmd, check=True, env={**os.environ, "TRL_EXPERIMENTAL_SILENCE": "1"})
    return time.perf_counter() - started


def evaluate(
    model_dir: Path, items: list[QAItem], videos: Path, temperature: float = 0.0, show: int = 0, samples: int = 1
) -> dict:
    """Agent runs on held-out questions (greedy by default; ``samples`` seeded runs per question when sampling):
    well-formed tool-call rate, tool-call rate, format-gate rate and accuracy.

    ``show`` prints that many runs with their reward parts (to check that the reward says what it should)."""
    model = TransformersChatModel(str(model_dir), device="cpu")
    well_formed = called = formatted = correct = 0.0
    runs = [item for item in items for _ in range(samples)]
    for i, item in enumerate(runs):
        # one seed per run: with the same seed, questions whose frames differ only in colour sample almost the
        # same tokens, so 8 seeds over 8 questions would be little more than 8 samples
        generation = GenerationConfig(temperature=temperature, seed=i)
        trajectory = Agent(model, AgentConfig(**AGENT, generation=generation)).run(videos / item.video, item.question)
        parts = reward(trajectory, item, RewardSettings())
        called += parts.tool_used
        well_formed += parts.tool_used and not parts.format_errors
        formatted += parts.format
        correct += parts.accuracy
        if i < show:
            turns = " || ".join(turn.text for turn in trajectory.turns)
            print(f"[{item.answer}] {turns}\n  -> {parts.components()} {list(parts.format_errors)}")
    model.close()
    n = len(runs)
    return {
        "well_formed_tool_calls": well_formed / n,
        "tool_call_rate": called / n,
        "format_gate": formatted / n,
        "accuracy": correct / n,
    }


def rollout_format_gate(model_dir: Path, data: Path, videos: Path, out: Path, args: argparse.Namespace) -> float:
    """The format-gate rate of GRPO rollouts of ``model_dir`` (learning rate 0: the model does not change), on
    every question of ``data`` with 8 rollouts each at the GRPO temperature, as ``reward/format`` logs it."""
    steps = PARITY_QUESTIONS * 8 // 16
    overrides = [*TINY, *AGENT_OVERRIDES, f"model.name_or_path={model_dir}", f"data.path={data}"]
    overrides += [f"data.video_root={videos}", f"train.output_dir={out}", f"train.max_steps={steps}"]
    overrides += [f"train.save_steps={steps}", "train.learning_rate=0.0", f"train.temperature={args.temperature}"]
    overrides += [f"train.per_device_train_batch_size={16 // args.processes}", "train.num_generations=8"]
    overrides += ["train.max_completion_length=512", "train.activation_checkpointing=false", "train.logging_steps=1"]
    overrides += ["train.log_completions=false", "vllm.mode=disabled", f"train.seed={args.seed}", "resume=false"]
    train("rl", "configs/grpo.yaml", overrides, args.processes)
    history = json.loads((out / f"checkpoint-{steps}" / "trainer_state.json").read_text())["log_history"]
    return statistics.fmean(entry["reward/format"] for entry in history if "reward/format" in entry)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("runs/learn_tool_use"))
    parser.add_argument("--sft-videos", type=int, default=60)
    parser.add_argument("--rl-videos", type=int, default=64)
    parser.add_argument("--test-videos", type=int, default=48)
    parser.add_argument("--sft-steps", type=int, default=SFT_STEPS)
    parser.add_argument("--rl-steps", type=int, default=RL_STEPS)
    parser.add_argument("--rl-lr", type=float, default=RL_LR)
    parser.add_argument("--temperature", type=float, default=TEMPERATURE)
    parser.add_argument("--beta", type=float, default=BETA)
    parser.add_argument("--seed", type=int, default=0, help="videos, answers and training")
    parser.add_argument("--processes", type=int, default=1, help="training ranks (accelerate launch; same batches)")
    args = parser.parse_args()
    per_rank = {"sft": 6 // args.processes, "rl": 16 // args.processes}  # the global batch stays the same
    work, rng = args.work, random.Random(args.seed)
    videos = work / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sft_items = make_items(videos, "sft", args.sft_videos, rng)
    rl_items = make_items(videos, "rl", args.rl_videos, rng)
    test_items = make_items(videos, "test", args.test_videos, rng)
    sft_data = save(work / "sft_data", rows(sft_items, videos, with_trajectories=True))
    rl_data = save(work / "rl_data", rows(rl_items, videos, with_trajectories=False))
    tiny = build_tiny_model(work / "tiny") if not (work / "tiny").exists() else work / "tiny"
    data_seconds = time.perf_counter() - started

    sft_out, rl_out = work / "sft", work / "grpo"
    sft_seconds = train(
        "sft",
        "configs/sft.yaml",
        [
            *TINY,
            f"model.name_or_path={tiny}",
            f"data.path={sft_data}",
            f"data.video_root={videos}",
            f"train.output_dir={sft_out}",
            f"train.max_steps={args.sft_steps}",
            f"train.seed={args.seed}",
            "train.learning_rate=3e-3",
            "train.lr_scheduler_type=constant",
            "train.warmup_steps=0",
            f"train.per_device_train_batch_size={per_rank['sft']}",
            "train.gradient_accumulation_steps=1",
            "train.activation_checkpointing=false",
            "train.logging_steps=10",
            "train.save_steps=1000",
            "data.curriculum.enabled=false",
        ],
        args.processes,
    )
    after_sft = evaluate(sft_out / "final", test_items, videos)
    print("after SFT:", after_sft, flush=True)
    print(f"sampled runs of the SFT model (temperature {args.temperature}), through the agent and as GRPO rollouts:")
    parity_items = rl_items[:PARITY_QUESTIONS]
    sampled = evaluate(sft_out / "final", parity_items, videos, temperature=args.temperature, show=4, samples=8)
    parity_data = save(work / "parity_data", rows(parity_items, videos, with_trajectories=False))
    sampled["rollout_format_gate"] = rollout_format_gate(sft_out / "final", parity_data, videos, work / "parity", args)
    print("sampled:", sampled, flush=True)
    rl_seconds = train(
        "rl",
        "configs/grpo.yaml",
        [
            *TINY,
            *AGENT_OVERRIDES,
            f"model.name_or_path={sft_out / 'final'}",
            f"data.path={rl_data}",
            f"data.video_root={videos}",
            f"train.output_dir={rl_out}",
            f"train.max_steps={args.rl_steps}",
            f"train.seed={args.seed}",
            f"train.learning_rate={args.rl_lr}",
            "train.lr_scheduler_type=constant",
            f"train.per_device_train_batch_size={per_rank['rl']}",
            "train.num_generations=8",
            f"train.temperature={args.temperature}",
            f"train.beta={args.beta}",
            "train.max_completion_length=512",
            "train.activation_checkpointing=false",
            "train.logging_steps=5",
            "train.save_steps=1000",
            "train.log_completions=false",
            "vllm.mode=disabled",
        ],
        args.processes,
    )
    after_rl = evaluate(rl_out / "final", test_items, videos)
    results = {
        "held_out_questions": len(test_items),
        "after_sft": after_sft,
        "sampled_sft_rollouts": sampled,
        "after_grpo": after_rl,
        "seconds": {"data": data_seconds, "sft": sft_seconds, "grpo": rl_seconds},
        "total_seconds": time.perf_counter() - started,
    }
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    ok_format = after_sft["well_formed_tool_calls"] >= 0.9
    ok_accuracy = after_rl["accuracy"] > after_sft["accuracy"]
    gap = abs(sampled["format_gate"] - sampled["rollout_format_gate"])
    print(
        f"well-formed tool calls after SFT {after_sft['well_formed_tool_calls']:.0%} (target ≥ 90%: "
        f"{'met' if ok_format else 'MISSED'}); accuracy SFT {after_sft['accuracy']:.0%} → GRPO "
        f"{after_rl['accuracy']:.0%} (target: higher: {'met' if ok_accuracy else 'MISSED'}); format gate at "
        f"temperature {args.temperature}: agent {sampled['format_gate']:.0%}, GRPO rollouts "
        f"{sampled['rollout_format_gate']:.0%} (target: within 5 points: {'met' if gap <= 0.05 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
