"""Hypothesis strategies: random graphs built from the op table.

`graphs()` draws a few leaves, then a sequence of ops of the table, each applied with
the engine's own operators and methods to earlier nodes. It generates on purpose what
broke early autograd engines: a node used twice by one op (``x * x``), reuse far apart
(diamonds, fan-out), long chains, numbers on either side of an operator (``2.0 - x``,
``x ** 3.0``), and special values (zeros of both signs, infinities, nan, huge, tiny and
subnormal numbers, the overflow edges of exp). Every node nothing consumes is summed
into the root, so all of the drawn graph is checked.

A drawn `GraphCase` prints as runnable Python, so hypothesis' minimal failing example
is a reproducer to paste. Shrinking moves towards fewer, earlier ops, operands that are
the most recent node (a chain), and small ordinary numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ..engine import Value
from ..ops import OPS, Op
from .plan import make_plan, read_numbers
from .recipe import Recipe

SPECIAL_VALUES: tuple[float, ...] = (
    0.0, -0.0, 1.0, -1.0, 0.5, 2.0, math.inf, -math.inf, math.nan,
    1e300, -1e300, 1e-300, -1e-300, 5e-324, 709.7, 710.0, -745.2, 1e16,
)


def numbers() -> st.SearchStrategy[float]:
    """Ordinary numbers most of the time, the edges of float64 often enough to matter.

    Positive numbers are drawn more often: they keep log, sqrt and fractional powers
    in their domain, so that fewer graphs turn to nan early and more paths are checked.
    """
    ordinary = st.floats(-3.0, 3.0)
    positive = st.floats(0.05, 3.0)
    wide = st.floats(allow_nan=False, allow_infinity=False)
    return st.one_of(ordinary, positive, positive, st.sampled_from(SPECIAL_VALUES), wide)


def moderate_numbers() -> st.SearchStrategy[float]:
    """Ordinary numbers and the zeros of the kinks, without float64's far edges.

    For comparing derivatives computed by two different, correct formulas (ours and
    torch's double backward): near the overflow edge they overflow in different orders,
    one side gives inf and the other a finite number, and neither is wrong. The edges
    themselves are `numbers()`'s business, at first order and on gradient graphs.
    """
    ordinary = st.floats(-3.0, 3.0)
    positive = st.floats(0.05, 3.0)
    return st.one_of(ordinary, positive, positive, st.sampled_from((0.0, -0.0, 1.0, -1.0, 0.5, 2.0)))


class GraphCase:
    """A drawn graph: ``root`` is its output node; ``repr`` is Python that rebuilds it."""

    def __init__(self, root: Value) -> None:
        self.root = root
        plan = make_plan(root)
        self.source = Recipe(plan, read_numbers(plan.nodes, "data")).source()
        self.size = len(plan)

    def __repr__(self) -> str:
        return f"\n{self.source}"


def _apply(op: Op, a: Any, b: Any = None) -> Value:
    """``op`` through the engine's own operator or method, as a user would write it."""
    if op.arity == 1:
        return getattr(a, op.methods[0])()
    if isinstance(a, Value):
        return getattr(a, op.methods[0])(b)
    return getattr(b, op.methods[1])(a)  # a number on the left: the reflected operator


SHAPES = ("nodes", "same node", "number left", "number right")


@st.composite
def graphs(
    draw: st.DrawFn,
    ops: Sequence[Op] = OPS,
    max_leaves: int = 3,
    max_ops: int = 10,
    values: st.SearchStrategy[float] | None = None,
) -> GraphCase:
    """A random graph of at most ``max_leaves`` leaves and ``max_ops`` ops from ``ops``."""
    values = values if values is not None else numbers()
    pool: list[Value] = [Value(draw(values), label=f"x{k}") for k in range(draw(st.integers(1, max_leaves)))]
    used: set[int] = set()

    def pick() -> Value:
        # 0 is the newest node: shrinking turns any graph into a chain.
        node = pool[len(pool) - 1 - draw(st.integers(0, len(pool) - 1))]
        used.add(id(node))
        return node

    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(ops))
        if op.arity == 1:
            pool.append(_apply(op, pick()))
            continue
        shape = draw(st.sampled_from(SHAPES))
        if shape == "nodes":
            a, b = pick(), pick()
        elif shape == "same node":
            a = b = pick()
        elif shape == "number left":
            a, b = draw(values), pick()
        else:
            a, b = pick(), draw(values)
        pool.append(_apply(op, a, b))
    sinks = [node for node in pool if id(node) not in used]
    root = sinks[0]
    for node in sinks[1:]:
        root = root + node
    return GraphCase(root)
