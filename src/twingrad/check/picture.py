"""The drawing of a failing case: the engine's graph, torch's numbers beside its own, culprit in red.

Graphviz lays out a few dozen nodes in a blink, but the catalogue's networks have
hundreds and a long chain takes it minutes -- and a picture that size shows nothing
anyway. Beyond `WHOLE_GRAPH` nodes only the neighbourhood of the first divergence is
drawn: the nodes a few edges away from it, upstream and downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..examples import name as set_label
from ..graph import Graph

if TYPE_CHECKING:
    from ..parity import ParityReport

WHOLE_GRAPH = 60  # nodes drawn in full; larger graphs are drawn around the culprit
EXCERPT = 40  # about how many nodes such an excerpt keeps


@dataclass
class _Excerpt:
    """Part of a report, in the shape `twingrad.draw.draw_dot` reads (rows and culprits)."""

    rows: list[Any]
    marked: set[int]

    def culprits(self) -> set[int]:
        return self.marked


def neighbourhood(report: ParityReport, centre: int, size: int = EXCERPT) -> list[int]:
    """Positions within a few edges of ``centre`` (both ways), nearest first, about ``size`` of them."""
    graph = report.plan.graph
    users = graph.consumers()
    kept = {centre}
    ring = [centre]
    while ring and len(kept) < size:
        nxt = {j for i in ring for j in (*graph.inputs[i], *users[i])} - kept
        # Too many (a node used a hundred times)? Keep those numbered nearest the centre.
        ring = sorted(nxt, key=lambda j: abs(j - centre))[: size - len(kept)]
        kept.update(ring)
    return sorted(kept)


def svg(report: ParityReport) -> tuple[str | None, str]:
    """SVG text of the failing graph and a note for the verdict ('' or why it is partial/missing)."""
    import graphviz

    from ..draw import draw_dot

    graph = report.plan.graph
    for node, name in zip(graph.nodes, report.names):
        if not getattr(node, "label", ""):
            set_label(node, name)  # the names the verdict uses (n7 = n5 * w); our own throwaway graph
    note = ""
    if len(graph) <= WHOLE_GRAPH:
        dot = report.draw()
    else:
        centre = report.first_divergences()[0][0] if report.first_divergences() else len(graph) - 1
        keep = neighbourhood(report, centre)
        where = {position: k for k, position in enumerate(keep)}
        nodes = [graph.nodes[i] for i in keep]
        part = Graph(
            root=nodes[-1], nodes=nodes,
            inputs=[tuple(where[j] for j in graph.inputs[i] if j in where) for i in keep],
            _positions={id(node): k for k, node in enumerate(nodes)},
        )
        excerpt = _Excerpt([report.row(i) for i in keep], {where[i] for i in report.culprits() if i in where})
        dot = draw_dot(part.root, report=excerpt, graph=part)
        note = f" (drawn: the {len(keep)} of {len(graph)} nodes nearest the culprit)"
    try:
        return dot.pipe(format="svg").decode(), note
    except graphviz.ExecutableNotFound:
        return None, " (no drawing: graphviz's dot program is not installed)"
