"""The op table's twin of a planned graph: `Mirror`'s replay in plain Python floats.

The same interface as `twingrad.parity.mirror` (see `twingrad.parity.twin`), computed
with each op's ``forward`` and ``grad`` instead of torch: values in topological order,
then gradients accumulated from the root back, each node's uses added in the order the
plan lists them. No torch, no vectorisation: meant for the graphs a check explains
(hundreds of nodes), where a Python loop costs milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..ops import Op
from .numeric import evaluate
from .plan import Plan, Resolver, make_plan, read_numbers


def _pair(grads: float | tuple[float, ...]) -> tuple[float, ...]:
    return grads if isinstance(grads, tuple) else (grads,)


class Mirror:
    """The op table's replay of a `Plan`: `run`, then `values` and `gradients`.

    >>> from twingrad.examples import seed_graph
    >>> m = Mirror.of(seed_graph()["L"]); m.run(); float(m.values()[-1]), float(m.gradients()[0])
    (-8.0, 6.0)
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._values: list[float] = []

    @classmethod
    def of(cls, root: object, resolver: Resolver | None = None) -> Mirror:
        return cls(make_plan(root, resolver))

    def run(self, data: Sequence[float] | np.ndarray | None = None, *, grad: bool = True) -> None:
        """Every node's value from the leaves and constants in ``data`` (None: the engine's own)."""
        if data is None:
            data = read_numbers(self.plan.nodes, "data")
        self._values = evaluate(self.plan, [float(x) for x in data])

    def values(self) -> np.ndarray:
        return np.array(self._values, dtype=np.float64)

    def gradients(self) -> np.ndarray:
        """d root / d node for every node that depends on a leaf; nan elsewhere (constants)."""
        plan = self.plan
        n = len(plan)
        if not plan.differentiable[-1]:
            return np.full(n, np.nan)
        values = plan.with_literals(self._values)
        grads = [0.0] * n
        grads[-1] = 1.0
        for i in range(n - 1, -1, -1):
            op = plan.steps[i]
            if not isinstance(op, Op) or not plan.differentiable[i]:
                continue
            operands = plan.operands[i]
            shares = _pair(op.grad(grads[i], values[i], *(values[j] for j in operands)))
            for j, share in zip(operands, shares):
                if j < n and plan.differentiable[j]:
                    grads[j] += share
        return np.array([g if d else math.nan for g, d in zip(grads, plan.differentiable)], dtype=np.float64)


def apply_op(op: Op, args: Sequence[np.ndarray]) -> np.ndarray:
    """The table's ``op`` on columns of float64 operands, element by element."""
    return np.array([op.forward(*map(float, row)) for row in zip(*args)], dtype=np.float64)


def op_vjp(op: Op, args: Sequence[np.ndarray], out: np.ndarray, upstream: np.ndarray) -> list[np.ndarray]:
    """The table's gradient for each operand slot of ``op`` at the engine's own numbers
    (``out`` is the engine's result, as `twingrad.parity.mirror.op_vjp` takes it)."""
    shape = np.shape(out)  # columns in, columns out; scalars in, 0-d arrays out
    columns = [np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (*args, out, upstream)]
    *operands, results, seeds = columns
    rows = [
        _pair(op.grad(float(seeds[k]), float(results[k]), *(float(c[k]) for c in operands)))
        for k in range(len(results))
    ]
    return [np.array([row[slot] for row in rows]).reshape(shape) for slot in range(op.arity)]
