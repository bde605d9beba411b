"""Videos are named relative to a video root; a name that would lead outside the root is rejected."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class VideoPathError(ValueError):
    """A video name that is absolute, empty, escapes the video root, or (when required) does not exist."""


def relative_video(name: str) -> str:
    """``name`` as a clean relative POSIX path ("a/./b.mp4" -> "a/b.mp4"); raises VideoPathError when it is empty,
    absolute or climbs out of the root with "..". Backslashes (Windows-style names) count as separators."""
    text = str(name).strip().replace("\\", "/")
    path = PurePosixPath(text)
    if not text or path.is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise VideoPathError(f"video {name!r}: expected a path relative to the video root")
    parts = [part for part in path.parts if part != "."]
    if not parts or ".." in parts:
        raise VideoPathError(f"video {name!r}: a path relative to the video root may not use '..'")
    return "/".join(parts)


def resolve_video(root: str | os.PathLike, name: str, *, must_exist: bool = True) -> Path:
    """The file a relative video name points at under ``root``. Raises VideoPathError when the name is not a
    clean relative path, when it resolves (through symbolic links too) outside ``root``, or, with
    ``must_exist``, when there is no such file."""
    base = Path(root).resolve()
    path = (base / relative_video(name)).resolve()
    if not path.is_relative_to(base):
        raise VideoPathError(f"video {name!r}: leads outside the video root {base}")
    if must_exist and not path.is_file():
        raise VideoPathError(f"video {name!r}: no such file under the video root {base}")
    return path
