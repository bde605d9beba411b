"""The tools alone from the command line: ``frames``, ``info``, ``spot`` (and ``spot train|eval``) and ``pose``.

Each prints what the agent's tool would give the model, for a user to check by eye or script with ``--json``.
"""

from __future__ import annotations

import functools
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.progress import track
from rich.table import Table

from deepsport.console import console, default_command, err_console, fail

app = typer.Typer()
spot_app = typer.Typer(
    cls=default_command("video"), no_args_is_help=True, help="Action spotting: `spot VIDEO`, `spot train`, `spot eval`."
)
app.add_typer(spot_app, name="spot")


@app.command()
def frames(
    video: Annotated[Path, typer.Argument(help="Video file.")],
    start: Annotated[float, typer.Option(help="Window start (s).")],
    end: Annotated[float, typer.Option(help="Window end (s).")],
    num_frames: Annotated[int, typer.Option("-n", "--num-frames", min=1, max=256, help="Frames to extract.")] = 8,
    out: Annotated[Path, typer.Option(help="Directory for the JPEG frames.")] = Path("frames"),
) -> None:
    """Run the choose_frames tool alone and save what the model would see."""
    from deepsport.prompts import time_label
    from deepsport.tools import Budget, Episode, Toolbox
    from deepsport.video import VideoError

    try:
        episode = Episode.open(video, Budget(frames_per_call=num_frames, total_frames=num_frames))
    except VideoError as err:
        raise fail(str(err)) from None
    try:
        result, _ = Toolbox(episode, ["choose_frames"]).call(
            "choose_frames", {"start": start, "end": end, "num_frames": num_frames}
        )
    finally:
        episode.close()
    if not result.ok:
        raise fail(result.text.removeprefix("Error: "))
    out.mkdir(parents=True, exist_ok=True)
    for frame in result.frames:
        path = out / f"frame_{frame.time:09.3f}s.jpg"
        frame.image.save(path, quality=92)
        console.print(f"{time_label(frame.time):>9}  {frame.image.width}x{frame.image.height}  {path}")
    console.print(escape(result.text))


@app.command()
def info(video: Annotated[Path, typer.Argument(help="Video file.")]) -> None:
    """Print a video's metadata as the tools see it."""
    from deepsport.video import Video, VideoError

    try:
        with Video(video) as opened:
            meta = opened.info
            decoder = opened.backend
    except VideoError as err:
        raise fail(str(err)) from None
    table = Table(show_header=False, box=None)
    for key, value in [
        ("path", meta.path),
        ("duration", f"{meta.duration:.3f} s"),
        ("fps", f"{meta.fps:.3f}"),
        ("frames", str(meta.num_frames)),
        ("size", f"{meta.width}x{meta.height}"),
        ("rotation", f"{meta.rotation}°"),
        ("codec", meta.codec),
        ("decoder", decoder),
    ]:
        table.add_row(key, value)
    console.print(table)


