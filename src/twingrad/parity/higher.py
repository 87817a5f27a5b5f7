"""Higher-order gradients proved against torch's double backward: `compare_higher`.

``twingrad.grad(y, x, create_graph=True)`` builds the backward pass as a graph of the op
table's ops, so a gradient is a graph like any other, and there are two ways to check it:

* ``compare(g)`` on a gradient ``g``: node by node, the graph replayed in torch -- every
  node of the backward pass (and the forward nodes it reads), its value and its gradient.
  That proves the graph was built and differentiated right, op by op.
* `compare_higher`: the derivatives themselves against torch's *own* double backward,
  ``torch.autograd.grad(..., create_graph=True)`` on the forward graph's torch twin --
  torch's derivative formulas, differentiated by torch. Every entry of the second (a
  Hessian), third or higher derivative with respect to the given leaves, or a
  Hessian-vector product. The third voice is numeric: central differences, along one
  leaf, of the derivative one order lower (the engine's, itself proven one order lower;
  at order 2 that is the first-order gradient, `backward()`'s numbers).

>>> from twingrad import Value
>>> x = Value(0.5, label="x"); y = Value(-1.5, label="y")
>>> report = compare_higher((x * y).tanh(), [x, y])
>>> report.ok, [round(v, 6) for v in report.ours]
(True, [1.705144, 0.028205, 0.028205, 0.18946])
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..engine import Value, grad, topological_order
from .mirror import F64
from .numeric import Witness, slope_witness
from .plan import CONSTANT, LEAF, make_plan, read_numbers
from .rendering import CheckTable, number_text, require
from .tolerances import Tolerance, difference
from .twin import gc_paused

WITNESS_MODES = ("auto", "all", "none")
# A gap of 64 ULP of the largest number a derivative was computed from is rounding: each
# order adds a few operations per node, and differently ordered sums round differently.
ROUNDING = 64 * sys.float_info.epsilon
SUPERSCRIPTS = {2: "²", 3: "³"}
TITLE_NAMES = 6  # a title lists the inputs up to this many, and counts them beyond


# -- the engine's side ------------------------------------------------------------------------


def derivatives(output: Value, inputs: Sequence[Value], order: int) -> dict[tuple[int, ...], float]:
    """Every entry of the ``order``-th derivative of ``output`` by ``inputs``, by the engine.

    The key lists the inputs differentiated by, first to last: ``(0, 2)`` is
    d/d(inputs[2]) of d(output)/d(inputs[0]). Every order but the last is built as a graph
    (``create_graph=True``); the last is taken in plain numbers. Both orders of a mixed
    partial are computed, along different graphs.
    """
    return _last_order(_graphs_below(output, inputs, order), inputs)


def _graphs_below(output: Value, inputs: Sequence[Value], order: int) -> dict[tuple[int, ...], Value]:
    """The derivatives one order below ``order``, as graphs (order 1: ``output`` itself)."""
    level: dict[tuple[int, ...], Value] = {(): output}
    for _ in range(order - 1):
        level = {
            (*index, j): g
            for index, node in level.items()
            for j, g in enumerate(grad(node, list(inputs), create_graph=True))
        }
    return level


def _last_order(below: dict[tuple[int, ...], Value], inputs: Sequence[Value]) -> dict[tuple[int, ...], float]:
    return {(*index, j): g for index, node in below.items() for j, g in enumerate(grad(node, list(inputs)))}


def _directional(output: Value, inputs: Sequence[Value], vector: Sequence[float]) -> Value:
    """``v · ∇output`` as a graph: the function whose gradient is ``H v``."""
    first = grad(output, list(inputs), create_graph=True)
    directional = first[0] * vector[0]
    for g, v in zip(first[1:], vector[1:]):
        directional = directional + g * v
    return directional


def hessian_vector(output: Value, inputs: Sequence[Value], vector: Sequence[float]) -> list[float]:
    """``H v``: the gradient of ``v · ∇output``, by the engine (no Hessian is formed)."""
    return grad(_directional(output, inputs, vector), list(inputs))


def _size(graph: Value) -> float:
    """The largest finite number in ``graph``: what one rounding in computing from it is
    relative to, when terms of that size cancel to a small result."""
    return max((abs(n.data) for n in topological_order(graph) if math.isfinite(n.data)), default=0.0)


# -- torch's side -----------------------------------------------------------------------------


class _TorchTwin:
    """The forward graph as 0-d float64 tensors, one per node, differentiated by torch's
    own double backward.

    Not the layered `Mirror` of first-order parity: there the nodes of a layer share one
    tensor, and differentiating a gradient again multiplies the zero that reaches a
    node's neighbour by that node's partial derivative -- 0 · inf = nan where a scalar
    graph has no path at all.
    """

    def __init__(self, output: Value, inputs: Sequence[Value]) -> None:
        plan = make_plan(output)
        data = read_numbers(plan.nodes, "data")
        n = len(plan)
        tensors: list[torch.Tensor] = []
        for i, step in enumerate(plan.steps):
            if step is LEAF or step is CONSTANT:
                tensors.append(torch.tensor(data[i], dtype=F64, requires_grad=step is LEAF))
            else:
                operands = [tensors[j] if j < n else torch.tensor(plan.literal(j), dtype=F64)
                            for j in plan.operands[i]]
                tensors.append(step.torch(*operands))  # type: ignore[union-attr]
        self.root = tensors[-1]
        self.wrt = [tensors[plan.graph.position(x)] for x in inputs]

    def _grad(self, t: torch.Tensor, keep_graph: bool) -> list[torch.Tensor]:
        """d t / d(each input); zero where t depends on none of them (torch would raise)."""
        zero = torch.zeros((), dtype=F64)
        if not t.requires_grad:
            return [zero for _ in self.wrt]
        found = torch.autograd.grad(
            t, self.wrt, create_graph=keep_graph, retain_graph=True, allow_unused=True
        )
        return [zero if g is None else g for g in found]

    def derivatives(self, order: int) -> dict[tuple[int, ...], float]:
        level: dict[tuple[int, ...], torch.Tensor] = {(): self.root}
        for depth in range(order):
            keep = depth < order - 1
            level = {
                (*index, j): g for index, t in level.items() for j, g in enumerate(self._grad(t, keep))
            }
        return {index: float(t) for index, t in level.items()}

    def hessian_vector(self, vector: Sequence[float]) -> list[float]:
        first = self._grad(self.root, True)
        directional = sum(g * v for g, v in zip(first, vector))
        if not isinstance(directional, torch.Tensor):
            return [0.0 for _ in self.wrt]
        return [float(t) for t in self._grad(directional, False)]


# -- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One higher-order derivative: the engine's number, torch's, and the numeric witness.

    ``close``: within the tolerance. An entry beyond it is still ``ok`` where two correct
    formulas rounded differently: terms of the size of the numbers in the engine's graph
    cancelled (``d²(u/u)`` is 0 here and 6e-16 in torch: ``rounding``), or the numeric
    estimate supports the engine's number (or cannot tell the two apart).
    """

    name: str
    index: tuple[int, ...]  # the inputs differentiated by (for H v: the one component)
    ours: float
    torch: float
    close: bool
    witness: Witness | None = None

    size: float = 0.0  # the largest number the engine's last graph holds (see `_size`)

    @property
    def rounding(self) -> bool:
        """Apart by no more than rounding the numbers of that size, cancelling, explains."""
        gap = abs(self.ours - self.torch)
        return not self.close and gap <= ROUNDING * self.size

    @property
    def ok(self) -> bool:
        supported = self.witness is not None and self.witness.verdict in ("both", "engine")
        return self.close or self.rounding or supported

    @property
    def verdict(self) -> str:
        return "ok" if self.close else "ok (rounding)" if self.ok else "MISMATCH"


