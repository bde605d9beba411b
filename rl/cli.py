"""``deepsport train sft|rl|needs``: the training jobs from a YAML config plus ``key=value`` overrides.

The same app is ``python -m rl sft|grpo|needs`` (``rl/__main__.py``), the entry ``accelerate launch`` runs on
every rank.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from deepsport.console import console, err_console, fail

app = typer.Typer(no_args_is_help=True, help="Training: SFT on trajectories, then GRPO with the tool environment.")

ConfigOption = Annotated[Path, typer.Option("--config", help="YAML config (see configs/).")]
Overrides = Annotated[list[str] | None, typer.Argument(help="Overrides: key=value, nested a.b=c.")]


@app.command()
def sft(config: ConfigOption = Path("configs/sft.yaml"), overrides: Overrides = None) -> None:
    """Supervised fine-tuning on tool-using trajectories (TRL SFTTrainer)."""
    _train("sft", config, overrides or [])


@app.command()
def rl(config: ConfigOption = Path("configs/grpo.yaml"), overrides: Overrides = None) -> None:
    """GRPO with the deepsport tool environment and the gated tool-use reward (TRL GRPOTrainer)."""
    _train("rl", config, overrides or [])


app.command("grpo", hidden=True)(rl)  # `python -m rl grpo` reads better than `python -m rl rl`
T = TypeVar("T")


@app.command()
def needs(config: ConfigOption = Path("configs/grpo.yaml"), overrides: Overrides = None) -> None:
    """The "need" gate's data step: answer every RL question without tools (need_tool.*: an endpoint such as vLLM,
    or in process), score it like the reward, and write the needs_tool column into data.path. Resumable."""
    from rl.need import results_path, run_needs

    job = _load("rl", config, overrides or [])
    counts = _guarded(lambda: run_needs(job, err_console))
    console.print(
        f"{counts['questions']} questions: {counts['needs_tool']} need a tool, {counts['direct']} are answered from "
        f"the initial frames, {counts['unknown']} unknown; written to {job.data.path} (answers: {results_path(job)})"
    )
    if counts["failed"]:
        console.print(f"{counts['failed']} could not be scored this time: run the same command again to retry them")


def _train(kind: str, path: Path, overrides: list[str]) -> None:
    from rl.models import is_main_process

    config = _load(kind, path, overrides)
    if kind == "sft":
        from rl.sft import run as run_sft

        final = _guarded(lambda: run_sft(config))
    else:
        from rl.grpo import run as run_grpo

        final = _guarded(lambda: run_grpo(config))
    if is_main_process():
        console.print(f"Done. Final model: {final} (resolved config: {Path(config.train.output_dir) / 'config.yaml'})")


def _load(kind: str, path: Path, overrides: list[str]) -> Any:
    """The job's config, or a one-line error."""
    from deepsport.config import ConfigError, load_config
    from rl.config import GRPOJob, SFTJob

    try:
        return load_config(SFTJob if kind == "sft" else GRPOJob, path, overrides)
    except ConfigError as err:
        raise fail(str(err)) from None


def _guarded(job: Callable[[], T]) -> T:
    """Run a job; what a user can fix (data, videos, models, endpoints) ends it with a one-line error."""
    from deepsport.backends import BackendError
    from deepsport.config import ConfigError
    from deepsport.judge import JudgeError
    from deepsport.video import VideoError
    from rl.data import DataError

    try:
        return job()
    except (ConfigError, DataError, VideoError, JudgeError, BackendError) as err:
        raise fail(str(err)) from None
    except OSError as err:  # a model or checkpoint that cannot be loaded
        raise fail(f"{' '.join(str(err).split())}; check model.name_or_path and train.output_dir") from None
