"""``deepsport train sft|rl``: the training jobs from a YAML config plus ``key=value`` overrides.

The same app is ``python -m rl sft|grpo`` (``rl/__main__.py``), the entry ``accelerate launch`` runs on every rank.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deepsport.console import console, fail

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


def _train(kind: str, path: Path, overrides: list[str]) -> None:
    from deepsport.config import ConfigError, load_config
    from deepsport.judge import JudgeError
    from deepsport.video import VideoError
    from rl.config import GRPOJob, SFTJob
    from rl.data import DataError

    try:
        config = load_config(SFTJob if kind == "sft" else GRPOJob, path, overrides)
        if kind == "sft":
            from rl.sft import run
        else:
            from rl.grpo import run
        final = run(config)
    except (ConfigError, DataError, VideoError, JudgeError) as err:
        raise fail(str(err)) from None
    except OSError as err:  # a model or checkpoint that cannot be loaded
        raise fail(f"{' '.join(str(err).split())}; check model.name_or_path and train.output_dir") from None
    from rl.models import is_main_process

    if is_main_process():
        console.print(f"Done. Final model: {final} (resolved config: {Path(config.train.output_dir) / 'config.yaml'})")