@dataclass(repr=False)
class HigherReport(CheckTable):
    """Every entry of a higher-order derivative, engine against torch's double backward.

    ``ours`` and ``theirs`` list the numbers in entry order; for a Hessian,
    ``matrix()`` gives them as rows.
    """

    title: str
    inputs: list[str]
    order: int
    entries: list[Entry]
    tolerance: Tolerance
    vector: list[float] | None = None
    notes: list[str] = field(default_factory=list)

    HEADERS = ("derivative", "engine", "torch", "abs", "rel", "ULP", "numeric", "ok")

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    @property
    def ours(self) -> list[float]:
        return [e.ours for e in self.entries]

    @property
    def theirs(self) -> list[float]:
        return [e.torch for e in self.entries]

    def mismatches(self) -> list[Entry]:
        return [e for e in self.entries if not e.ok]

    def matrix(self, side: str = "engine") -> list[list[float]]:
        """A second derivative as rows (``side``: ``"engine"`` or ``"torch"``)."""
        if self.order != 2 or self.vector is not None:
            raise ValueError(f"matrix() is for a Hessian; this report is {self.title}")
        if side not in ("engine", "torch"):
            raise ValueError(f"side must be 'engine' or 'torch', not {side!r}")
        numbers = self.ours if side == "engine" else self.theirs
        n = len(self.inputs)
        return [numbers[i * n : (i + 1) * n] for i in range(n)]

    @property
    def summary(self) -> str:
        bad = self.mismatches()
        verdict = "agree" if not bad else f"{len(bad)} of {len(self.entries)} disagree"
        rounded = sum(1 for e in self.entries if e.ok and not e.close)
        if rounded:
            verdict += f" ({rounded} apart only by rounding)"
        return (
            f"{self.title}: {len(self.entries)} entries, engine and torch's double backward {verdict} "
            f"({self.tolerance.describe()})"
        )

    def _rows(self) -> list[list[str]]:
        rows = []
        for e in self.entries:
            absolute, relative, ulps = difference(e.ours, e.torch)
            numeric = "" if e.witness is None else _witness_text(e.witness)
            rows.append([
                e.name, number_text(e.ours), number_text(e.torch), f"{absolute:.3g}", f"{relative:.3g}",
                f"{ulps:.3g}", numeric, e.verdict,
            ])
        return rows

    def _row_oks(self) -> list[bool]:
        return [e.ok for e in self.entries]

    def __str__(self) -> str:
        return "\n".join([super().__str__(), *self.notes])


