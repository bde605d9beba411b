"""Live terminal display of an agent run: each turn's thought, tool calls, frames received and the answer."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from deepsport.agent import Observer
from deepsport.parsing import ParsedTurn
from deepsport.prompts import time_label
from deepsport.schemas import ToolCallRecord, Trajectory, TurnRecord
from deepsport.video import Frame


class ConsoleObserver(Observer):
    def __init__(self, console: Console) -> None:
        self.console = console

    def started(self, video: str, duration: float, frames: list[Frame]) -> None:
        times = ", ".join(time_label(f.time) for f in frames)
        self.console.print(f"[bold]{escape(video)}[/] · {duration:.1f} s · {len(frames)} initial frames at {times}")

    def turn(self, record: TurnRecord, parsed: ParsedTurn) -> None:
        cached = f", {record.cached_tokens} cached" if record.cached_tokens else ""
        self.console.rule(
            f"turn {record.index + 1} · {record.seconds:.1f} s · {record.completion_tokens} tokens "
            f"({record.prompt_tokens} prompt{cached})",
            style="dim",
        )
        if parsed.think:
            self.console.print(f"[italic dim]{escape(parsed.think)}[/]")
        for error in parsed.errors:
            self.console.print(f"[yellow]unreadable tool call:[/] {escape(error)}")
        if parsed.answer is None and parsed.rest:
            self.console.print(escape(parsed.rest))

    def tool(self, record: ToolCallRecord) -> None:
        args = ", ".join(f"{k}={v}" for k, v in record.arguments.items())
        self.console.print(f"[cyan]→ {escape(record.name)}[/]({escape(args)})")
        style = "green" if record.ok else "red"
        self.console.print(f"[{style}]← {escape(record.result)}[/] [dim]({record.seconds * 1000:.0f} ms)[/]")

    def finished(self, trajectory: Trajectory, trace: Path | None = None) -> None:
        summary = (
            f"{len(trajectory.turns)} turns · {len(trajectory.tool_calls)} tool calls · "
            f"{trajectory.frames_used} frames · {trajectory.seconds:.1f} s"
        )
        if trajectory.answer is not None:
            self.console.print(Panel(escape(trajectory.answer), title="answer", title_align="left"))
            self.console.print(f"[dim]{summary}[/]")
        elif trajectory.stop_reason != "error":
            self.console.print(
                f"[yellow]The model gave no answer within {len(trajectory.turns)} turns[/] ({summary}). "
                "Try more --max-turns or a stronger --model."
            )
        if trace:
            self.console.print(f"[dim]trace written to {escape(str(trace))}[/]")
