"""The drawing of a failing case: the engine's graph, the expected numbers beside its own, culprit in red.

Graphviz lays out a few dozen nodes in a blink, but the catalogue's networks have
hundreds and a long chain takes it minutes -- and a picture that size shows nothing
anyway. Beyond `WHOLE_GRAPH` nodes only the neighbourhood of the first divergence is
drawn (`ParityReport.around`), marked exactly as the whole drawing would be.

Even a small graph drawn left to right is wide: the lecture's neuron is about 3000 pt,
shrunk to a third on a laptop's screen. So each drawing also carries a close-up
(`Picture.excerpt`): the `CLOSE_UP` nodes nearest the culprit, top to bottom, narrow
enough to read at its own size; the HTML report shows it first and the whole on request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .result import Drawing

if TYPE_CHECKING:
    from ..parity import ParityReport

WHOLE_GRAPH = 60  # nodes drawn in full; larger graphs are drawn around the culprit
EXCERPT = 40  # about how many nodes such an excerpt keeps
CLOSE_UP = 6  # the culprit, where its numbers come from and go: a screen's width, top to bottom


class Picture(Drawing):
    """The drawing (SVG text; Jupyter shows it), with ``excerpt``: the close-up around the
    culprit, or None when the drawing is no larger than a close-up would be."""

    excerpt: Drawing | None

    def __new__(cls, whole: str, excerpt: str | None = None) -> Picture:
        picture = super().__new__(cls, whole)
        picture.excerpt = Drawing(excerpt) if excerpt else None
        return picture


def svg(report: ParityReport) -> tuple[Picture | None, str]:
    """The failing graph and its close-up, and a note for the verdict ('' or why it is partial/missing)."""
    import graphviz

    size = len(report.plan)
    if size <= WHOLE_GRAPH:
        dot, note = report.draw(), ""
    else:
        keep = report.around(size=EXCERPT)
        dot = report.draw(positions=keep)
        note = f" (drawn: the {len(keep)} of {size} nodes nearest the culprit)"
    near = report.around(size=CLOSE_UP)
    close_up = report.draw(positions=near, rankdir="TB") if len(near) < size else None
    try:
        whole = dot.pipe(format="svg").decode()
        excerpt = close_up.pipe(format="svg").decode() if close_up is not None else None
    except graphviz.ExecutableNotFound:
        return None, " (no drawing: graphviz's dot program is not installed)"
    return Picture(whole, excerpt), note