def _witness_text(w: Witness) -> str:
    if w.verdict in ("kink", "undefined"):
        return w.verdict
    return f"{number_text(w.estimate)} ({w.side})"


# -- compare_higher ---------------------------------------------------------------------------


def compare_higher(
    output: Value,
    inputs: Sequence[Value],
    order: int = 2,
    *,
    vector: Sequence[float] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    witness: str = "auto",
) -> HigherReport:
    """The ``order``-th derivative of ``output`` by the leaves ``inputs``, against torch.

    Every entry of the derivative tensor (``len(inputs) ** order`` numbers: both orders
    of a mixed partial, so symmetry is checked too) is computed by the engine, through
    ``twingrad.grad(create_graph=True)``, and by torch's double backward on the graph's
    torch twin. ``vector`` (order 2 only) asks for the Hessian-vector product ``H v``
    instead, one entry per input, without forming H on either side.

    ``witness`` picks the entries that get a numeric estimate: ``"auto"`` (those where
    engine and torch disagree beyond the tolerance), ``"all"`` or ``"none"``. Such an
    entry is a mismatch unless the estimate supports the engine's number (see `Entry`).
    The estimate moves one leaf's ``data`` and puts it back; the graph is left as it
    was found.
    """
    nodes = _checked_inputs(output, inputs)
    if isinstance(order, bool) or not isinstance(order, int) or order < 2:
        raise ValueError(f"order must be an int of at least 2 (order 1 is `compare`), not {order!r}")
    if witness not in WITNESS_MODES:
        raise ValueError(f"witness must be one of {', '.join(WITNESS_MODES)}, not {witness!r}")
    tolerance = Tolerance.of(rtol, atol)
    names = [x.label or f"x{k}" for k, x in enumerate(nodes)]
    listed = ", ".join(names) if len(names) <= TITLE_NAMES else f"{len(names)} inputs"
    top = output.label or "f"
    v = None if vector is None else _checked_vector(vector, len(nodes), order)
    with gc_paused():
        twin = _TorchTwin(output, nodes)
        if v is not None:
            directional = _directional(output, nodes, v)
            ours = dict(enumerate(grad(directional, nodes)))
            size = dict.fromkeys(ours, _size(directional))
            theirs = dict(enumerate(twin.hessian_vector(v)))
            title = f"Hessian-vector product of {top} by ({listed})"
            label = {j: f"(H v)[{names[j]}]" for j in ours}
            along = _directional_probe(output, nodes, v)
        else:
            below = _graphs_below(output, nodes, order)
            ours = _last_order(below, nodes)
            sizes = {index: _size(graph) for index, graph in below.items()}
            size = {index: sizes[index[:-1]] for index in ours}
            theirs = twin.derivatives(order)
            title = f"order-{order} derivatives of {top} by ({listed})"
            label = {index: _derivative_name(top, [names[k] for k in index]) for index in ours}
            along = _derivative_probe(output, nodes, order - 1)
    entries = []
    for key, mine in ours.items():
        index = key if isinstance(key, tuple) else (key,)
        close = tolerance.close(mine, theirs[key])
        entry = Entry(label[key], index, mine, theirs[key], close, size=size[key])
        w = None
        if witness == "all" or (witness == "auto" and not entry.ok):
            w = _estimate(output, nodes, along, index, mine, theirs[key])
        entries.append(dataclasses.replace(entry, witness=w))
    notes = [] if witness == "none" else [_WITNESS_NOTE]
    return HigherReport(title, names, order, entries, tolerance, v, notes)


