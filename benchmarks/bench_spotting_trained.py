"""How fast the trained SoccerNet spotting head trains and runs, on synthetic games shaped like SoccerNet's.

Run from the repository root: .venv/bin/python -m benchmarks.bench_spotting_trained [--games N] [--epochs N]

SoccerNet's low-resolution videos are 398x224, 25 fps, 45-minute halves. The head's input is the per-sample feature
vector of deepsport.spotting.features (2 samples a second: the mean RGB of an 8x4 grid of cells and each cell's grey
change since the previous sample, 128 values, from frames decoded at 96x54), so three costs matter, each timed here
on its own: extracting the features from a video (once per video: they are cached on disk), training on cached
features (seconds per epoch, scaled to an hour of footage), and spotting one 45-minute half from its features.
The synthetic games (90 s halves at 398x224, 25 fps, flashes of colour as actions) stand in for real ones: feature
extraction costs what decoding a video of that size costs, whatever it shows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from deepsport.dev.synthetic import DEFAULT_COLOR, make_video
from deepsport.spotting.features import FeatureConfig, load_features
from deepsport.spotting.labels import Annotation, GameLabels, write_labels
from deepsport.spotting.model import TrainedSpotter
from deepsport.spotting.training import train

HALF = 45 * 60  # seconds
COLORS = {"Goal": (220, 30, 30), "Corner": (30, 30, 220), "Foul": (230, 210, 20)}


def make_game(folder: Path, seed: int, duration: float) -> None:
    """One half at SoccerNet's 224p size and rate, an action (a 1 s flash of its colour) every 5-9 s."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    colors, annotations, at = [], [], 2.0
    while at < duration - 3:
        label = str(rng.choice(sorted(COLORS)))
        colors += [(round(at, 3), COLORS[label]), (round(at + 1.0, 3), DEFAULT_COLOR)]
        annotations.append(Annotation(1, round(at, 3), label))
        at += 5.0 + 4.0 * rng.random()
    make_video(folder / "1_224p.mkv", duration=duration, fps=25, size=(398, 224), colors=colors)
    write_labels(folder / "Labels-v2.json", GameLabels(annotations, {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=4, help="synthetic one-half games to train on")
    parser.add_argument("--duration", type=float, default=90.0, help="seconds per half")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for seed in range(args.games):
            make_game(root / "games" / f"game{seed}", seed, args.duration)
        config = FeatureConfig()
        started = time.perf_counter()
        for video in sorted((root / "games").glob("*/1_224p.mkv")):
            load_features(video, config, root / "cache")
        extract = (time.perf_counter() - started) / args.games
        footage = args.games * args.duration
        summary = train(root / "games", root / "spotter.pt", args.epochs, cache_dir=root / "cache", progress=False)
        per_epoch = summary["seconds"] / args.epochs
        spotter = TrainedSpotter.load(root / "spotter.pt")
        half = np.random.default_rng(0).random((int(HALF * config.fps), config.dim), dtype=np.float32)
        spotter.scores(half)  # warm-up
        started = time.perf_counter()
        spotter._peaks(spotter.scores(half))
        infer = time.perf_counter() - started
    print(f"input: {config.dim} features per sample at {config.fps:g} samples/s (frames decoded at 96x54)")
    print(
        f"feature extraction, 398x224 25 fps: {extract:.2f} s per {args.duration:g} s half "
        f"({args.duration / extract:.0f}x real time; a 45-minute half about {HALF / args.duration * extract:.0f} s)"
    )
    print(
        f"training: {per_epoch:.3f} s per epoch over {footage / 60:.0f} min of footage "
        f"(about {per_epoch * 3600 / footage:.1f} s per epoch per hour of footage; features cached)"
    )
    print(f"spotting a 45-minute half from its features: {infer * 1000:.0f} ms")


if __name__ == "__main__":
    main()
