"""What every source adapter needs: one error type and readers that turn bad files into one-line errors."""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class SourceError(ValueError):
    """A missing or malformed annotation file; the message names the file and what was expected."""


def read_json(path: Path, expected: str) -> Any:
    """Parse a JSON file; ``expected`` says what it should hold (used in the error)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file; expected {expected}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SourceError(f"{path}: not a readable JSON file ({err}); expected {expected}") from None


class _DataUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: annotation pickles never need to run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles store bytes
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (annotation pickles hold data only)")
        return super().find_class(module, name)


def read_pickle(path: Path, expected: str) -> Any:
    """Load an annotation pickle (plain containers and numpy arrays; Python 2 pickles decode as latin-1)."""
    try:
        with path.open("rb") as file:
            return _DataUnpickler(file, encoding="latin1").load()
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file; expected {expected}") from None
    except (OSError, EOFError, ValueError, pickle.UnpicklingError, AttributeError, ImportError) as err:
        raise SourceError(f"{path}: not a readable annotation pickle ({err}); expected {expected}") from None


def find_files(folder: Path, patterns: Sequence[str]) -> list[Path]:
    """Files under ``folder`` (searched recursively) matching any of the glob ``patterns``, sorted, no duplicates."""
    return sorted({p for pattern in patterns for p in folder.rglob(pattern) if p.is_file()})


def annotation_files(path: Path, patterns: Sequence[str], missing: str) -> list[Path]:
    """``path`` itself when it is a file, else the files under it matching ``patterns``; when there are none, a
    SourceError "<path>: <missing>"."""
    files = [path] if path.is_file() else find_files(path, patterns)
    if not files:
        raise SourceError(f"{path}: {missing}")
    return files


def folder_name(file: Path, root: Path) -> str:
    """The name of ``file``'s folder relative to ``root``; a file directly in ``root`` gives ``root``'s own name."""
    return file.parent.relative_to(root if file.parent != root else root.parent).as_posix()


def require_path(path: Path, expected: str) -> Path:
    """``path`` itself, or a SourceError saying what should be there."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder; expected {expected}")
    return path
