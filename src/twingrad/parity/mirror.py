"""The torch twin of a planned graph: the same nodes replayed in float64 from the op table.

`twingrad.parity.plan` says what every node is (leaf, constant, or an op over
operands); `Mirror` runs that plan on torch tensors with each op's ``torch`` entry and
asks torch for the gradient of the root with respect to every differentiable node.
`apply_op` and `op_vjp` are torch's op and derivative at the engine's own numbers, for
the local checks of `twingrad.parity.comparison`. This is the only module of the
parity core that needs torch at import time.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..ops import Op
from .plan import CONSTANT, LEAF, Plan, Resolver, make_plan, read_numbers

F64 = torch.float64


# -- replay ----------------------------------------------------------------------------------


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a replay, then restore it.

    A replay allocates one tensor per node and no reference cycles, so reference
    counting frees everything; the collector would only walk torch's ~165k import-time
    objects again and again (~65 ms a full pass) while the tensors pile up.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Mirror:
    """The torch replay of a `Plan`: one float64 tensor per node.

    >>> from twingrad.examples import seed_graph
    >>> m = Mirror.of(seed_graph()["L"]); m.run(); float(m.root), float(m.gradients()[0])
    (-8.0, 6.0)
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tensors: list[torch.Tensor] = []

    @classmethod
    def of(cls, root: Any, resolver: Resolver | None = None) -> Mirror:
        return cls(make_plan(root, resolver))

    def tensor(self, node: Any) -> torch.Tensor:
        """The torch twin of an engine node (after `run`)."""
        return self.tensors[self.plan.graph.position(node)]

    @property
    def root(self) -> torch.Tensor:
        return self.tensors[len(self.plan) - 1]

    def run(self, data: Sequence[float] | np.ndarray | None = None, *, grad: bool = True) -> None:
        """Build the torch graph; leaves and constants take their values from ``data``.

        ``data[i]`` is read for leaves and constants only (``None``: the engine's data).
        ``grad=False`` evaluates without recording anything for a backward pass.
        """
        with torch.set_grad_enabled(grad):
            self._run(data)

    def _run(self, data: Sequence[float] | np.ndarray | None) -> None:
        plan = self.plan
        n = len(plan)
        if data is None:
            data = read_numbers(plan.nodes, "data")
        tensors: list[Any] = [None] * (n + len(plan.literals))
        constants = [i for i, step in enumerate(plan.steps) if step is CONSTANT]
        if constants:
            # One tensor unbound into views: 3x cheaper than a torch.tensor per constant.
            shared = torch.tensor([float(data[i]) for i in constants], dtype=F64)
            for i, view in zip(constants, shared.unbind()):
                tensors[i] = view
        for k, value in enumerate(plan.literals):
            tensors[n + k] = torch.tensor(value, dtype=F64)
        steps, operands = plan.steps, plan.operands
        for i, step in enumerate(steps):
            if step is LEAF:
                tensors[i] = torch.tensor(float(data[i]), dtype=F64, requires_grad=torch.is_grad_enabled())
            elif step is not CONSTANT:
                ins = operands[i]
                if len(ins) == 1:
                    tensors[i] = step.torch(tensors[ins[0]])
                else:
                    tensors[i] = step.torch(tensors[ins[0]], tensors[ins[1]])
        self.tensors = tensors[:n]

    def values(self) -> np.ndarray:
        # One stacked copy, not 65k `.item()` calls: the same float64 numbers, bit for bit.
        with torch.no_grad():
            return torch.stack(self.tensors).numpy() if self.tensors else np.zeros(0)

    def gradients(self) -> np.ndarray:
        """d root / d node for every node torch differentiates; nan elsewhere (constants)."""
        plan = self.plan
        grads = np.full(len(plan), np.nan)
        wanted = [i for i, d in enumerate(plan.differentiable) if d]
        if not plan.differentiable[-1]:
            return grads  # the root depends on no leaf: torch has no gradient at all
        found = torch.autograd.grad(self.root, [self.tensors[i] for i in wanted])
        grads[wanted] = torch.stack(found).numpy()
        return grads


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
