"""Graphviz drawings of a computation graph, in the seed notebook's look.

Left to right, a record ``label | data | grad`` per value and a small node per operation,
with one edge per use (``a + a`` shows two). Node names are positions in topological
order, so the DOT text of a graph is the same on every run. Given a parity report, each
value also shows its twin's numbers (torch's, or twingrad's op table's), and what
disagrees is coloured: red where a divergence starts, orange where it is only inherited.
A graph that `nudge` moved says that its gradients are from before the nudge.

graphviz is imported when a drawing is made, never by ``import twingrad``.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .engine import gradients_predate_nudge
from .files import write_atomic
from .graph import Graph, trace
from .parity.rendering import number_text

if TYPE_CHECKING:
    import graphviz

CULPRIT_COLOR = "red"  # where a divergence starts, and the op the report suspects
INHERITED_COLOR = "darkorange"  # a node that only carries a divergence from elsewhere
CULPRIT_FILL = "#ffe4e4"
FORMATS = ("svg", "png", "pdf")
DECIMALS = 4


class Comparison(Protocol):
    """A parity report as the drawing reads it.

    ``rows[i]`` describes node ``i`` of the trace with ``torch_data`` and ``torch_grad``
    (None where torch has no such number) and the verdicts ``data_ok`` and ``grad_ok``;
    ``culprits()`` names the positions where a divergence starts. A report may also
    offer ``suspect_ops()`` (the positions whose op node to blame: for a gradient that
    goes wrong, the op it flows back from, not the one that made the value), ``names``
    (what its text calls each node, shown for nodes without a label) and ``note`` (a
    line the drawing carries, such as "grad: from before the nudge") and ``reference``
    (whose numbers ``torch_data`` and ``torch_grad`` are: "torch", or "twingrad" for the
    op table's replay; "torch" when absent).
    """

    rows: Sequence[Any]

    def culprits(self) -> set[int]: ...


def _escape(text: str) -> str:
    # Characters that structure a graphviz record label.
    for ch in "\\{}|<>\"":
        text = text.replace(ch, "\\" + ch)
    return text


def _number(x: Any) -> str:
    """A number as a drawing shows it: four decimals (the seed notebook's look)."""
    return number_text(x, places=DECIMALS)


def _pair(ours: Any, theirs: Any, agree: bool) -> tuple[str, str]:
    """Both numbers at 4 decimals -- or in full where they disagree but 4 decimals hide it."""
    a, b = _number(ours), _number(theirs)
    if a == b and not agree:
        a, b = repr(ours), repr(theirs)
    return a, b


def _record_label(node: Any) -> str:
    label = _escape(str(getattr(node, "label", "") or ""))
    data = f"data {_escape(_number(node.data))}"
    grad = f"grad {_escape(_number(getattr(node, 'grad', 0.0)))}"
    return f"{{ {label} | {data} | {grad} }}"


def _compared_label(node: Any, row: Any, name: str, colour: str, culprit: bool, reference: str) -> str:
    """The record's three cells as an HTML-like table, so that only the quantity that
    differs from the ``reference`` twin (torch, or twingrad's op table) is coloured; the
    culprit's table is thick and tinted."""
    label = str(getattr(node, "label", "") or "") or name
    cells = [(html.escape(label), True)]
    for quantity, ours, theirs, ok in (
        ("data", node.data, row.torch_data, row.data_ok),
        ("grad", getattr(node, "grad", 0.0), row.torch_grad, row.grad_ok),
    ):
        if theirs is None:
            cells.append((f"{quantity} {html.escape(_number(ours))}", True))
            continue
        a, b = _pair(ours, theirs, ok)
        cells.append((f"{quantity} {html.escape(a)} ({reference} {html.escape(b)})", ok))
    tds = "".join(
        f"<td>{text}</td>" if ok else f'<td><font color="{colour}">{"<b>" if culprit else ""}{text}'
        f'{"</b>" if culprit else ""}</font></td>'
        for text, ok in cells
    )
    table = f'border="{2 if culprit else 0}" cellborder="1" cellspacing="0" cellpadding="4"'
    if colour:
        table += f' color="{colour}"'
    if culprit:
        table += f' bgcolor="{CULPRIT_FILL}"'
    return f"<<table {table}><tr>{tds}</tr></table>>"


def _op_text(node: Any) -> str:
    return _escape(str(getattr(node, "_op", "") or ""))


def draw_dot(
    root: Any,
    *,
    report: Comparison | None = None,
    rankdir: str = "LR",
    graph: Graph | None = None,
    positions: Iterable[int] | None = None,
) -> graphviz.Digraph:
    """The graph under ``root`` as a `graphviz.Digraph` (displays inline in Jupyter).

    ``report`` (a parity report of this graph) adds its twin's values to each record and
    colours what disagrees: the quantity (data or grad) that differs, in red at a node
    where a divergence starts (thick, tinted border) and in orange where a node only
    inherits one; the op the report suspects is drawn thick and red. ``positions``
    draws only those nodes of the trace (an excerpt of a large graph), with the
    report's marks and the edges between them. Works for any micrograd-style node:
    ``data``, ``grad``, ``label``, ``_op``, ``_prev``.
    """
    import graphviz

    g = graph if graph is not None else trace(root)
    rows = report.rows if report is not None else None
    if rows is not None and len(rows) != len(g.nodes):
        raise ValueError(f"report has {len(rows)} rows but the graph has {len(g.nodes)} nodes")
    culprits = report.culprits() if report is not None else set()
    suspects = getattr(report, "suspect_ops", culprits.copy)() if report is not None else set()
    names = getattr(report, "names", None)
    shown = sorted(set(positions)) if positions is not None else range(len(g.nodes))
    kept = set(shown)

    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": rankdir})
    note = getattr(report, "note", "") or _nudge_note(g.root)
    if note:
        dot.attr(label=note, labelloc="t", labeljust="l")
    for i in shown:
        node = g.nodes[i]
        name = f"n{i}"
        row = rows[i] if rows is not None else None
        attrs: dict[str, str] = {}
        constant = getattr(node, "is_constant", False)
        if constant:
            dot.node(name, label=f"{{ const | data {_escape(_number(node.data))} }}", shape="record",
                     style="dashed")
        elif row is None:
            dot.node(name, label=_record_label(node), shape="record")
        else:
            culprit = i in culprits
            colour = "" if row.data_ok and row.grad_ok else CULPRIT_COLOR if culprit else INHERITED_COLOR
            label = names[i] if names is not None else f"n{i}"
            cells = _compared_label(node, row, label, colour, culprit, getattr(report, "reference", "torch"))
            dot.node(name, label=cells, shape="none", margin="0")
        if g.inputs[i]:
            if i in suspects:
                attrs = {"color": CULPRIT_COLOR, "fontcolor": CULPRIT_COLOR, "penwidth": "3"}
            dot.node(name + "_op", label=_op_text(node), **attrs)
            dot.edge(name + "_op", name)
            for j in g.inputs[i]:
                if j in kept:
                    dot.edge(f"n{j}", name + "_op")
    return dot


def draw_backward(
    output: Any, inputs: Any, *, rankdir: str = "LR", names: Sequence[str] | None = None
) -> graphviz.Digraph:
    """The backward pass as a graph, drawn beside the forward graph it differentiates.

    ``twingrad.grad(output, inputs, create_graph=True)`` builds the gradients from the op
    table's rules; this draws them: the forward graph in a grey box, and for each forward
    op a box of the backward nodes its step made (its derivative rule, and the additions
    of its shares into its inputs' gradients), titled with that op. Edges into a box from
    the forward graph are the values the rule reads (tanh's reads its output, ``a * b``'s
    its inputs). Each gradient is labelled ``∂output/∂input``; ``names`` overrides the
    names used there (default: labels, else ``x0``, ``x1``, ...).
    """
    import graphviz

    from .engine import Value, backward_graph

    if not isinstance(output, Value):
        raise TypeError(f"draw_backward: output must be a twingrad Value, not {type(output).__name__}")
    wanted = [inputs] if isinstance(inputs, Value) else list(inputs)
    gradients, origins = backward_graph(output, wanted)
    top = output.label or "f"
    if names is None:
        names = [x.label or f"x{k}" for k, x in enumerate(wanted)]
    elif len(names) != len(wanted):
        raise ValueError(f"draw_backward: {len(names)} names for {len(wanted)} inputs")
    titles = {id(g): f"∂{top}/∂{name}" for g, name in zip(gradients, names)}

    # Every node once, in topological order over the output and then each gradient: the
    # names n0, n1 ... are the same on every run.
    order: list[Any] = []
    position: dict[int, int] = {}
    for root in (output, *gradients):
        g = trace(root)
        for node in g.nodes:
            if id(node) not in position:
                position[id(node)] = len(order)
                order.append(node)

    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": rankdir, "compound": "true"})
    boxes: dict[int, list[int]] = {}  # forward node -> the backward nodes its step made
    for i, node in enumerate(order):
        origin = origins.get(node)
        key = -1 if origin is None else position[id(origin)]
        boxes.setdefault(key, []).append(i)
    for key in sorted(boxes):
        if key == -1:
            box_name, title, style = "cluster_forward", f"forward: {top}", "filled"
        else:
            origin = order[key]
            what = str(origin._op) if origin._op else "seed"
            label = origin.label or f"n{key}"
            box_name, title, style = f"cluster_back_n{key}", f"backward of {label} ({what})", "dashed"
        with dot.subgraph(name=box_name) as box:
            box.attr(label=title, style=style, color="grey", fillcolor="#f4f4f4")
            for i in boxes[key]:
                _draw_value(box, order[i], f"n{i}", titles.get(id(order[i])), key == -1)
    for i, node in enumerate(order):
        for child in node._prev:
            dot.edge(f"n{position[id(child)]}", f"n{i}_op")
    return dot


def _draw_value(dot: Any, node: Any, name: str, title: str | None, forward: bool) -> None:
    """One value (a record, and its op node): as `draw_dot` draws it in the forward graph;
    ``title | data`` in the backward pass, whose nodes have no gradient of their own."""
    data = f"data {_escape(_number(node.data))}"
    if getattr(node, "is_constant", False):
        dot.node(name, label=f"{{ const | {data} }}", shape="record", style="dashed")
    elif forward:
        dot.node(name, label=_record_label(node), shape="record")
    elif title is not None:
        dot.node(name, label=f"{{ {_escape(title)} | {data} }}", shape="record", penwidth="2")
    else:
        dot.node(name, label=f"{{ {data} }}", shape="record")
    if node._prev:
        dot.node(name + "_op", label=_op_text(node))
        dot.edge(name + "_op", name)


def _nudge_note(root: Any) -> str:
    """What a drawing of a nudged graph must say: its gradients predate the nudge."""
    if gradients_predate_nudge(root):
        return "after nudge(): data recomputed, grad still from the backward() before it"
    return ""


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
