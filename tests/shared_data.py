"""Where the real clips and annotation excerpts are: ``../shared`` beside the repository, or ``$DEEPSPORT_SHARED``
(e.g. when the tests run from a git worktree elsewhere). Tests that read them skip cleanly when they are absent."""

from __future__ import annotations

import os
from pathlib import Path

SHARED = Path(os.environ.get("DEEPSPORT_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CLIPS = SHARED / "clips"
ANNOTATIONS = SHARED / "annotations"
