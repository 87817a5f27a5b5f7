"""`compare`: replay a graph in torch and judge every node's data and grad.

Each number is first compared with its torch twin under the tolerance. A number beyond
it is then checked *locally*: does torch's op, applied to the engine's own inputs (for
data), or torch's derivative, taken at the engine's own numbers and upstream gradients
(for grad), reproduce it? If so, the gap was carried in -- from a divergence upstream,
or from rounding the graph amplified (a difference of two nearly equal sums, a tanh
near saturation) -- and the node is not where anything goes wrong. If not, a
divergence starts at that node: a culprit. The local checks run only for the numbers
beyond tolerance, one vectorised torch call per op.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from typing import Any

import numpy as np

from ..engine import Value, backpropagate
from ..ops import Op
from .numeric import Witness, evaluate, witness
from .plan import LEAF, Plan, Resolver, make_plan, read_numbers
from .rendering import require
from .report import DIVERGED, DRIFT, INHERITED, Columns, ParityReport
from .tolerances import Tolerance
from .twin import TORCH, Twin, gc_paused

WITNESS_MODES = ("auto", "leaves", "all", "none")
AUTO_WITNESSES = 8  # "auto" estimates at most this many gradients (each re-evaluates the graph)


def compare(
    root: Any,
    *,
    backward: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    resolver: Resolver | None = None,
    witness: str = "auto",
    twin: Twin = TORCH,
) -> ParityReport:
    """Replay ``root``'s graph in torch float64 and compare every node's data and grad.

    ``backward=True`` zeroes the engine's gradients and runs its ``root.backward()``
    first; ``backward=False`` compares the gradients as they stand (set by hand, as in
    the seed notebook). ``rtol``/``atol`` default to `twingrad.parity.tolerances`.
    ``resolver`` maps another engine's nodes to ops of the table (see
    `twingrad.parity.mirror`). ``witness`` picks the gradients that get a numeric
    estimate: ``"auto"`` (where a gradient diverges, and leaves whose gradient
    mismatches), ``"leaves"`` (every user leaf), ``"all"`` or ``"none"``. ``twin`` replays
    the graph: torch (`twingrad.parity.twin.TORCH`), or the op table in plain floats (``TABLE``,
    which needs no torch; the report then calls its numbers "twingrad").
    """
    tolerance = Tolerance.of(rtol, atol)
    _check_witness_mode(witness)
    with gc_paused():
        plan = make_plan(root, resolver)
        columns = both_sides(plan, backward=backward, twin=twin)
        return judge(
            plan, tolerance, columns, witness=witness, backward=backward, resolver=resolver, twin=twin
        )


def both_sides(plan: Plan, *, backward: bool, twin: Twin = TORCH) -> Columns:
    """The engine's numbers and ``twin``'s for every node of ``plan``.

    ``backward=True`` first zeroes every gradient and runs the engine's own backward
    from the root, so the gradients are fresh whatever the engine does on a second
    call. Call it with the collector paused (`gc_paused`): the torch graph is built
    and freed inside.
    """
    if backward:
        for node in plan.nodes:
            node.grad = 0.0
        root = plan.graph.root
        if type(root) is Value:
            backpropagate(root, plan.nodes)  # root.backward(), along the order traced already
        else:
            root.backward()
    engine_data = read_numbers(plan.nodes, "data")
    mirror = twin.mirror(plan)
    mirror.run(engine_data)
    return Columns(engine_data, mirror.values(), read_numbers(plan.nodes, "grad"), mirror.gradients())


def assert_parity(root: Any, **options: Any) -> ParityReport:
    """`compare`, raising AssertionError with the summary and offending rows unless it is ok."""
    return require(compare(root, **options))


def _check_witness_mode(mode: str) -> None:
    if mode not in WITNESS_MODES:
        raise ValueError(f"witness must be one of {', '.join(WITNESS_MODES)}, not {mode!r}")


def judge(
    plan: Plan,
    tolerance: Tolerance,
    columns: Columns,
    *,
    grads: bool = True,
    leaf_data: Callable[[list[int]], np.ndarray] | None = None,
    tainted: Collection[int] = (),
    witness: str = "auto",
    title: str | None = None,
    backward: bool = False,
    resolver: Resolver | None = None,
    twin: Twin = TORCH,
) -> ParityReport:
    """Statuses for every node from the engine's and ``twin``'s columns (see `ParityReport`).

    ``grads=False`` compares data only. ``leaf_data`` gives, for leaves whose data
    mismatch, what the engine's own numbers say they should be (a nudge does:
    ``before + step * grad``); without it a leaf has no local explanation. ``tainted``
    leaves carry a divergence found elsewhere (a nudge's step along a gradient that
    diverged): what follows from them is inherited, not drift. ``backward`` and
    ``resolver`` say how the columns were had, for the report's reproducer.
    """
    engine_data, torch_data, engine_grad, torch_grad = columns
    differentiable = np.array(plan.differentiable, dtype=bool)
    grad_compared = differentiable & bool(grads and plan.differentiable[-1])
    data_bad = np.flatnonzero(~tolerance.close_all(engine_data, torch_data))
    grad_bad = np.flatnonzero(~(tolerance.close_all(engine_grad, torch_grad) | ~grad_compared))

    local_data = _local_data(plan, engine_data, data_bad, leaf_data, twin)
    local_grad, scale = _local_grad(plan, engine_data, engine_grad, grad_bad, twin)
    data_status = {
        i: DRIFT if tolerance.close(engine_data[i], local_data[i]) else DIVERGED
        for i in map(int, data_bad)
        if i in local_data
    }
    data_status.update({int(i): DIVERGED for i in data_bad if int(i) not in local_data})
    grad_status = {
        i: DRIFT if _locally_consistent(tolerance, engine_grad[i], local_grad[i], scale[i]) else DIVERGED
        for i in map(int, grad_bad)
    }
    if tainted or DIVERGED in data_status.values() or DIVERGED in grad_status.values():
        _mark_inherited(plan, data_status, grad_status, set(tainted))

    chosen = _witness_positions(plan, witness, grad_status, grad_compared)
    witnesses: dict[int, Witness] = {}
    if chosen:
        base = evaluate(plan, engine_data)
        for i in chosen:
            witnesses[i] = _witness(plan, base, i, engine_grad[i], torch_grad[i], twin)
    return ParityReport(
        plan,
        tolerance,
        columns,
        grad_compared=grad_compared,
        data_status=data_status,
        grad_status=grad_status,
        local_data=local_data,
        local_grad=local_grad,
        witnesses=witnesses,
        grads_checked=grads,
        title=title,
        backward=backward,
        resolver=resolver,
        reference=twin.name,
    )


def _witness(
    plan: Plan, base: list[float], i: int, engine_grad: float, torch_grad: float, twin: Twin
) -> Witness:
    # `numeric.witness` under another name: `compare` and `judge` take a ``witness`` mode argument.
    return witness(plan, base, i, float(engine_grad), float(torch_grad), twin.name)


def _by_op(plan: Plan, positions: Iterable[int]) -> dict[Op, list[int]]:
    groups: dict[Op, list[int]] = defaultdict(list)
    for i in positions:
        step = plan.steps[i]
        if isinstance(step, Op):
            groups[step].append(int(i))
    return groups


def _local_data(
    plan: Plan,
    engine_data: np.ndarray,
    positions: np.ndarray,
    leaf_data: Callable[[list[int]], np.ndarray] | None,
    twin: Twin,
) -> dict[int, float]:
    """The twin's op on the engine's own inputs, for each op node in ``positions``."""
    local: dict[int, float] = {}
    for op, group in _by_op(plan, positions).items():
        args = [plan.operand_column(engine_data, group, slot) for slot in range(op.arity)]
        local.update(zip(group, map(float, twin.apply_op(op, args))))
    leaves = [int(i) for i in positions if plan.steps[int(i)] is LEAF]
    if leaves and leaf_data is not None:
        local.update(zip(leaves, map(float, leaf_data(leaves))))
    return local


def _local_grad(
    plan: Plan, engine_data: np.ndarray, engine_grad: np.ndarray, positions: np.ndarray, twin: Twin
) -> tuple[dict[int, float], dict[int, float]]:
    """For each node in ``positions``: the sum of the twin's derivative over its uses, taken at
    the engine's numbers, and the sum of those terms' magnitudes (the scale for rtol)."""
    if not len(positions):
        return {}, {}
    consumers = plan.uses()
    wanted = {int(j) for j in positions}
    users = {i for j in wanted for i, _ in consumers[j]}
    contributions: dict[tuple[int, int], float] = {}
    for op, group in _by_op(plan, users).items():
        args = [plan.operand_column(engine_data, group, slot) for slot in range(op.arity)]
        per_slot = twin.op_vjp(op, args, engine_data[group], engine_grad[group])
        for slot, column in enumerate(per_slot):
            contributions.update(((i, slot), float(g)) for i, g in zip(group, column))
    root = len(plan) - 1
    total: dict[int, float] = {}
    scale: dict[int, float] = {}
    for j in wanted:
        terms = [contributions[use] for use in consumers[j]]
        if j == root:
            terms.append(1.0)  # the seed
        total[j] = float(sum(terms))
        magnitude = float(sum(abs(t) for t in terms))
        if not all(np.isfinite(terms)):
            magnitude = 0.0  # an infinite or nan term decides the sum: ask for equality
        scale[j] = magnitude
    return total, scale


def _locally_consistent(tolerance: Tolerance, actual: float, expected: float, scale: float) -> bool:
    # An infinite scale marks finite terms whose sum overflows or not depending on the
    # order of the additions, and torch and the engine add in different orders.
    return tolerance.close(float(actual), expected, scale) or np.isinf(scale)


def _mark_inherited(
    plan: Plan, data_status: dict[int, str], grad_status: dict[int, str], sources: set[int]
) -> None:
    """Relabel accepted drift as inherited where it depends on a divergence (or ``sources``)."""
    n = len(plan)
    data_tainted = [False] * n
    for i in range(n):
        data_tainted[i] = i in sources or data_status.get(i) == DIVERGED or any(
            data_tainted[j] for j in plan.node_inputs(i)
        )
    uses = plan.uses()
    grad_tainted = [False] * n
    for j in range(n - 1, -1, -1):
        grad_tainted[j] = grad_status.get(j) == DIVERGED or any(
            grad_tainted[i] or data_tainted[i] or any(data_tainted[k] for k in plan.node_inputs(i))
            for i, _ in uses[j]
        )
    for status, tainted in ((data_status, data_tainted), (grad_status, grad_tainted)):
        for i, s in status.items():
            if s == DRIFT and tainted[i]:
                status[i] = INHERITED


def _witness_positions(
    plan: Plan, mode: str, grad_status: dict[int, str], grad_compared: np.ndarray
) -> list[int]:
    if mode == "none" or not grad_compared.any():
        return []
    if mode == "all":
        return [i for i in range(len(plan)) if grad_compared[i]]
    leaves = [i for i in plan.leaf_positions() if grad_compared[i]]
    if mode == "leaves":
        return leaves
    # Where a divergence starts first (latest position first: backward's order), then leaves.
    culprits = sorted((i for i, s in grad_status.items() if s == DIVERGED), reverse=True)
    mismatched_leaves = [i for i in leaves if grad_status.get(i) == INHERITED]
    return (culprits + mismatched_leaves)[:AUTO_WITNESSES]
