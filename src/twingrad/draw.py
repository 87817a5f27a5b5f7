"""Graphviz drawings of a computation graph, in the seed notebook's look.

Left to right, a record ``label | data | grad`` per value and a small node per operation,
with one edge per use (``a + a`` shows two). Node names are positions in topological
order, so the DOT text of a graph is the same on every run. Given a parity report, each
value also shows torch's numbers, and the nodes that disagree are drawn in red.

graphviz is imported when a drawing is made, never by ``import twingrad``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .files import write_atomic
from .graph import Graph, trace

if TYPE_CHECKING:
    import graphviz

MISMATCH_COLOR = "red"
FORMATS = ("svg", "png", "pdf")


class Comparison(Protocol):
    """A parity report as the drawing reads it.

    ``rows[i]`` describes node ``i`` of the trace with ``torch_data`` and ``torch_grad``
    (None where torch has no such number) and the verdicts ``data_ok`` and ``grad_ok``;
    ``culprits()`` names the positions where a divergence starts. A report may also
    offer ``suspect_ops()``: the positions whose op node to blame (for a gradient that
    goes wrong, the op it flows back from, not the one that made the value).
    """

    rows: list[Any]

    def culprits(self) -> set[int]: ...


def _escape(text: str) -> str:
    # Characters that structure a graphviz record label.
    for ch in "\\{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


def _num(x: Any) -> str:
    try:
        return f"{x:.4f}"
    except TypeError:
        return _escape(repr(x))


def _pair(ours: Any, theirs: Any, agree: bool) -> tuple[str, str]:
    """Both numbers at 4 decimals -- or in full where they disagree but 4 decimals hide it."""
    a, b = _num(ours), _num(theirs)
    if a == b and not agree:
        a, b = _escape(repr(ours)), _escape(repr(theirs))
    return a, b


def _value_label(node: Any, row: Any | None) -> str:
    label = _escape(str(getattr(node, "label", "") or ""))
    data = f"data {_num(node.data)}"
    grad = f"grad {_num(getattr(node, 'grad', 0.0))}"
    if row is not None:
        if row.torch_data is not None:
            ours, theirs = _pair(node.data, row.torch_data, row.data_ok)
            data = f"data {ours} (torch {theirs})"
        if row.torch_grad is not None:
            ours, theirs = _pair(getattr(node, "grad", 0.0), row.torch_grad, row.grad_ok)
            grad = f"grad {ours} (torch {theirs})"
    return f"{{ {label} | {data} | {grad} }}"


def _op_text(node: Any) -> str:
    return _escape(str(getattr(node, "_op", "") or ""))


def draw_dot(
    root: Any,
    *,
    report: Comparison | None = None,
    rankdir: str = "LR",
    graph: Graph | None = None,
) -> graphviz.Digraph:
    """The graph under ``root`` as a `graphviz.Digraph` (displays inline in Jupyter).

    ``report`` (a parity report of this graph) adds torch's values to each record and
    colours the nodes that disagree red, the earliest divergence with a thick border.
    Works for any micrograd-style node: ``data``, ``grad``, ``label``, ``_op``, ``_prev``.
    """
    import graphviz

    g = graph if graph is not None else trace(root)
    rows = report.rows if report is not None else None
    if rows is not None and len(rows) != len(g.nodes):
        raise ValueError(f"report has {len(rows)} rows but the graph has {len(g.nodes)} nodes")
    culprits = report.culprits() if report is not None else set()
    suspects = getattr(report, "suspect_ops", culprits.copy)() if report is not None else set()

    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": rankdir})
    for i, node in enumerate(g.nodes):
        name = f"n{i}"
        row = rows[i] if rows is not None else None
        attrs: dict[str, str] = {}
        if row is not None and not (row.data_ok and row.grad_ok):
            attrs = {"color": MISMATCH_COLOR, "fontcolor": MISMATCH_COLOR}
            if i in culprits:
                attrs["penwidth"] = "3"
        if getattr(node, "is_constant", False):
            dot.node(name, label=f"{{ const | data {_num(node.data)} }}", shape="record",
                     style="dashed", **attrs)
        else:
            dot.node(name, label=_value_label(node, row), shape="record", **attrs)
        if g.inputs[i]:
            op_attrs = {k: v for k, v in attrs.items() if k != "penwidth"}
            if i in suspects:
                op_attrs = {"color": MISMATCH_COLOR, "fontcolor": MISMATCH_COLOR, "penwidth": "3"}
            dot.node(name + "_op", label=_op_text(node), **op_attrs)
            dot.edge(name + "_op", name)
            for j in g.inputs[i]:
                dot.edge(f"n{j}", name + "_op")
    return dot


def save_graph(root: Any, path: str | os.PathLike[str], **draw_options: Any) -> Path:
    """Draw ``root`` and write it to ``path`` (.svg, .png or .pdf); return the path.

    The file appears complete or not at all: it is written beside the target and
    renamed into place.
    """
    import graphviz

    target = Path(path)
    fmt = target.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the image format of {str(target)!r}: use a .svg, .png or .pdf name")
    dot = draw_dot(root, **draw_options)
    try:
        image = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise RuntimeError(
            "graphviz's `dot` program is not installed, so the graph cannot be rendered: "
            "install it with `apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz`"
        ) from None
    return write_atomic(target, image)
