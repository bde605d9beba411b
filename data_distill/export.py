"""Export: SFT and RL ``datasets`` folders and a held-out benchmark, split by video, with a summary table.

- ``sft/``: kept trajectories (columns id, video, sport, source, task_type, qa, trajectory), splits train and
  validation;
- ``rl/``: every other question of those videos, the ones the teacher failed included (columns id, video,
  sport, source, task_type, qa);
- ``test.jsonl``: every question on the held-out videos, one QAItem per line (the benchmark format).
Videos are assigned to test, validation and train by a seeded hash, so no video is in two splits.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from data_distill.config import ExportConfig
from deepsport.schemas import QAItem

SPLITS = ("train", "validation", "test")
RL_COLUMNS = ("id", "video", "sport", "source", "task_type", "qa")
SFT_COLUMNS = (*RL_COLUMNS, "trajectory")


def split_videos(videos: set[str], config: ExportConfig) -> dict[str, str]:
    """Each video's split: videos in seeded-hash order, the first share to test, the next to validation.

    With three videos or more, test and validation each get at least one when their fraction is above 0."""
    ordered = sorted(videos, key=lambda v: hashlib.sha256(f"{config.seed}/{v}".encode()).hexdigest())
    n = len(ordered)

    def count(fraction: float) -> int:
        return max(1, round(fraction * n)) if fraction > 0 and n >= 3 else round(fraction * n)

    n_test, n_val = count(config.test_fraction), count(config.validation_fraction)
    return {v: "test" if i < n_test else "validation" if i < n_test + n_val else "train" for i, v in enumerate(ordered)}


def row(item: QAItem) -> dict[str, str]:
    return {
        "id": item.id,
        "video": item.video,
        "sport": item.sport,
        "source": item.source or "",
        "task_type": item.task_type or "",
        "qa": item.model_dump_json(),
    }


def export(
    items: list[QAItem],
    verdicts: dict[str, dict[str, Any]],
    trajectories: dict[str, dict[str, Any]],
    out: Path,
    config: ExportConfig,
) -> dict[str, Any]:
    """Write the datasets under `out` (replacing a previous export whole) and return the summary."""
    from datasets import Dataset, DatasetDict, Features, Value, disable_progress_bars

    disable_progress_bars()
    splits = split_videos({i.video for i in items}, config)
    sft: dict[str, list[dict[str, str]]] = {"train": [], "validation": []}
    rl: dict[str, list[dict[str, str]]] = {"train": [], "validation": []}
    test: list[QAItem] = []
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for item in sorted(items, key=lambda i: i.id):
        split, key = splits[item.video], (item.source or "", item.task_type or "")
        counts[(*key, split, "questions")] += 1
        if split == "test":
            test.append(item)
        elif verdicts.get(item.id, {}).get("keep"):
            trajectory = json.dumps(trajectories[item.id]["trajectory"], ensure_ascii=False)
            sft[split].append({**row(item), "trajectory": trajectory})
            counts[(*key, split, "sft")] += 1
        else:
            rl[split].append(row(item))
            counts[(*key, split, "rl")] += 1
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, rows, columns in (("sft", sft, SFT_COLUMNS), ("rl", rl, RL_COLUMNS)):
        features = Features({c: Value("string") for c in columns})
        DatasetDict(
            {s: Dataset.from_dict({c: [r[c] for r in rows[s]] for c in columns}, features=features) for s in rows}
        ).save_to_disk(str(staging / name), num_shards={s: 1 for s in rows})  # an empty split needs its one shard
    (staging / "test.jsonl").write_text("".join(i.model_dump_json() + "\n" for i in test), encoding="utf-8")
    summary = _summary(counts, verdicts, splits)
    (staging / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (staging / "summary.md").write_text(summary_markdown(summary), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return summary


def _summary(
    counts: Counter[tuple[str, str, str, str]], verdicts: dict[str, dict[str, Any]], splits: dict[str, str]
) -> dict[str, Any]:
    table: dict[tuple[str, str, str], dict[str, int]] = {}
    for (source, task, split, kind), n in counts.items():
        table.setdefault((source, task, split), {"questions": 0, "sft": 0, "rl": 0})[kind] = n
    rows = [{"source": s, "task_type": t, "split": p, **c} for (s, t, p), c in sorted(table.items())]
    rejected = Counter(v["reason"] for v in verdicts.values() if not v["keep"])
    return {
        "rows": rows,
        "videos": dict(Counter(splits.values())),
        "kept": sum(v["keep"] for v in verdicts.values()),
        "rejected": dict(rejected.most_common()),
    }


def summary_markdown(summary: dict[str, Any]) -> str:
    lines = ["| source | task type | split | questions | SFT | RL |", "|---|---|---|---:|---:|---:|"]
    lines += [
        f"| {r['source']} | {r['task_type']} | {r['split']} | {r['questions']} | {r['sft']} | {r['rl']} |"
        for r in summary["rows"]
    ]
    videos = ", ".join(f"{split} {summary['videos'].get(split, 0)}" for split in SPLITS)
    lines += ["", f"Videos: {videos}. Trajectories kept: {summary['kept']}."]
    if summary["rejected"]:
        lines += ["", "| rejected because | trajectories |", "|---|---:|"]
        lines += [f"| {reason} | {n} |" for reason, n in summary["rejected"].items()]
    return "\n".join(lines) + "\n"
