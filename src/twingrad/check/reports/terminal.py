"""A batch in the terminal: one row per target -- verdict, counts, the first problem."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..batch import FAILED, OK, UNLOADABLE, BatchRun
from .text import printable

STYLES = {OK: "bold green", FAILED: "bold red", UNLOADABLE: "bold magenta"}


def batch_table(batch: BatchRun) -> Table:
    table = Table(title=f"twingrad check: {len(batch.outcomes)} targets", title_justify="left")
    table.add_column("target", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("cases")
    table.add_column("first problem", ratio=1, overflow="fold")
    for outcome in batch.outcomes:
        table.add_row(
            # Text, not markup: a path or a message may hold "[red]" and must print as written.
            Text(printable(outcome.target, one_line=True)),
            Text(outcome.verdict, style=STYLES[outcome.verdict]),
            Text(outcome.counts()),
            Text(printable(outcome.first_problem(), one_line=True)),
        )
    return table
