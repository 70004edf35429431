"""A progress bar for long applies, on stderr and only on a terminal: pipes and CI logs stay clean."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cloudroutes.model import ActionResult

LONG_APPLY = 20
"""Below this many actions an apply finishes before a bar would be worth drawing."""


@contextmanager
def progress_bar(console: Console, total: int, *, enabled: bool = True) -> Iterator[Callable[[ActionResult], None]]:
    if not (enabled and console.is_terminal and total >= LONG_APPLY):
        yield lambda result: None
        return
    columns = (TextColumn("applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("apply", total=total)
        yield lambda result: bar.advance(task)
