"""The torch twin of a planned graph: the same nodes replayed in float64 from the op table.

`twingrad.parity.plan` says what every node is (leaf, constant, or an op over
operands) and cuts the plan into layers (`Plan.layers`); `Mirror` runs each layer as one
call of its op's ``torch`` entry on columns of operands, and asks torch for the gradient
of the root with respect to every layer, hence every differentiable node. Values and
gradients are float64 throughout; vectorised kernels may round a transcendental op a
last bit differently from a 0-d tensor, far inside every tolerance.
`apply_op` and `op_vjp` are torch's op and derivative at the engine's own numbers, for
the local checks of `twingrad.parity.comparison`. This is the only module of the
parity core that needs torch at import time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..ops import Op
from .plan import (
    Gather,
    Plan,
    Resolver,
    make_plan,
    read_numbers,
)

F64 = torch.float64


# -- replay ----------------------------------------------------------------------------------


class Mirror:
    """The torch replay of a `Plan`, in float64, one tensor per layer of the plan.

    Nodes of the same depth made by the same op are computed by one call of that op on
    columns of their operands (`Plan.layers`): torch's own kernels and autograd, at a few
    thousand tensor ops for a graph of tens of thousands of nodes instead of one op and
    one autograd node per scalar. `values` and `gradients` read back one number per node.

    >>> from twingrad.examples import seed_graph
    >>> m = Mirror.of(seed_graph()["L"]); m.run(); float(m.root), float(m.gradients()[0])
    (-8.0, 6.0)
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.sources: list[torch.Tensor] = []  # leaves, constants, literals, then each layer

    @classmethod
    def of(cls, root: Any, resolver: Resolver | None = None) -> Mirror:
        return cls(make_plan(root, resolver))

    def tensor(self, node: Any) -> torch.Tensor:
        """The torch twin of an engine node (after `run`): its element of its layer's tensor."""
        return self._at(self.plan.graph.position(node))

    @property
    def root(self) -> torch.Tensor:
        return self._at(len(self.plan) - 1)

    def _at(self, position: int) -> torch.Tensor:
        layers = self.plan.layers
        return self.sources[int(layers.source[position])][int(layers.offset[position])]

    def run(self, data: Sequence[float] | np.ndarray | None = None, *, grad: bool = True) -> None:
        """Build the torch graph; leaves and constants take their values from ``data``.

        ``data[i]`` is read for leaves and constants only (``None``: the engine's data).
        ``grad=False`` evaluates without recording anything for a backward pass.
        """
        with torch.set_grad_enabled(grad):
            self._run(data)

    def _run(self, data: Sequence[float] | np.ndarray | None) -> None:
        plan = self.plan
        layers = plan.layers
        if data is None:
            data = read_numbers(plan.nodes, "data")
        data = np.asarray(data, dtype=np.float64)
        sources = [
            torch.tensor(data[layers.leaves], dtype=F64, requires_grad=torch.is_grad_enabled()),
            torch.tensor(data[layers.constants], dtype=F64),
            torch.tensor(plan.literals, dtype=F64),
        ]
        for layer in layers.layers:
            columns = [_gathered(sources, gather) for gather in layer.slots]
            sources.append(layer.op.torch(*columns))
        self.sources = sources

    def _spread(self, columns: Sequence[torch.Tensor | None]) -> np.ndarray:
        """One number per node from one column per source (None: nan), in plan order."""
        layers = self.plan.layers
        out = np.full(len(self.plan), np.nan)
        positions = [layers.leaves, layers.constants, None, *(layer.positions for layer in layers.layers)]
        for where, column in zip(positions, columns):
            if where is not None and column is not None:
                out[where] = column.numpy()
        return out

    def values(self) -> np.ndarray:
        with torch.no_grad():
            return self._spread(self.sources)

    def gradients(self) -> np.ndarray:
        """d root / d node for every node torch differentiates; nan elsewhere (constants)."""
        plan = self.plan
        if not plan.differentiable[-1]:
            return np.full(len(plan), np.nan)  # the root depends on no leaf: torch has no gradient at all
        tracked = [k for k, t in enumerate(self.sources) if t.requires_grad]
        found = torch.autograd.grad(self.root, [self.sources[k] for k in tracked], allow_unused=True)
        columns: list[torch.Tensor | None] = [None] * len(self.sources)
        for k, column in zip(tracked, found):
            columns[k] = column if column is not None else torch.zeros_like(self.sources[k])
        grads = self._spread(columns)
        grads[~np.array(plan.differentiable, dtype=bool)] = np.nan  # a layer may mix in constant-only nodes
        return grads


def _gathered(sources: Sequence[torch.Tensor], gather: Gather) -> torch.Tensor:
    """One operand column of a layer from the tensors made so far."""
    pieces = [
        sources[kind] if offsets is None else sources[kind].index_select(0, torch.from_numpy(offsets))
        for kind, offsets in gather.pieces
    ]
    if gather.order is None:
        return pieces[0]
    return torch.cat(pieces).index_select(0, torch.from_numpy(gather.order))


# -- ops on the engine's own numbers: the local checks' torch --------------------------------


def apply_op(op: Op, args: Sequence[np.ndarray]) -> np.ndarray:
    """Torch's results of ``op`` on columns of float64 operands, element by element."""
    return op.torch(*[torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in args]).numpy()


def op_vjp(op: Op, args: Sequence[np.ndarray], out: np.ndarray, upstream: np.ndarray) -> list[np.ndarray]:
    """Torch's gradient for each operand slot of ``op``, judged at the engine's own numbers.

    Columns in, columns out: element ``k`` is one use of ``op``. The engine's results
    ``out`` are written into torch's output before the backward pass, so a rule that
    reads its result (tanh, exp, sigmoid, sqrt, pow) sees the engine's number: a
    last-bit difference of the forward is not charged to the derivative (``1 - out**2``
    turns one ULP of tanh(10) into 2.7e-8).
    """
    inputs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in args]
    result = op.torch(*inputs)
    result.data.copy_(torch.from_numpy(np.asarray(out, dtype=np.float64)))
    seed = torch.from_numpy(np.asarray(upstream, dtype=np.float64))
    # d(sum(result * seed)) / d inputs is the same vector-Jacobian product, bit for bit (the
    # product's backward passes `seed` through unchanged); and unlike `grad_outputs=seed`, it
    # does not make torch import sympy (a second or two) on first use.
    grads = torch.autograd.grad((result * seed).sum(), inputs, allow_unused=True)
    return [np.zeros(len(out)) if g is None else g.numpy() for g in grads]
