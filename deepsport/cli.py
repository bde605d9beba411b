"""The ``deepsport`` command: ``ask``, ``serve``, ``schema`` and ``dev`` here; it assembles the tools' commands
(``deepsport.tools_cli``) and the stages' apps (distill, eval, train), none of which imports this module. Each
subcommand imports what it needs when it runs, so ``ask`` never loads training code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from data_distill.cli import app as distill_app
from deepsport import flags
from deepsport.backends import DEFAULT_MODEL
from deepsport.coach.cli import coach_app, library_app
from deepsport.console import console, err_console, fail
from deepsport.tools_cli import app as tools_app
from eval.cli import app as eval_app
from rl.cli import app as train_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Understand sports video with a tool-using VLM.")
dev_app = typer.Typer(no_args_is_help=True, help="Developer tools: offline tiny models for smoke tests.")
app.add_typer(tools_app)  # frames, info, spot, pose: the tools alone
app.add_typer(dev_app, name="dev")
app.add_typer(library_app, name="library")  # instructional clips for `coach` and find_instruction
app.add_typer(coach_app, name="coach")
app.add_typer(distill_app, name="distill")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")


@app.command()
def ask(
    video: Annotated[Path, typer.Argument(help="Video file.")],
    question: Annotated[str, typer.Argument(help="Question about the video.")],
    agent_overrides: flags.Overrides = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="A job config (configs/eval.yaml) whose agent: to start from.")
    ] = None,
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
    max_turns: flags.MaxTurns = None,
    initial_frames: flags.InitialFrames = None,
    sampling: flags.Sampling = None,
    max_frames: flags.MaxFrames = None,
    spotter: Annotated[
        Path | None, typer.Option(help="Trained spotter checkpoint (key: tool_options.spot_actions.checkpoint).")
    ] = None,
    library: Annotated[
        Path | None,
        typer.Option(help="Instruction library for find_instruction (key: tool_options.find_instruction.library)."),
    ] = None,
    text_model: Annotated[
        str | None,
        typer.Option(
            help="Image-text model ranking spot_actions' moments for a query (tool_options.spot_actions.text_model)."
        ),
    ] = None,
    max_new_tokens: flags.MaxNewTokens = None,
    temperature: flags.Temperature = None,
    tool_protocol: flags.ToolProtocol = None,
    device: Annotated[str, typer.Option(help="Device for --backend transformers: auto, cpu, cuda.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the full trajectory as JSON.")] = False,
    save_trace: Annotated[Path | None, typer.Option(help="Write the trajectory JSON to this file.")] = None,
) -> None:
    """Ask a question about a video; the model looks, calls tools, and answers.

    Agent settings: AgentConfig's defaults < --config's agent: section < AGENT_OVERRIDES (preset=baseline) < flags."""
    from deepsport.agent import Agent, AgentConfig
    from deepsport.backends import BackendError, load_chat_model
    from deepsport.coach.library import Library, LibraryError
    from deepsport.config import ConfigError, load_config
    from deepsport.spotting import make_spotter
    from deepsport.spotting.model import CheckpointError
    from deepsport.video import Video, VideoError

    given: dict[str, Any] = dict(max_turns=max_turns, initial_frames=initial_frames, sampling=sampling)
    given |= dict(max_frames=max_frames)
    given |= dict(max_new_tokens=max_new_tokens, temperature=temperature, tool_protocol=tool_protocol)
    given |= dict(spotter=spotter, text_model=text_model, library=library)
    keys = {
        **flags.AGENT_KEYS,
        "spotter": "tool_options.spot_actions.checkpoint",
        "text_model": "tool_options.spot_actions.text_model",
        "library": "tool_options.find_instruction.library",
    }
    try:
        agent = load_config(AgentConfig, config, [*(agent_overrides or []), *flags.overrides(keys, **given)], "agent")
    except ConfigError as err:
        raise fail(str(err)) from None
    try:
        Video(video).close()  # fail on a bad video or checkpoint before spending a minute loading a model
        checkpoint = agent.tool_options.get("spot_actions", {}).get("checkpoint")
        if checkpoint:
            make_spotter(checkpoint)
        if agent.tool_options.get("find_instruction", {}).get("library"):
            Library(agent.tool_options["find_instruction"]["library"]).check()
    except (VideoError, CheckpointError, LibraryError) as err:
        raise fail(str(err)) from None
    shown = err_console if as_json else console
    try:
        with shown.status(f"Loading {escape(model)} ({backend})…"):
            chat_model = load_chat_model(
                model, backend, base_url, api_key_env, device, agent.tool_protocol, agent.tool_images
            )
    except BackendError as err:
        raise fail(str(err)) from None
    from deepsport.live import ConsoleObserver

    try:
        trajectory = Agent(chat_model, agent, backend=backend).run(video, question, ConsoleObserver(shown))
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
def serve(
    model: Annotated[str, typer.Option(help="Hub id or local checkpoint directory.")] = DEFAULT_MODEL,
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    split_reasoning: Annotated[
        bool, typer.Option(help="Send the thought in message.reasoning, as vLLM's --reasoning-parser qwen3 does.")
    ] = False,
) -> None:
    """Serve a model behind an OpenAI-compatible /v1/chat/completions endpoint (replies shaped as vLLM's: a request
    with tools= gets message.tool_calls)."""
    from deepsport.backends import BackendError, load_chat_model
    from deepsport.serve import serve as run_server

    try:
        with err_console.status(f"Loading {escape(model)}…"):
            chat_model = load_chat_model(model, "transformers", device=device)
    except BackendError as err:
        raise fail(str(err)) from None
    err_console.print(f"Serving {escape(model)} at http://{host}:{port}/v1 (Ctrl-C to stop)")
    run_server(chat_model, host=host, port=port, split_reasoning=split_reasoning)


@app.command()
def schema(name: Annotated[str, typer.Argument(help="trajectory, qaitem or evalrow")]) -> None:
    """Print the JSON Schema of a record type."""
    from deepsport.schemas import SCHEMAS, json_schema

    if name not in SCHEMAS:
        raise fail(f"unknown schema '{name}'; choose one of: {', '.join(SCHEMAS)}")
    print(json.dumps(json_schema(name), indent=2))


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
