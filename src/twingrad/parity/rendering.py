"""The rendering kit every report shares: numbers as text and JSON, text and HTML tables.

`ParityReport`, `NudgeReport`, `FunctionReport` and `TrainingReport` all print numbers,
tables and JSON through these helpers, so a number reads the same in every report:
`number_text` is the one formatter (exact, shortest round trip), `ulps_text` the one
for ULP distances, `json_number` the one for JSON.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from ..verdict import json_number


def number_text(x: Any, places: int | None = None) -> str:
    """A number as every report and drawing writes it: exactly (the shortest repr that
    reads back the same float) or, with ``places``, rounded to that many decimals (the
    drawings' ``data 2.0000``); ``—`` for no number; anything else by its repr."""
    if x is None:
        return "—"
    try:
        return repr(float(x)) if places is None else f"{float(x):.{places}f}"
    except (TypeError, ValueError):
        return repr(x)




def jsonable(value: Any) -> Any:
    """Floats made JSON-safe throughout dicts, lists and tuples."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


Triple = tuple[float | None, float | None, float | None]


def nudge_sides(engine: Triple, torch: Triple) -> dict[str, dict[str, float | None]]:
    """A nudge's ``(before, after, predicted change)`` on each side, as JSON-ready dicts."""
    keys = ("before", "after", "predicted")
    return {"engine": dict(zip(keys, engine)), "torch": dict(zip(keys, torch))}


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[k]) for r in rows)) if rows else len(h) for k, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
    return "\n".join(lines)


HTML_STYLE = (
    "<style>.tg-parity td,.tg-parity th{padding:2px 8px;text-align:right;font-family:monospace}"
    ".tg-parity caption{text-align:left;white-space:pre-line}"
    ".tg-parity td.tg-text{text-align:left}.tg-parity .tg-bad{background:#fdd;color:#a00}"
    ".tg-parity .tg-culprit{font-weight:bold;outline:2px solid #d00}.tg-parity .tg-side{background:#f4f8ff}"
    "</style>"
)


def marked(rows: Sequence[Sequence[str]], oks: Sequence[bool]) -> list[list[tuple[str, str]]]:
    """Cells for `html_table`, every cell of a row that is not ok marked as a mismatch."""
    return [[(cell, "" if ok else "tg-bad") for cell in row] for row, ok in zip(rows, oks)]


def html_table(
    headers: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]], caption: str, side: Sequence[int] = ()
) -> str:
    """An HTML table; each cell is ``(text, css class)``; columns in ``side`` are tinted (torch's)."""
    side_class = ' class="tg-side"'
    head = "".join(
        f"<th{side_class if k in side else ''}>{html.escape(h)}</th>" for k, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for k, (text, css) in enumerate(row):
            classes = " ".join(c for c in (css, "tg-side" if k in side else "") if c)
            attr = f' class="{classes}"' if classes else ""
            cells.append(f"<td{attr}>{html.escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'{HTML_STYLE}<table class="tg-parity"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


class CheckTable:
    """A summary over a table of checks, one row each with an ok/MISMATCH verdict: what the
    function and training reports share. Subclasses give ``HEADERS`` (torch's numbers in
    column 3), ``summary``, ``_rows()`` and ``_row_oks()``."""

    HEADERS: tuple[str, ...] = ()
    summary: str

    def _rows(self) -> list[list[str]]:
        raise NotImplementedError

    def _row_oks(self) -> list[bool]:
        raise NotImplementedError

    def table(self) -> str:
        return text_table(self.HEADERS, self._rows())

    def __str__(self) -> str:
        return f"{self.summary}\n\n{self.table()}"

    def failure_message(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return html_table(self.HEADERS, marked(self._rows(), self._row_oks()), self.summary, side=(3,))


def require(report: Any) -> Any:
    """Return ``report`` if it is ok; otherwise raise AssertionError with its failure message."""
    if not report.ok:
        raise AssertionError(report.failure_message())
    return report


def ulps_text(ulps: float | None, engine: float | None = None, expected: float | None = None, *,
              unit: bool = False) -> str:
    """A ULP distance as every report writes it (``3``, ``4.2e+07``, ``inf``; with ``unit``, ``3 ULP``).

    Between two numbers of opposite signs the count runs through every float on the way to
    zero and back (``9.2e+18`` for 1 and -1), which says nothing: given the two numbers, it
    reads ``sign differs`` instead.
    """
    if ulps is None or (isinstance(ulps, float) and math.isnan(ulps)):
        return ""
    if ulps and _opposite(engine, expected):
        return "sign differs"
    text = "inf" if math.isinf(ulps) else f"{ulps:.0f}" if ulps < 1e6 else f"{ulps:.2g}"
    return f"{text} ULP" if unit else text


def _opposite(a: float | None, b: float | None) -> bool:
    """Two numbers whose signs differ (a zero counts with its sign); False without both, or for a nan."""
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return False
    return math.copysign(1.0, a) != math.copysign(1.0, b)
