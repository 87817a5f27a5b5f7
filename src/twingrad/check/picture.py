"""The drawing of a failing case: the engine's graph, the expected numbers beside its own, culprit in red.

Graphviz lays out a few dozen nodes in a blink, but the catalogue's networks have
hundreds and a long chain takes it minutes -- and a picture that size shows nothing
anyway. Beyond `WHOLE_GRAPH` nodes only the neighbourhood of the first divergence is
drawn (`ParityReport.around`), marked exactly as the whole drawing would be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..parity import ParityReport

WHOLE_GRAPH = 60  # nodes drawn in full; larger graphs are drawn around the culprit
EXCERPT = 40  # about how many nodes such an excerpt keeps


def svg(report: ParityReport) -> tuple[str | None, str]:
    """SVG text of the failing graph and a note for the verdict ('' or why it is partial/missing)."""
    import graphviz

    size = len(report.plan)
    if size <= WHOLE_GRAPH:
        dot, note = report.draw(), ""
    else:
        keep = report.around(size=EXCERPT)
        dot = report.draw(positions=keep)
        note = f" (drawn: the {len(keep)} of {size} nodes nearest the culprit)"
    try:
        return dot.pipe(format="svg").decode(), note
    except graphviz.ExecutableNotFound:
        return None, " (no drawing: graphviz's dot program is not installed)"
