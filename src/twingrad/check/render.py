"""The verdicts as a table, as text (``str(run)``) and as HTML for Jupyter; the catalogue for ``--list``.

The terminal's report of one target is `reports.learner`'s, written for 80 columns.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from .cases import Case
from .reports.text import mismatch_line
from .result import FAIL, NOTE, PASS, TIMEOUT, UNSUPPORTED, CaseResult, CheckRun

STYLES = {PASS: "green", FAIL: "bold red", NOTE: "yellow", UNSUPPORTED: "dim", TIMEOUT: "magenta"}
ERROR_STYLE = "red"


def _first_mismatch(result: CaseResult) -> Text:
    text = Text(mismatch_line(result))
    if result.detail:
        if text:
            text.append("\n")
        text.append(result.detail, style="dim" if result.status in (PASS, UNSUPPORTED) else "")
    return text


def verdict_table(checked: CheckRun) -> Table:
    title = f"twingrad check {checked.target} (torch {checked.torch_version})"
    table = Table(title=title, title_justify="left")
    table.add_column("case", no_wrap=True)
    table.add_column("ops", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("first mismatch / detail", ratio=1)
    for result in checked.results:
        style = STYLES.get(result.status, ERROR_STYLE)
        verdict = Text(result.status, style=style)
        table.add_row(result.name, " ".join(result.ops), verdict, _first_mismatch(result))
    return table


def catalogue_table(cases: Sequence[Case]) -> Table:
    """The cases, one row each (no title: a rich title is padded to the table's width)."""
    table = Table()
    table.add_column("case", no_wrap=True)
    table.add_column("ops")
    table.add_column("what it exercises", ratio=1)
    for case in cases:
        table.add_row(case.name, " ".join(case.ops), case.doc)
    return table


def _recorded(renderable: RenderableType, width: int) -> Console:
    # force_jupyter=False: recording to a string must not also display the table in Jupyter.
    console = Console(
        file=io.StringIO(), record=True, width=width, color_system="truecolor", force_jupyter=False
    )
    console.print(renderable)
    return console


def as_text(renderable: RenderableType, width: int = 120) -> str:
    """Plain text, without the spaces rich pads a table's title and cells with at the end of a line."""
    return "\n".join(line.rstrip() for line in _recorded(renderable, width).export_text().split("\n"))


def as_html(renderable: RenderableType, width: int = 120) -> str:
    """A ``<pre>`` block with inline colours, for a notebook's output cell."""
    page = '<pre style="font-family:monospace;font-size:90%">{code}</pre>'
    return _recorded(renderable, width).export_html(inline_styles=True, code_format=page)
