"""A batch in the terminal: one row per target -- verdict, counts, the first problem."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..batch import FAILED, OK, UNLOADABLE, BatchRun
from .text import printable

STYLES = {OK: "bold green", FAILED: "bold red", UNLOADABLE: "bold magenta"}


def batch_table(batch: BatchRun, width: int = 120) -> Table:
    """The rows, laid out for ``width`` columns (the console's)."""
    table = Table(title=f"twingrad check: {len(batch.outcomes)} targets", title_justify="left")
    names = [printable(o.target, one_line=True) for o in batch.outcomes]
    counts = [o.counts() for o in batch.outcomes]
    # Fixed widths for the target (what a teacher scans for) and the counts; the first problem
    # takes the rest. Left to itself, rich gives a long path inside a message as much room as
    # the target and crops the table's right edge instead of wrapping it.
    table.add_column("target", overflow="fold", width=_fit(names, width * 0.38, 16))
    table.add_column("verdict", no_wrap=True)
    table.add_column("cases", width=_fit(counts, width * 0.2, 12))
    table.add_column("first problem", ratio=1, overflow="fold")
    for name, outcome in zip(names, batch.outcomes):
        table.add_row(
            # Text, not markup: a path or a message may hold "[red]" and must print as written.
            Text(name),
            Text(outcome.verdict, style=STYLES[outcome.verdict]),
            Text(outcome.counts()),
            Text(printable(outcome.first_problem(), one_line=True)),
        )
    return table


def _fit(texts: list[str], share: float, least: int) -> int:
    return max(min(max(map(len, texts), default=0), int(share)), least)
