"""Action spotting: when things happen in a video, as labelled, scored events in seconds.

``events`` holds the Event record and the Spotter protocol; ``salient`` the training-free spotter, ``model`` the
trained one (``training`` trains and evaluates it for ``deepsport spot train|eval``).
"""

from __future__ import annotations

import os

from deepsport.spotting.events import Event, Spotter, pick_peaks, select_events

__all__ = ["Event", "Spotter", "make_spotter", "pick_peaks", "select_events"]


def make_spotter(checkpoint: str | os.PathLike | None = None) -> Spotter:
    """The spotter an episode uses: the training-free one without a checkpoint."""
    from deepsport.spotting.salient import SalientSpotter

    if checkpoint is None:
        return SalientSpotter()
    from deepsport.spotting.model import TrainedSpotter

    return TrainedSpotter.load(checkpoint)
