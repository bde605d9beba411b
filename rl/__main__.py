"""``python -m rl sft|grpo --config C [key=value ...]``: ``deepsport train`` without the rest of the command line,
for ``accelerate launch -m rl ...`` on every rank."""

from rl.cli import app

app(prog_name="python -m rl")
