"""Where engines differ from torch by convention, not by mistake: a note, never a failure.

``backward()`` called twice is the one the catalogue meets. torch adds a second, equal
gradient everywhere (twingrad's engine too). micrograd's ``backward()`` sets the root's
gradient to 1 and runs the chain rule again over the gradients every node kept from the
first call, so ``a*a + 1`` at 2 gives ``a.grad`` 12 where torch gives 8. Other engines
zero every gradient first and give 4.

The judgement reads the inputs' gradients only, so it holds for an engine whose graph
cannot be walked: what each convention would give is computed on twingrad's own graph
of the case, which is the same expression at the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..engine import Value
from ..graph import trace
from ..verdict import BY_TWINGRAD
from .cases import Case
from .probes import close, shown
from .result import FAIL, NOTE, PASS, Mismatch


@dataclass(frozen=True)
class Judgement:
    status: str
    detail: str
    mismatch: Mismatch | None = None


def backward_twice(case: Case, first: Sequence[float], second: Sequence[float]) -> Judgement:
    """The inputs' gradients after one ``backward()`` (right, already checked) and after two."""
    doubled = [close(g, 2 * f) for g, f in zip(second, first)]
    if all(doubled):
        return Judgement(PASS, "a second backward() adds an equal gradient, as torch's does")
    k = doubled.index(False)
    name = case.input_names[k]
    mine, twice = shown(second[k], 2 * first[k])
    head = f"after a second backward(), {name}.grad is {mine} where torch's would be twice the first, {twice}"
    mismatch = Mismatch(name, "grad", second[k], 2 * first[k], BY_TWINGRAD)
    if all(close(g, f) for g, f in zip(second, first)):
        why = (
            "this backward() starts from zero gradients every time (as if zero_grad() ran first), "
            "while torch adds the second call's gradient"
        )
    elif all(close(g, r) for g, r in zip(second, propagated_again(case))):
        why = (
            "this backward() propagates again the gradients the nodes kept from the first call, as "
            "micrograd's does, while torch adds one fresh gradient per call"
        )
    else:
        return Judgement(FAIL, f"{head}: neither torch's accumulation nor a known convention", mismatch)
    return Judgement(
        NOTE,
        f"{head}: {why}. A convention, not a bug: zero the gradients before each backward() and both agree.",
        mismatch,
    )


def propagated_again(case: Case) -> list[float]:
    """The inputs' gradients under micrograd's second backward(): the root's grad set to 1, every
    other node keeping its first-call gradient, the chain rule run again over those (with the op
    table's own rules, on twingrad's graph of the case)."""
    inputs = [Value(x) for x in case.inputs]
    out = case.fn(*inputs)
    out.backward()
    nodes = trace(out).nodes
    grads = {id(node): float(node.grad) for node in nodes}
    grads[id(out)] = 1.0
    for node in reversed(nodes):
        operands = list(node._prev)
        if not operands:
            continue
        shares = node._op.grad(grads[id(node)], node.data, *(a.data for a in operands))
        for a, share in zip(operands, shares if len(operands) > 1 else (shares,)):
            grads[id(a)] += share
    return [grads.get(id(x), 0.0) for x in inputs]
