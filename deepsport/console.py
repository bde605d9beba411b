"""Console output and one-line user errors, shared by every command line (a leaf: it imports no deepsport code)."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str) -> typer.Exit:
    """Print a one-line error (no traceback) and return the exit to raise."""
    err_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)


def default_command(name: str) -> type[TyperGroup]:
    """A command group that runs its command `name` when the arguments name no other command
    (``deepsport eval --benchmark B`` is ``deepsport eval run --benchmark B``; ``deepsport spot VIDEO`` is
    ``deepsport spot video VIDEO``); ``--help`` still shows the group's help."""

    class DefaultGroup(TyperGroup):
        def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: typer's own (vendored) click Context
            if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
                args = [name, *args]
            return super().parse_args(ctx, args)

    return DefaultGroup
