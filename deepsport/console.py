"""Console output and one-line user errors, shared by every command line (a leaf: it imports no deepsport code)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str) -> typer.Exit:
    """Print a one-line error (no traceback) and return the exit to raise."""
    err_console.print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)
