"""Training and evaluating the temporal spotter (``deepsport spot train|eval``), on SoccerNet-format games.

Each annotated action becomes a Gaussian bump (``sigma`` seconds wide) on its class's target curve; the network
(:mod:`deepsport.spotting.model`, which ``spot_actions`` runs) learns every class's curve from the features. A
checkpoint is saved after every epoch with the optimizer state, so training resumes where it stopped.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress
from torch import nn

from deepsport.spotting.events import Event
from deepsport.spotting.features import FeatureConfig, load_features
from deepsport.spotting.labels import PREDICTIONS_FILE, Annotation, Game, load_games, write_predictions
from deepsport.spotting.metrics import LOOSE_DELTAS, TIGHT_DELTAS, average_map, event_interval_iou
from deepsport.spotting.model import (
    FORMAT,
    VERSION,
    CheckpointError,
    ModelConfig,
    TemporalConvNet,
    TrainedSpotter,
    from_checkpoint,
    read_checkpoint,
)

GamesArg = str | os.PathLike | Sequence[str | os.PathLike | Game]


def gaussian_targets(
    annotations: Sequence[Annotation], labels: Sequence[str], num_samples: int, fps: float, sigma: float
) -> np.ndarray:
    """(samples, classes) targets: per class, the max over its actions of exp(-(t - action)^2 / (2 sigma^2))."""
    times = np.arange(num_samples) / fps
    targets = np.zeros((num_samples, len(labels)), dtype=np.float32)
    column = {label: c for c, label in enumerate(labels)}
    for a in annotations:
        if a.label in column:
            c = column[a.label]
            targets[:, c] = np.maximum(targets[:, c], np.exp(-((times - a.time) ** 2) / (2 * sigma**2)))
    return targets


def train(
    games: GamesArg,
    out: str | os.PathLike,
    epochs: int = 30,
    *,
    val_games: GamesArg | None = None,
    labels: Sequence[str] | None = None,
    features: FeatureConfig | None = None,
    config: ModelConfig | None = None,
    batch_size: int = 8,
    lr: float = 1e-3,
    weight_decay: float = 1e-2,
    seed: int = 0,
    resume: bool = False,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a spotter on ``games`` (a game folder, a folder of them, or a list) and save it to ``out`` after
    every epoch. labels: the vocabulary (default: every label in the training annotations, sorted); actions
    with other labels are ignored. resume: continue from ``out`` when it exists (same labels and settings) up
    to ``epochs``. Returns the training summary, with the evaluation of ``val_games`` under "val" when given."""
    out = Path(out)
    games = load_games(games)
    checkpoint = read_checkpoint(out) if resume and out.exists() else None
    if checkpoint is not None:
        labels, features, config = _resume_settings(checkpoint, out, labels, features, config)
    features, config = features or FeatureConfig(), config or ModelConfig()
    vocabulary = list(labels) if labels else sorted({a.label for g in games for a in g.labels.annotations})
    if not vocabulary:
        raise ValueError("no labels to learn: the training games have no annotations and no labels were given")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with _progress(progress) as bar:
        xs, ys = _training_data(games, vocabulary, features, config, cache_dir, bar)
        stacked = np.concatenate(xs)
        norm = (stacked.mean(axis=0), np.maximum(stacked.std(axis=0), 1e-2))
        network = TemporalConvNet(features.dim, len(vocabulary), config)
        optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=weight_decay)
        first = 0
        if checkpoint is not None:
            network.load_state_dict(checkpoint["state_dict"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            norm = (checkpoint["mean"].numpy(), checkpoint["std"].numpy())
            first = checkpoint["epoch"]
        xs = [(x - norm[0]) / norm[1] for x in xs]
        clip = max(1, round(config.clip * features.fps))
        task = bar.add_task("training", total=epochs, completed=first)
        loss = math.nan
        for epoch in range(first, epochs):
            loss = _train_epoch(network, optimizer, xs, ys, clip, batch_size, rng)
            bar.update(task, advance=1, description=f"training (loss {loss:.4f})")
            _save(out, TrainedSpotter(network, vocabulary, features, config, norm), optimizer, epoch + 1)
    summary: dict[str, Any] = {
        "checkpoint": str(out),
        "labels": vocabulary,
        "games": len(games),
        "videos": len(xs),
        "actions": sum(a.label in vocabulary for g in games for a in g.labels.annotations),
        "epochs": epochs,
        "loss": loss,
        "seconds": time.perf_counter() - started,
    }
    if val_games is not None:
        summary["val"] = evaluate(out, val_games, cache_dir=cache_dir, progress=progress)
    return summary


def evaluate(
    checkpoint: str | os.PathLike,
    games: GamesArg,
    *,
    predictions_dir: str | os.PathLike | None = None,
    iou_width: float = 2.0,
    iou_min_score: float = 0.5,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Spot every half of ``games`` with the checkpoint and score it against their annotations.

    Returns tight and loose average-mAP, per-class average AP, and the interval IoU of actions as
    ``iou_width``-second intervals (predictions scoring at least ``iou_min_score``). predictions_dir: also
    write SoccerNet ``results_spotting.json`` files there, laid out like the games below the folder given (or
    below the folders holding a list of games), so the official evaluation can compare the two folders."""
    spotter = TrainedSpotter.load(checkpoint, min_score=0.0, cache_dir=cache_dir)
    if isinstance(games, str | os.PathLike):
        base = Path(games).resolve()
        base = base.parent if base.is_file() else base
    else:
        base = None
    games = load_games(games)
    base = base or Path(os.path.commonpath([g.root.resolve().parent for g in games]))
    truth: list[list[Annotation]] = []
    predicted: list[list[Event]] = []
    with _progress(progress) as bar:
        for game in bar.track(games, description="spotting"):
            pairs = []
            for half, video in game.videos.items():
                events = spotter.spot(video)
                truth.append([a for a in game.labels.in_half(half) if a.label in spotter.labels])
                predicted.append(events)
                pairs += [(half, e) for e in events]
            if predictions_dir is not None:
                folder = Path(predictions_dir) / game.root.resolve().relative_to(base)
                folder.mkdir(parents=True, exist_ok=True)
                write_predictions(folder / PREDICTIONS_FILE, pairs)
    tight = average_map(truth, predicted, spotter.labels, TIGHT_DELTAS)
    loose = average_map(truth, predicted, spotter.labels, LOOSE_DELTAS)
    return {
        "games": len(games),
        "videos": len(truth),
        "actions": sum(len(t) for t in truth),
        "predictions": sum(len(p) for p in predicted),
        "tight_average_map": tight.value,
        "loose_average_map": loose.value,
        "per_class": {
            label: {"tight": tight.per_class[label], "loose": loose.per_class[label]} for label in spotter.labels
        },
        "interval_iou": event_interval_iou(truth, predicted, iou_width, iou_min_score),
        "interval_iou_width": iou_width,
        "interval_iou_min_score": iou_min_score,
    }


def _resume_settings(
    checkpoint: dict[str, Any],
    path: Path,
    labels: Sequence[str] | None,
    features: FeatureConfig | None,
    config: ModelConfig | None,
) -> tuple[list[str], FeatureConfig, ModelConfig]:
    """The settings to resume with: the checkpoint's, which must agree with any given."""
    saved = from_checkpoint(checkpoint)
    for name, given, kept in (
        ("labels", None if labels is None else tuple(labels), saved.labels),
        ("feature settings", features, saved.features),
        ("model settings", config, saved.config),
    ):
        if given is not None and given != kept:
            raise CheckpointError(f"Cannot resume {path}: its {name} differ ({kept} there, {given} now)")
    return list(saved.labels), saved.features, saved.config


def _training_data(
    games: list[Game],
    labels: list[str],
    features: FeatureConfig,
    config: ModelConfig,
    cache_dir: str | os.PathLike | None,
    bar: Progress,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Features and targets of every half of every game."""
    halves = [(game, half, video) for game in games for half, video in game.videos.items()]
    xs, ys = [], []
    for game, half, video in bar.track(halves, description="features"):
        x = load_features(video, features, cache_dir)
        xs.append(x)
        ys.append(gaussian_targets(game.labels.in_half(half), labels, len(x), features.fps, config.sigma))
    return xs, ys


def _train_epoch(
    network: TemporalConvNet,
    optimizer: torch.optim.Optimizer,
    xs: list[np.ndarray],
    ys: list[np.ndarray],
    clip: int,
    batch_size: int,
    rng: np.random.Generator,
) -> float:
    """One pass over every video, cut into crops of ``clip`` samples at a random offset; returns the mean loss."""
    crops = []
    for v, features in enumerate(xs):
        offset = int(rng.integers(clip))  # the first crop is shorter, so crop borders move between epochs
        crops += [(v, max(0, s), min(len(features), s + clip)) for s in range(-offset, len(features), clip)]
    order = rng.permutation(len(crops))
    network.train()
    losses = []
    for first in range(0, len(order), batch_size):
        batch = [crops[i] for i in order[first : first + batch_size]]
        length = max(e - s for _, s, e in batch)
        x = torch.zeros(len(batch), length, xs[0].shape[1])
        y = torch.zeros(len(batch), length, ys[0].shape[1])
        mask = torch.zeros(len(batch), length, 1)
        for row, (v, s, e) in enumerate(batch):
            x[row, : e - s] = torch.from_numpy(xs[v][s:e])
            y[row, : e - s] = torch.from_numpy(ys[v][s:e])
            mask[row, : e - s] = 1
        loss = (nn.functional.binary_cross_entropy_with_logits(network(x), y, reduction="none") * mask).sum()
        loss = loss / (mask.sum() * y.shape[2])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    network.eval()
    return float(np.mean(losses))


def _progress(enabled: bool) -> Progress:
    """Progress bars on stderr, so that stdout stays free for results."""
    return Progress(console=Console(stderr=True), disable=not enabled)


def _save(path: Path, spotter: TrainedSpotter, optimizer: torch.optim.Optimizer, epoch: int) -> None:
    checkpoint = {
        "format": FORMAT,
        "version": VERSION,
        "labels": list(spotter.labels),
        "features": asdict(spotter.features),
        "config": asdict(spotter.config),
        "mean": torch.from_numpy(spotter.mean),
        "std": torch.from_numpy(spotter.std),
        "state_dict": spotter.network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(checkpoint, partial)
    os.replace(partial, path)
