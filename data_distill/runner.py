"""Run one job per item, many at once, appending each result as it lands so a killed run resumes losslessly.

The agent loop is synchronous, so jobs run in a thread pool whose size is the concurrency limit. Results are
written by the calling thread only, one fsynced JSONL line each; items whose id is already in the output are
skipped, so restarting the same command after a crash (even SIGKILL) loses nothing and duplicates nothing.
A job that raises (``RetryLater`` for a transient failure such as an endpoint still down after the client's
retries) is not recorded and is tried again by the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from deepsport.jsonl import JsonlAppender, finished_ids


class RetryLater(Exception):
    """A job failed for a reason that may pass (endpoint down, judge unreachable): record nothing, retry later."""


class HasId(Protocol):
    id: str


@dataclass
class RunStats:
    done: int = 0  # recorded by this run
    skipped: int = 0  # already in the output
    failed: int = 0  # not recorded: try again with the same command
    errors: list[str] = field(default_factory=list)  # a few failure messages, for the user
    cache_hits: int = 0  # model requests answered from the response cache
    cache_misses: int = 0


def run_jobs(
    items: Sequence[HasId],
    job: Callable[[Any], dict[str, Any]],
    out: Path,
    concurrency: int,
    label: str,
    console: Console | None = None,
) -> RunStats:
    """Call `job(item)` for each item not yet in `out`, at most `concurrency` at once, appending each record."""
    finished = finished_ids(out)
    todo = [item for item in items if item.id not in finished]
    stats = RunStats(skipped=len(items) - len(todo))
    if not todo:
        return stats
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with (
        JsonlAppender(out) as writer,
        Progress(*columns, console=console, transient=False) as progress,
        ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool,
    ):
        task = progress.add_task(label, total=len(todo))
        futures = {pool.submit(job, item): item for item in todo}
        try:
            for future in as_completed(futures):
                record = _result(future, futures[future], stats)
                if record is not None:
                    writer.write(record)
                    stats.done += 1
                progress.advance(task)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return stats


def _result(future: Any, item: HasId, stats: RunStats) -> dict[str, Any] | None:
    try:
        return future.result()
    except RetryLater as err:
        message = f"{item.id}: {err}"
    except Exception as err:  # a bug or an unexpected input: report it, keep the other items going
        message = f"{item.id}: {type(err).__name__}: {err}"
    stats.failed += 1
    if len(stats.errors) < 5:
        stats.errors.append(message)
    return None