@app.command()
def pose(
    video: Annotated[Path, typer.Argument(help="Video file.")],
    start: Annotated[float, typer.Option(min=0.0, help="Window start (s).")],
    end: Annotated[float, typer.Option(min=0.0, help="Window end (s).")],
    num_frames: Annotated[int, typer.Option("-n", "--num-frames", min=1, max=512, help="Frames in the window.")] = 8,
    person: Annotated[
        str | None, typer.Option(help='One athlete: an id from the table, "largest", or a box x0,y0,x1,y1 (fractions).')
    ] = None,
    overlay: Annotated[Path | None, typer.Option(help="Directory for JPEG frames with the skeleton drawn.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every keypoint, angle and velocity as JSON.")] = False,
    backend: Annotated[str, typer.Option(help="mediapipe (CPU) or transformers (--detector, --pose-model).")] = (
        "mediapipe"
    ),
    detector: Annotated[str | None, typer.Option(help="transformers: a person detector, e.g. RT-DETR.")] = None,
    pose_model: Annotated[str | None, typer.Option(help="transformers: a ViTPose checkpoint.")] = None,
    device: Annotated[str | None, typer.Option(help="transformers: cuda or cpu (default: cuda when present).")] = None,
) -> None:
    """Estimate the pose of the people in a window: joint angles, speeds and turning rates per person per frame."""
    from deepsport.pose.estimator import PoseUnavailable
    from deepsport.pose.people import open_people_finder
    from deepsport.pose.report import COLUMNS, LEGEND, draw, people_rows, row, to_json
    from deepsport.pose.tracking import choose, parse_person, poses_of
    from deepsport.tools import Episode, ToolError
    from deepsport.tools.pose import MOTION_FRAMES, POSE_PIXELS
    from deepsport.video import Video, VideoError

    try:
        choice = parse_person(person) if person is not None else None
        estimator = open_people_finder(backend, detector, pose_model, device)
        episode = Episode.open(video, max_pixels=POSE_PIXELS)
    except (PoseUnavailable, VideoError, ValueError, OSError) as err:
        raise fail(str(err)) from None
    try:
        end, notes = episode.clip_window(start, end)
        opened: Video = episode.video
        with err_console.status(f"Reading {num_frames} frames…"):
            frames = opened.window(start, end, num_frames)
            step = MOTION_FRAMES / opened.info.fps
            references = opened.frames_at([max(0.0, f.time - step) for f in frames])
        people = list(
            track(estimator.stream(frames, references), "Pose", len(frames), console=err_console, transient=True)
        )
        ids = sorted({p.id for found in people for p in found})
        chosen = choose(people, choice) if choice is not None else None
        if choice is not None and chosen is None:
            raise fail(f"no person {person} in these frames; the ids here: {', '.join(map(str, ids)) or 'none'}")
        single = choice is not None or all(len(found) <= 1 for found in people)
        poses = poses_of(people, frames, chosen) if single else []
        if overlay:
            overlay.mkdir(parents=True, exist_ok=True)
            for k, frame in enumerate(frames):
                image = frame.image
                for drawn in [poses[k]] if single else [p.pose for p in people[k]]:
                    image = draw(image, drawn)
                image.save(overlay / f"pose_{frame.time:09.3f}s.jpg", quality=92)
    except (VideoError, ToolError, ValueError) as err:
        raise fail(str(err)) from None
    except OSError as err:
        raise fail(f"cannot write the overlays to {overlay}: {err.strerror}") from None
    finally:
        estimator.close()
        episode.close()
    if as_json:
        if single:
            print(json.dumps([to_json(p) for p in poses], indent=2))
        else:
            records = [{"person": p.id, **to_json(p.pose)} for found in people for p in found]
            print(json.dumps(records, indent=2))
        return
    if single:
        found = sum(p.box is not None for p in poses)
        columns = list(COLUMNS)
        rows = [row(p) for p in poses]
        title = f"{'A person' if choice is None else f'Person {chosen}'} in {found} of {len(poses)} frames"
    else:
        columns = ["person", *COLUMNS]
        rows = []
        for frame, found_here in zip(frames, people, strict=True):
            shown, left = people_rows([(p.id, p.pose) for p in found_here], frame.time)
            rows += [cells + [""] * (len(columns) - len(cells)) for cells in shown]
            if left:
                notes.append(f"{left} more people moving at {frame.time:.2f}s, smaller, not listed")
        found = sum(bool(p) for p in people)
        title = f"People in {found} of {len(frames)} frames, {len(ids)} in all (ids {ids[0]}-{ids[-1]})"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for k, column in enumerate(columns):
        table.add_column(column, no_wrap=True, min_width=max(len(cells[k]) for cells in [columns, *rows]))
    for cells in rows:
        table.add_row(*(escape(cell) for cell in cells))
    console.print(table)
    console.print(f"[dim]{escape(LEGEND)}[/]")
    for note in notes:
        console.print(f"[dim]Note: {escape(note)}[/]")
    if overlay:
        console.print(f"Overlays written to {escape(str(overlay))}")


@spot_app.command("video")
def spot_video(
    video: Annotated[Path, typer.Argument(help="Video file.")],
    labels: Annotated[list[str] | None, typer.Option("--labels", help="Only these labels (repeatable).")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="Trained spotter; default: training-free.")] = None,
    start: Annotated[float | None, typer.Option(help="Only events from this time (s).")] = None,
    end: Annotated[float | None, typer.Option(help="Only events up to this time (s).")] = None,
    top_k: Annotated[int | None, typer.Option(min=1, help="Only the best-scoring events.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the events as JSON.")] = False,
) -> None:
    """Find when things happen in a video: labelled events with times in seconds and scores."""
    from deepsport.spotting import make_spotter
    from deepsport.spotting.model import CheckpointError
    from deepsport.video import VideoError

    try:
        spotter = make_spotter(checkpoint)
        with err_console.status("Spotting…"):
            events = spotter.spot(video, labels=labels, start=start, end=end, top_k=top_k)
    except (VideoError, CheckpointError) as err:
        raise fail(str(err)) from None
    if as_json:
        print(json.dumps([{"label": e.label, "time": e.time, "score": e.score} for e in events], indent=2))
        return
    table = Table("time", "label", "score", title=f"{len(events)} events")
    for event in events:
        table.add_row(f"{event.time:.2f}s", escape(event.label), f"{event.score:.2f}")
    console.print(table)
    console.print(f"[dim]{escape(spotter.note)}[/]")


