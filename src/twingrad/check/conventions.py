"""Where engines differ from torch by convention, not by mistake: a note, never a failure.

``backward()`` called twice is the one the catalogue meets. torch adds a second, equal
gradient everywhere (twingrad's engine too). micrograd's ``backward()`` sets the root's
gradient to 1 and runs the chain rule again over the gradients every node kept from the
first call, so ``a*a + 1`` at 2 gives ``a.grad`` 12 where torch gives 8. Other engines
zero every gradient first and give 4. The gradients after the second call are compared
with each of the three; matching micrograd's or the zeroing one is a `NOTE`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..graph import GraphError
from ..ops import Op
from ..parity import ResolveError
from ..parity.mirror import op_vjp
from ..parity.plan import Plan, make_plan
from ..parity.recipe import Recipe, node_names
from .cases import Case
from .foreign import operand_values, resolve_foreign
from .probes import close, shown
from .result import FAIL, NOTE, PASS, Mismatch, verdict_to_wire


def backward_twice(case: Case, inputs: list[Any], out: Any,
                   backward: Callable[[Any], None]) -> dict[str, Any]:
    """Call ``backward`` on ``out`` a second time (the first went right) and judge the gradients."""
    try:
        plan: Plan | None = make_plan(out, resolve_foreign)
        nodes = plan.nodes
        names = node_names(plan)
    except (ResolveError, GraphError):
        plan, nodes, names = None, list(inputs), list(case.input_names)
    first = [float(node.grad) for node in nodes]
    backward(out)
    second = [float(node.grad) for node in nodes]
    doubled = [close(g, 2 * f) for g, f in zip(second, first)]
    if all(doubled):
        return verdict_to_wire(PASS, "a second backward() adds an equal gradient, as torch's does")
    # Quote the case's input if it differs (the learner knows it), else the first op node that
    # does, else whatever does (a number the engine lifted into a leaf).
    k = next(i for i, node in enumerate(nodes) if node is inputs[0])
    if doubled[k]:
        differing = [i for i, same in enumerate(doubled) if not same]
        ops = [i for i in differing if plan is not None and isinstance(plan.steps[i], Op)]
        k = (ops or differing)[0]
    mine, torch_s = shown(second[k], 2 * first[k])
    head = f"after a second backward(), {names[k]}.grad is {mine} where torch's is {torch_s}"
    where = names[k]
    if plan is not None and isinstance(plan.steps[k], Op):
        where += f" = {Recipe(plan, [float(node.data) for node in nodes], names).expression(k)}"
    mismatch = Mismatch(where, "grad", second[k], 2 * first[k])
    if all(close(g, f) for g, f in zip(second, first)):
        why = ("this backward() starts from zero gradients every time (as if zero_grad() ran first), "
               "while torch adds the second call's gradient")
    elif plan is not None and all(close(g, r) for g, r in zip(second, _propagated_again(plan, first))):
        why = ("this backward() propagates again the gradients the nodes kept from the first call, as "
               "micrograd's does, while torch adds one fresh gradient per call")
    else:
        return verdict_to_wire(FAIL, f"{head}: neither torch's accumulation nor a known convention", mismatch)
    return verdict_to_wire(NOTE, f"{head}: {why}. A convention, not a bug: zero the gradients before "
                           "each backward() and both agree.", mismatch)


def _propagated_again(plan: Plan, first: list[float]) -> list[float]:
    """micrograd's second backward(): the root's grad set to 1, every other node keeping its
    first-call gradient, then the chain rule run over those accumulated gradients."""
    n = len(plan)
    data = [float(node.data) for node in plan.nodes]
    grads = list(first)
    grads[-1] = 1.0
    for c in reversed(range(n)):
        op = plan.steps[c]
        if not isinstance(op, Op):
            continue
        ins = plan.operands[c]
        for j, share in zip(ins, op_vjp(op, operand_values(plan, data, c), data[c], grads[c])):
            if j < n:
                grads[j] += share
    return grads
