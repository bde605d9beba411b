"""Run one job per item, many at once, appending each result as it lands so a killed run resumes losslessly.

Items whose id is already in the output are skipped, so restarting the same command after a crash (even
SIGKILL) loses nothing and duplicates nothing (``deepsport.jobs.run_appending`` writes each record as it
lands). A job that raises (``RetryLater`` for a transient failure such as an endpoint still down after the
client's retries) is not recorded and is tried again by the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console

from deepsport.jobs import progress_bar, run_appending
from deepsport.jsonl import finished_ids


class RetryLater(Exception):
    """A job failed for a reason that may pass (endpoint down, judge unreachable): record nothing, retry later."""


class HasId(Protocol):
    id: str


@dataclass
class RunStats:
    done: int = 0  # recorded by this run
    skipped: int = 0  # already in the output
    failures: dict[str, str] = field(default_factory=dict)  # id -> why it was not recorded: try again later
    cache_hits: int = 0  # model requests answered from the response cache
    cache_misses: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)


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
    with progress_bar(console) as progress:
        task = progress.add_task(label, total=len(todo))

        def done(item: HasId, record: dict[str, Any] | None, error: Exception | None) -> None:
            if isinstance(error, RetryLater):
                stats.failures[item.id] = str(error)
            elif error is not None:  # a bug or an unexpected input: report it, keep the other items going
                stats.failures[item.id] = f"{type(error).__name__}: {error}"
            else:
                stats.done += 1
            progress.advance(task)

        run_appending(todo, job, out, concurrency, done)
    return stats