@spot_app.command("eval-events")
def spot_eval_events(
    events: Annotated[Path, typer.Argument(help="CSV of labelled events: video,sport,label,time[,query].")],
    video_root: Annotated[Path, typer.Option(help="Folder holding the videos the CSV names.")],
    text_model: Annotated[
        str | None, typer.Option(help="Image-text model (CLIP/SigLIP) that ranks moments for the queries.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Recall of hand-labelled events within 0.5 s and 1 s, false moments per 10 s, and query ranks, per clip."""
    from dataclasses import asdict

    from deepsport.spotting.labelled import TOLERANCES, EventsError, evaluate_clip, overall, read_events
    from deepsport.spotting.query import QueryError, TextMatcher, rank
    from deepsport.spotting.salient import SalientSpotter
    from deepsport.video import Video, VideoError

    try:
        labelled = read_events(events)
        with err_console.status(f"Loading {escape(text_model)}…") if text_model else nullcontext():
            matcher = TextMatcher(text_model) if text_model else None
    except (EventsError, QueryError) as err:
        raise fail(str(err)) from None
    clips: dict[str, list] = {}
    for event in labelled:
        clips.setdefault(event.video, []).append(event)
    spotter, reports = SalientSpotter(), []
    try:
        for name, rows in track(clips.items(), "Spotting", console=err_console, transient=True):
            path = video_root / name
            moments = spotter.spot(path)
            with Video(path, max_pixels=224 * 224) as video:
                answer = functools.partial(rank, moments, video, matcher=matcher)  # answer(query): ranked moments
                reports.append(evaluate_clip(path, rows, moments, answer))
    except VideoError as err:
        raise fail(str(err)) from None
    answered = f"training-free moments ranked by {text_model}" if text_model else "training-free moments by score"
    total = overall(reports)
    if as_json:
        rows = [{**asdict(r), "false_per_10s": r.false_per_10s} for r in [*reports, total]]
        print(json.dumps({"queries": answered, "clips": rows}, indent=2))
        return
    table = Table("clip", *(f"recall {tol:g} s" for tol in TOLERANCES), "false / 10 s", "moments", "query ranks")
    for report in [*reports, total]:
        ranks = ", ".join("-" if rank is None else str(rank) for _, rank in report.ranks)
        table.add_row(
            escape(report.video),
            *(f"{report.found[tol]}/{report.events} ({report.found[tol] / report.events:.2f})" for tol in TOLERANCES),
            f"{report.false_per_10s:.2f}",
            str(report.moments),
            ranks,
            end_section=report is reports[-1],
        )
    console.print(table)
    console.print(f"[dim]Query ranks: {escape(answered)} (-: not among them)[/]")


@spot_app.command("train")
def spot_train(
    games: Annotated[list[Path], typer.Argument(help="Game folders with Labels-v2.json, or folders holding them.")],
    out: Annotated[Path, typer.Option(help="Checkpoint to write (saved every epoch).")],
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 30,
    val: Annotated[list[Path] | None, typer.Option(help="Validation games, evaluated at the end.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the checkpoint at --out.")] = False,
) -> None:
    """Train the temporal spotter on SoccerNet Labels-v2.json annotations."""
    from deepsport.spotting.labels import LabelsError
    from deepsport.spotting.model import CheckpointError
    from deepsport.spotting.training import train
    from deepsport.video import VideoError

    try:
        result = train(games, out, epochs, val_games=val, resume=resume)
    except (LabelsError, CheckpointError, VideoError) as err:
        raise fail(str(err)) from None
    console.print(f"Trained on {result['games']} games for {result['epochs']} epochs; checkpoint: {escape(str(out))}")
    if "val" in result:
        _print_spotting_metrics(result["val"])


@spot_app.command("eval")
def spot_eval(
    checkpoint: Annotated[Path, typer.Argument(help="Trained spotter checkpoint.")],
    games: Annotated[list[Path], typer.Argument(help="Game folders with Labels-v2.json, or folders holding them.")],
    predictions_dir: Annotated[Path | None, typer.Option(help="Also write results_spotting.json files.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """SoccerNet average-mAP (tight and loose) and interval IoU of a trained spotter."""
    from deepsport.spotting.labels import LabelsError
    from deepsport.spotting.model import CheckpointError
    from deepsport.spotting.training import evaluate
    from deepsport.video import VideoError

    try:
        metrics = evaluate(checkpoint, games, predictions_dir=predictions_dir)
    except (LabelsError, CheckpointError, VideoError) as err:
        raise fail(str(err)) from None
    if as_json:
        print(json.dumps(metrics, indent=2))
    else:
        _print_spotting_metrics(metrics)


def _print_spotting_metrics(metrics: dict) -> None:
    console.print(
        f"tight average-mAP {metrics['tight_average_map']:.4f} · loose average-mAP "
        f"{metrics['loose_average_map']:.4f} · interval IoU {metrics['interval_iou']:.4f}"
    )
    table = Table("label", "tight", "loose")
    for label, scores in metrics["per_class"].items():
        table.add_row(escape(label), f"{scores['tight']:.4f}", f"{scores['loose']:.4f}")
    console.print(table)