def assert_higher(output: Value, inputs: Sequence[Value], order: int = 2, **options: Any) -> HigherReport:
    """`compare_higher`, raising AssertionError with the table unless every entry agrees."""
    return require(compare_higher(output, inputs, order, **options))


_WITNESS_NOTE = (
    "numeric: central differences, along the last input named, of the engine's derivative one "
    "order lower (whom it supports in brackets)"
)


def _derivative_name(top: str, names: Sequence[str]) -> str:
    k = len(names)
    power = SUPERSCRIPTS.get(k, f"^{k}")
    return f"∂{power}{top}/" + "".join(f"∂{n}" for n in names)


def _checked_inputs(output: Any, inputs: Any) -> list[Value]:
    if not isinstance(output, Value):
        raise TypeError(f"compare_higher: output must be a twingrad Value, not {type(output).__name__}")
    nodes = [inputs] if isinstance(inputs, Value) else list(inputs)
    if not nodes:
        raise ValueError("compare_higher: name at least one input to differentiate by")
    in_graph = make_plan(output).graph
    for k, x in enumerate(nodes):
        if not isinstance(x, Value):
            raise TypeError(f"compare_higher: input {k} must be a Value, not {type(x).__name__}")
        if not x.is_leaf or x.is_constant:
            raise ValueError(f"compare_higher: input {k} ({x!r}) is not a user leaf; differentiate by leaves")
        try:
            in_graph.position(x)
        except KeyError:
            raise ValueError(f"compare_higher: input {k} ({x!r}) is not part of the output's graph") from None
    return nodes


def _checked_vector(vector: Sequence[float], n: int, order: int) -> list[float]:
    if order != 2:
        raise ValueError(f"a Hessian-vector product is a second derivative: give order=2, not {order}")
    v = [float(x) for x in vector]
    if len(v) != n:
        raise ValueError(f"vector has {len(v)} numbers but there are {n} inputs")
    return v


# -- the numeric witness ------------------------------------------------------------------------

Probe = Callable[[], dict[Any, float]]


def _derivative_probe(output: Value, inputs: Sequence[Value], order: int) -> Probe:
    """The engine's derivatives one order lower, at the leaves' current data."""
    if order == 1:
        return lambda: {(j,): g for j, g in enumerate(grad(output, list(inputs)))}
    return lambda: derivatives(output, inputs, order)


def _directional_probe(output: Value, inputs: Sequence[Value], vector: Sequence[float]) -> Probe:
    """``v · ∇output`` at the leaves' current data: the function whose gradient is ``H v``."""
    return lambda: {(): math.fsum(g * v for g, v in zip(grad(output, list(inputs)), vector))}


def _estimate(
    output: Value, inputs: Sequence[Value], probe: Probe, index: tuple[int, ...], ours: float, theirs: float
) -> Witness:
    """Central differences along ``inputs[index[-1]]`` of the probe's entry ``index[:-1]``."""
    leaf = inputs[index[-1]]
    key = index[:-1]  # the entry of the lower-order derivative that this one differentiates
    start = leaf.data

    def f(t: float) -> float:
        leaf.data = t
        output.recompute()
        return probe()[key]

    try:
        return slope_witness(f, start, index[-1], ours, theirs)
    finally:
        leaf.data = start
        output.recompute()


__all__ = [
    "Entry",
    "HigherReport",
    "assert_higher",
    "compare_higher",
    "derivatives",
    "hessian_vector",
]
