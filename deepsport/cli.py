"""The ``deepsport`` command. Each subcommand imports what it needs, so ``ask`` never loads training code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from data_distill.cli import app as distill_app
from deepsport.backends import DEFAULT_MODEL
from deepsport.pose.cli import pose as pose_command
from eval.cli import app as eval_app
from rl.cli import app as train_app


class _SpotGroup(TyperGroup):
    """``deepsport spot VIDEO`` spots a video; ``deepsport spot train|eval`` train and evaluate a spotter."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["video", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(add_completion=False, no_args_is_help=True, help="Understand sports video with a tool-using VLM.")
dev_app = typer.Typer(no_args_is_help=True, help="Developer tools: offline tiny models for smoke tests.")
spot_app = typer.Typer(
    cls=_SpotGroup, no_args_is_help=True, help="Action spotting: `spot VIDEO`, `spot train`, `spot eval`."
)
app.add_typer(dev_app, name="dev")
app.add_typer(spot_app, name="spot")
app.add_typer(distill_app, name="distill")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.command("pose")(pose_command)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str) -> typer.Exit:
    """Print a one-line error (no traceback) and return the exit to raise."""
    err_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)


@app.command()
def ask(
    video: Annotated[Path, typer.Argument(help="Video file.")],
    question: Annotated[str, typer.Argument(help="Question about the video.")],
    model: Annotated[str, typer.Option(help="Hub id, local checkpoint directory, or endpoint model name.")] = (
        DEFAULT_MODEL
    ),
    backend: Annotated[str, typer.Option(help="transformers (in-process) or openai (any compatible endpoint).")] = (
        "transformers"
    ),
    base_url: Annotated[str | None, typer.Option(help="Endpoint URL for --backend openai.")] = None,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the endpoint's API key.")] = (
        "OPENAI_API_KEY"
    ),
    max_turns: Annotated[int, typer.Option(min=1, help="Model turns, the final answer included.")] = 6,
    initial_frames: Annotated[int, typer.Option(min=1, help="Frames shown before the first turn.")] = 8,
    sampling: Annotated[
        str, typer.Option(help="How initial frames are chosen: uniform, or motion (more frames where the action is).")
    ] = "uniform",
    max_frames: Annotated[int, typer.Option(min=0, help="Frames the tools may return in all.")] = 32,
    spotter: Annotated[Path | None, typer.Option(help="Trained spotter checkpoint for spot_actions.")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Tokens per model turn.")] = 512,
    temperature: Annotated[float, typer.Option(min=0.0, help="0 for greedy decoding.")] = 0.0,
    device: Annotated[str, typer.Option(help="Device for --backend transformers: auto, cpu, cuda.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the full trajectory as JSON.")] = False,
    save_trace: Annotated[Path | None, typer.Option(help="Write the trajectory JSON to this file.")] = None,
) -> None:
    """Ask a question about a video; the model looks, calls tools, and answers."""
    from deepsport.agent import Agent, AgentConfig
    from deepsport.backends import BackendError, GenerationConfig, load_chat_model
    from deepsport.keyframes import SAMPLINGS
    from deepsport.spotting import make_spotter
    from deepsport.spotting.model import CheckpointError
    from deepsport.tools import Budget
    from deepsport.video import Video, VideoError

    if sampling not in SAMPLINGS:
        raise fail(f"unknown --sampling '{sampling}'; choose one of: {', '.join(SAMPLINGS)}")
    try:
        Video(video).close()  # fail on a bad video or checkpoint before spending a minute loading a model
        if spotter:
            make_spotter(spotter)
    except (VideoError, CheckpointError) as err:
        raise fail(str(err)) from None
    shown = err_console if as_json else console
    try:
        with shown.status(f"Loading {escape(model)} ({backend})…"):
            chat_model = load_chat_model(model, backend, base_url=base_url, api_key_env=api_key_env, device=device)
    except BackendError as err:
        raise fail(str(err)) from None
    config = AgentConfig(
        initial_frames=initial_frames,
        sampling=sampling,  # type: ignore[arg-type]
        tool_options={"spot_actions": {"checkpoint": str(spotter)}} if spotter else {},
        budget=Budget(max_turns=max_turns, total_frames=max_frames),
        generation=GenerationConfig(max_new_tokens=max_new_tokens, temperature=temperature),
    )
    from deepsport.live import ConsoleObserver

    try:
        trajectory = Agent(chat_model, config, backend=backend).run(video, question, ConsoleObserver(shown))
    except VideoError as err:
        raise fail(str(err)) from None
    finally:
        chat_model.close()
    payload = trajectory.model_dump_json(indent=2)
    if save_trace:
        save_trace.parent.mkdir(parents=True, exist_ok=True)
        save_trace.write_text(payload)
    if as_json:
        print(payload)
    else:
        ConsoleObserver(console).finished(trajectory, save_trace)
    if trajectory.stop_reason == "error":
        raise fail(trajectory.error or "the model failed")


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
def serve(
    model: Annotated[str, typer.Option(help="Hub id or local checkpoint directory.")] = DEFAULT_MODEL,
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Serve a model behind an OpenAI-compatible /v1/chat/completions endpoint."""
    from deepsport.backends import BackendError, load_chat_model
    from deepsport.serve import serve as run_server

    try:
        with err_console.status(f"Loading {escape(model)}…"):
            chat_model = load_chat_model(model, "transformers", device=device)
    except BackendError as err:
        raise fail(str(err)) from None
    err_console.print(f"Serving {escape(model)} at http://{host}:{port}/v1 (Ctrl-C to stop)")
    run_server(chat_model, host=host, port=port)


@app.command()
def schema(name: Annotated[str, typer.Argument(help="trajectory or qaitem")]) -> None:
    """Print the JSON Schema of a record type."""
    from deepsport.schemas import SCHEMAS, json_schema

    if name not in SCHEMAS:
        raise fail(f"unknown schema '{name}'; choose one of: {', '.join(SCHEMAS)}")
    print(json.dumps(json_schema(name), indent=2))


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
    from deepsport.spotting.model import CheckpointError, train
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
    from deepsport.spotting.model import CheckpointError, evaluate
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


@dev_app.command("tiny-model")
def tiny_model(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the model to.")],
    family: Annotated[str, typer.Option(help="qwen3-vl or qwen2.5-vl")] = "qwen3-vl",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Build a randomly initialised tiny model (real processor and chat template) usable with --model."""
    from deepsport.dev.tiny_model import build_tiny_model

    if family not in ("qwen3-vl", "qwen2.5-vl"):
        raise fail(f"unknown family '{family}'; choose qwen3-vl or qwen2.5-vl")
    path = build_tiny_model(out_dir, family=family, seed=seed)  # type: ignore[arg-type]
    console.print(f"Tiny {family} model written to {path}; try: deepsport ask VIDEO QUESTION --model {path}")


def main() -> None:
    app()
