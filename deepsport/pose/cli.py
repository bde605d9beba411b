"""``deepsport pose VIDEO --start S --end E``: the pose tool's numbers for a window, as a table, JSON or overlays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.progress import track
from rich.table import Table

import deepsport.cli as base  # its consoles and fail(); it imports this module, so read at call time


def pose(
    video: Annotated[Path, typer.Argument(help="Video file.")],
    start: Annotated[float, typer.Option(min=0.0, help="Window start (s).")],
    end: Annotated[float, typer.Option(min=0.0, help="Window end (s).")],
    num_frames: Annotated[int, typer.Option("-n", "--num-frames", min=1, max=512, help="Frames in the window.")] = 8,
    overlay: Annotated[Path | None, typer.Option(help="Directory for JPEG frames with the skeleton drawn.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every keypoint, angle and velocity as JSON.")] = False,
) -> None:
    """Estimate the main person's pose in a window: joint angles, speeds and turning rates per frame."""
    from deepsport.pose.estimator import PoseEstimator, PoseUnavailable
    from deepsport.pose.report import COLUMNS, LEGEND, draw, row, to_json
    from deepsport.tools import Episode, ToolError
    from deepsport.video import VideoError

    try:
        estimator = PoseEstimator()
        episode = Episode.open(video)
    except (PoseUnavailable, VideoError) as err:
        raise base.fail(str(err)) from None
    try:
        end, notes = episode.clip_window(start, end)
        with base.err_console.status(f"Reading {num_frames} frames…"):
            frames = episode.video.window(start, end, num_frames)
        poses = list(track(estimator.stream(frames), "Pose", len(frames), console=base.err_console, transient=True))
        if overlay:
            overlay.mkdir(parents=True, exist_ok=True)
            for frame, found in zip(frames, poses, strict=True):
                draw(frame.image, found).save(overlay / f"pose_{frame.time:09.3f}s.jpg", quality=92)
    except (VideoError, ToolError) as err:
        raise base.fail(str(err)) from None
    except OSError as err:
        raise base.fail(f"cannot write the overlays to {overlay}: {err.strerror}") from None
    finally:
        estimator.close()
        episode.close()
    if as_json:
        print(json.dumps([to_json(p) for p in poses], indent=2))
        return
    found = sum(p.found for p in poses)
    rows = [row(p) for p in poses]
    table = Table(title=f"A person in {found} of {len(poses)} frames", title_justify="left", box=box.SIMPLE_HEAD)
    for k, column in enumerate(COLUMNS):
        table.add_column(column, no_wrap=True, min_width=max(len(cells[k]) for cells in [[*COLUMNS], *rows]))
    for cells in rows:
        table.add_row(*(escape(cell) for cell in cells))
    console = base.console
    console.print(table)
    console.print(f"[dim]{escape(LEGEND)}[/]")
    for note in notes:
        console.print(f"[dim]Note: {escape(note)}[/]")
    if overlay:
        console.print(f"Overlays written to {escape(str(overlay))}")
