"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

# --- tiny offline models ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Build a tiny random checkpoint once per session and family: ``tiny_model_dir("qwen2.5-vl")``."""
    from deepsport.dev.tiny_model import build_tiny_model

    built: dict[str, Path] = {}

    def get(family: str = "qwen3-vl") -> Path:
        if family not in built:
            built[family] = build_tiny_model(tmp_path_factory.mktemp(f"tiny-{family}"), family)
        return built[family]

    return get
