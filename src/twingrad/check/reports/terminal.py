"""A batch in the terminal: per target its verdict, counts and first problem; the heading above.

Two layouts of the same text. On a terminal wide enough that the first problem gets
`WIDE_ENOUGH` columns of its own, a table: one row per target. Otherwise (80 columns,
a long target path, or any pipe or log, where a table's box and padding only get in the
way), one block per target::

    FAIL tests/engines/learners/tanh_one_minus_x2.py:Value: 1 fail, 2 pass
        lecture_neuron (fail): your tanh derivative equals 1 − x² (x the input), not
        1 − tanh(x)² -- Value.tanh._backward() at tanh_one_minus_x2.py:74

wrapped by words to the width by the learner report's own `wrapped`, no line with
trailing spaces. Only a word longer than the line (a path) may run past it, unbroken.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from ..batch import FAILED, OK, UNLOADABLE, BatchRun, TargetOutcome
from .learner import INDENT, wrapped
from .text import printable

STYLES = {OK: "bold green", FAILED: "bold red", UNLOADABLE: "bold magenta"}
# The first problem's column in the table, at least: a misconception with its `file:line` is
# 100-200 characters, at most a few lines here. Narrower, and it wraps over ten.
WIDE_ENOUGH = 60
# What the table spends besides its columns: five rules and a space either side of each cell.
_FRAME = 5 + 4 * 2


def batch_report(batch: BatchRun, width: int, terminal: bool = True) -> list[RenderableType]:
    """What the command prints for a batch, before its summary line: the heading, then the table
    when ``terminal`` is wide enough for it, else the blocks. Lines are `Text` (print them with
    ``soft_wrap``: wrapped here already)."""
    heading = Text(f"twingrad check: {len(batch.outcomes)} targets", style="bold")
    if terminal and problem_width(batch, width) >= WIDE_ENOUGH:
        return [heading, batch_table(batch, width)]
    return [heading, *batch_blocks(batch, width)]


def batch_blocks(batch: BatchRun, width: int = 80) -> list[Text]:
    """A block per target: ``FAIL target: counts``, then its first problem, indented."""
    lines: list[Text] = []
    for outcome in batch.outcomes:
        head = f"{outcome.verdict} {_name(outcome)}"
        counts = outcome.counts()
        head += f": {counts}" if counts else ""
        # A first line too long goes on two spaces in: never mistaken for the problem, four in.
        lines += (Text(line, style=STYLES[outcome.verdict] if k == 0 else "")
                  for k, line in enumerate(wrapped(head, width, rest="  ")))
        problem = outcome.first_problem()
        if problem:
            lines += map(Text, wrapped(problem, width, INDENT, INDENT))
    return lines


def batch_table(batch: BatchRun, width: int = 120) -> Table:
    """The rows, laid out for ``width`` columns (the console's)."""
    table = Table()
    names = [_name(o) for o in batch.outcomes]
    target_width, counts_width = _widths(batch, width)
    # Fixed widths for the target (what a teacher scans for) and the counts; the first problem
    # takes the rest. Left to itself, rich gives a long path inside a message as much room as
    # the target and crops the table's right edge instead of wrapping it.
    table.add_column("target", overflow="fold", width=target_width)
    table.add_column("verdict", no_wrap=True)
    table.add_column("cases", width=counts_width)
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


def problem_width(batch: BatchRun, width: int) -> int:
    """The columns the table would leave its first problem at ``width``."""
    target_width, counts_width = _widths(batch, width)
    verdict_width = max([len("verdict")] + [len(o.verdict) for o in batch.outcomes])
    return width - target_width - verdict_width - counts_width - _FRAME


def _name(outcome: TargetOutcome) -> str:
    return printable(outcome.target, one_line=True)


def _widths(batch: BatchRun, width: int) -> tuple[int, int]:
    names = [_name(o) for o in batch.outcomes]
    counts = [o.counts() for o in batch.outcomes]
    return _fit(names, width * 0.38, 16), _fit(counts, width * 0.2, 12)


def _fit(texts: list[str], share: float, least: int) -> int:
    return max(min(max(map(len, texts), default=0), int(share)), least)
