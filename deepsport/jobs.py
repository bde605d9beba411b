"""Many jobs at once, each result appended to a JSONL file the moment it lands, so a killed run loses nothing.

Used by the long jobs that call a model once per item (distillation steps, evaluation): the jobs run in a
thread pool whose size is the concurrency limit (the agent loop is synchronous), results are written by the
calling thread only, one fsynced line each (``deepsport.jsonl.JsonlAppender``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from deepsport.jsonl import JsonlAppender, Record

T = TypeVar("T")
R = TypeVar("R", bound=Record)


def run_appending(
    items: Sequence[T],
    job: Callable[[T], R],
    out: Path,
    concurrency: int,
    done: Callable[[T, R | None, Exception | None], None],
) -> None:
    """Call ``job(item)`` for every item, at most ``concurrency`` at once. A returned record is appended to ``out``,
    then ``done(item, record, None)`` is called; a job that raises records nothing: ``done(item, None, error)``.
    An exception from ``done`` (or Ctrl-C) stops the run, cancelling the jobs not yet started."""
    with JsonlAppender(out) as writer, ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(job, item): item for item in items}
        try:
            for future in as_completed(futures):
                try:
                    record = future.result()
                except Exception as err:  # the caller decides: count it and go on, or stop
                    done(futures[future], None, err)
                    continue
                writer.write(record)
                done(futures[future], record, None)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def progress_bar(console: Console | None, *extra: ProgressColumn) -> Progress:
    """The progress bar of a long job: description, bar, done/total, ``extra`` columns, elapsed time and ETA."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *extra, TimeElapsedColumn())
    return Progress(*columns, TextColumn("ETA"), TimeRemainingColumn(), console=console)
