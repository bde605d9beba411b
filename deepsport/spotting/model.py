"""The trained spotter at run time: a dilated 1-D convolution over per-frame features, loaded from a checkpoint.

The network predicts every class's curve from the features (:mod:`deepsport.spotting.features`) with a per-sample
sigmoid, and spotting picks the peaks of each curve, keeping the strongest of peaks closer than ``nms_window``
seconds. A checkpoint is one ``torch.save`` file holding the weights, the label vocabulary, the feature and model
settings, the feature normalisation, and the optimizer state (training: :mod:`deepsport.spotting.training`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepsport.spotting.events import Event, pick_peaks, select_events
from deepsport.spotting.features import FeatureConfig, load_features
from deepsport.video import Video

FORMAT = "deepsport.trained_spotter"
VERSION = 1
MIN_SCORE = 0.2  # default lowest score a spotted action is reported with


class CheckpointError(Exception):
    """A spotter checkpoint that is missing, unreadable or of another kind; the message says what to do."""


@dataclass(frozen=True)
class ModelConfig:
    hidden: int = 64  # channels
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # one residual block each; receptive field 1 + 2 * sum = 31 samples
    dropout: float = 0.1
    sigma: float = 1.0  # seconds: width of the Gaussian target around each action
    nms_window: float = 3.0  # seconds: of two peaks of one class closer than this, only the stronger is kept
    clip: float = 60.0  # seconds per training crop


class TemporalConvNet(nn.Module):
    """(batch, samples, features) -> (batch, samples, classes) logits, through residual dilated convolutions."""

    def __init__(self, in_dim: int, num_classes: int, config: ModelConfig) -> None:
        super().__init__()
        self.project = nn.Conv1d(in_dim, config.hidden, 1)
        self.blocks = nn.ModuleList(_Block(config.hidden, d, config.dropout) for d in config.dilations)
        self.head = nn.Conv1d(config.hidden, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.project(x.transpose(1, 2))
        for block in self.blocks:
            h = block(h)
        return self.head(h).transpose(1, 2)


class _Block(nn.Module):
    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(self.dropout(torch.relu(self.conv(x))))


class TrainedSpotter:
    """A :class:`deepsport.spotting.Spotter` for the label vocabulary of its checkpoint; load one with :meth:`load`.

    min_score: peaks scoring below this are not reported (evaluation uses 0 to rank every peak)."""

    def __init__(
        self,
        network: TemporalConvNet,
        labels: Sequence[str],
        features: FeatureConfig,
        config: ModelConfig,
        norm: tuple[np.ndarray, np.ndarray],
        min_score: float = MIN_SCORE,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        self.network = network.eval()
        self.labels = tuple(labels)
        self.note = (
            f"trained spotter: actions of {len(self.labels)} kinds learnt from annotated games; times are when each "
            "action happens, scores are the model's confidence"
        )
        self.features, self.config = features, config
        self.mean, self.std = norm
        self.min_score = min_score
        self.cache_dir = cache_dir

    @classmethod
    def load(
        cls, path: str | os.PathLike, min_score: float = MIN_SCORE, cache_dir: str | os.PathLike | None = None
    ) -> TrainedSpotter:
        """Load a checkpoint written by :func:`train`; raises CheckpointError when it is missing or corrupt."""
        checkpoint = read_checkpoint(path)
        spotter = from_checkpoint(checkpoint)
        spotter.min_score, spotter.cache_dir = min_score, cache_dir
        return spotter

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Per-sample class scores in [0, 1]: (samples, classes) for features (samples, dim)."""
        x = torch.from_numpy((features - self.mean) / self.std).float()[None]
        with torch.inference_mode():
            return torch.sigmoid(self.network(x))[0].numpy()

    def spot(
        self,
        video: Video | str | os.PathLike,
        labels: Sequence[str] | None = None,
        start: float | None = None,
        end: float | None = None,
        top_k: int | None = None,
    ) -> list[Event]:
        """See :class:`deepsport.spotting.Spotter`. A Video is read again from its file at the feature budget
        (features are cached on disk, so a video is decoded once)."""
        path = video.info.path if isinstance(video, Video) else video
        scores = self.scores(load_features(path, self.features, self.cache_dir))
        return select_events(self._peaks(scores), labels, start, end, top_k)

    def _peaks(self, scores: np.ndarray) -> list[Event]:
        """Local maxima of each class's curve scoring at least min_score, with non-maximum suppression."""
        times = np.arange(len(scores)) / self.features.fps
        return [
            event
            for c, label in enumerate(self.labels)
            for event in pick_peaks(label, times, scores[:, c], self.min_score, self.config.nms_window)
        ]


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint dict at ``path``; raises CheckpointError when it is missing, corrupt or not a spotter."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Spotter checkpoint not found: {path}; train one with `deepsport spot train`")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a damaged file
        raise CheckpointError(f"Corrupt spotter checkpoint: {path} cannot be read ({err}); train it again") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"Not a spotter checkpoint: {path} was not written by `deepsport spot train`")
    if checkpoint.get("version") != VERSION:
        raise CheckpointError(
            f"Unsupported spotter checkpoint: {path} has version {checkpoint.get('version')}, this code reads "
            f"version {VERSION}; train it again"
        )
    return checkpoint


def from_checkpoint(checkpoint: dict[str, Any]) -> TrainedSpotter:
    features = FeatureConfig(**{**checkpoint["features"], "grid": tuple(checkpoint["features"]["grid"])})
    config = ModelConfig(**{**checkpoint["config"], "dilations": tuple(checkpoint["config"]["dilations"])})
    network = TemporalConvNet(features.dim, len(checkpoint["labels"]), config)
    network.load_state_dict(checkpoint["state_dict"])
    norm = (checkpoint["mean"].numpy(), checkpoint["std"].numpy())
    return TrainedSpotter(network, checkpoint["labels"], features, config, norm)
