"""Where a failing case first goes wrong, and which op is to blame.

Given a case the comparison with torch has failed, in this order:

1. an input whose stored value is not the number it was made from: the engine rounds
   (float32, most likely) -- reported as precision loss;
2. an input missing from the output's graph: an op on the way returned a plain number
   or a fresh Value, and the graph was cut;
3. the first node that disagrees with its torch twin (`twingrad.parity.compare` over
   the engine's own graph, read by `resolve_foreign`): the first wrong ``data`` in
   topological order, else the first wrong ``grad`` in reverse order -- later nodes
   only inherit it. The op that made it (data) or the ops its gradient flows from
   (grad) are then probed alone at the same numbers; if they are right alone, the
   numbers tell an overwritten gradient (``=`` for ``+=``) from a wrong order;
4. a graph that agrees with itself node by node yet computes something else than the
   case: the wrong expression was built (``1 - x`` as ``x - 1``); probes of the
   case's ops at standard points name the operator.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..examples import name as set_label
from ..graph import GraphError, trace
from ..ops import Op
from ..parity import ParityReport, ResolveError, compare
from ..parity.mirror import op_vjp
from .cases import Case
from .failures import declined, describe
from .foreign import operand_values, resolve_foreign
from .probes import PROBE_Y, close, first_broken, probe, shown
from .result import Mismatch

if TYPE_CHECKING:
    from ..parity import FunctionReport


@dataclass
class Location:
    """The first mismatch, an explanation naming the op, and the report to draw (if any)."""

    mismatch: Mismatch | None
    detail: str
    report: ParityReport | None = None


def _float32(x: float) -> bool:
    return math.isfinite(x) and struct.unpack("f", struct.pack("f", x))[0] == x


def precision_note(values: Sequence[float]) -> str:
    """Why numbers differ by a hair: the engine's values are all float32, or some rounding."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and all(_float32(v) for v in finite) and not all(v == round(v) for v in finite):
        return "precision loss: every value the engine holds is a float32; keep Python floats (float64)"
    return "precision loss: the engine's numbers differ from torch's float64 in the last digits"


def locate(engine: Any, case: Case, inputs: Sequence[Any], out: Any, checked: FunctionReport) -> Location:
    """Explain a case `check_function` failed; ``inputs`` and ``out`` are the engine's own
    run of it (after one backward()), ``checked.graph`` its node-by-node report."""
    first = checked.mismatch
    fallback = Mismatch(first.where, first.quantity, first.engine, first.torch) if first else None
    for name, value, x in zip(case.input_names, inputs, case.inputs):
        stored = float(value.data)
        if stored != x:
            return Location(Mismatch(name, "data", stored, x), _stored(engine, x, value.data))
    if checked.checks and all(c.ok for c in checked.checks[:-1]):  # only the nudged output differs
        return _after_nudge(engine, case, checked, fallback)
    try:
        graph = trace(out)
    except GraphError as exc:  # no _prev, or a cycle: the numbers and the probes must do
        return _by_probes(engine, case, fallback, f"the graph cannot be walked: {exc}")
    present = {id(node) for node in graph.nodes}
    cut = [name for name, value in zip(case.input_names, inputs) if id(value) not in present]
    if cut:
        finding = first_broken(engine, case.op_records, declined)
        why = str(finding) if finding is not None else "an op on the way returned a number or a new leaf"
        one = len(cut) == 1
        return Location(fallback, f"{', '.join(cut)} {'is' if one else 'are'} not in the output's graph, so "
                        f"no gradient reaches {'it' if one else 'them'}: {why}")
    report = checked.graph
    if report is None:
        failure = checked.graph_error  # why parity could not mirror the engine's graph
        if failure is None:
            reason = "it was not compared"
        elif isinstance(failure, (ResolveError, GraphError)):
            reason = str(failure)  # the mirror's own words name the node it could not read
        else:
            reason = describe(failure)
        return _by_probes(engine, case, fallback, f"no node-by-node comparison: {reason}")
    return _in_graph(engine, case, report, fallback)


def _stored(engine: Any, x: float, kept: Any) -> str:
    """``Value(0.6) keeps 0.6000000238418579: precision loss ...``."""
    stored = float(kept)
    shown = repr(stored) if type(kept) is float else f"{stored!r} (a {type(kept).__name__})"
    note = precision_note([stored]) if close(stored, x, 1e-6) else "the engine changes the number"
    return f"{getattr(engine, '__name__', 'Value')}({x!r}) keeps {shown}: {note}"


def _in_graph(engine: Any, case: Case, report: ParityReport, fallback: Mismatch | None) -> Location:
    divergences = report.first_divergences()
    if not divergences:
        return _by_probes(engine, case, fallback, "every node agrees with torch's op at that node, so the "
                          "engine built a different expression than the case's", report)
    i, quantity = divergences[0]
    row = report.row(i)
    if quantity == "data":
        mismatch = Mismatch(row.expression, "data", row.engine_data, row.torch_data)
        return Location(mismatch, _blame_data(engine, report, i), report)
    mismatch = Mismatch(row.expression, "grad", row.engine_grad, row.torch_grad)
    return Location(mismatch, _blame_grad(engine, report, i), report)


def _after_nudge(engine: Any, case: Case, checked: FunctionReport, fallback: Mismatch | None) -> Location:
    """Output and gradients agree, the nudged output does not: look at the nudged run."""
    grads = [c.engine for c in checked.checks if c.quantity == "grad"]
    moved = [x + checked.step * g for x, g in zip(case.inputs, grads)]
    values = [set_label(engine(x), name) for name, x in zip(case.input_names, moved)]
    for name, value, x in zip(case.input_names, values, moved):
        if float(value.data) != x:
            return Location(Mismatch(name, "data", float(value.data), x),
                            f"after the nudge, {_stored(engine, x, value.data)}")
    try:
        report = compare(case.fn(*values), resolver=resolve_foreign)
    except Exception as exc:
        return Location(fallback, f"the nudged output differs ({describe(exc)} comparing it node by node)")
    found = _in_graph(engine, case, report, fallback)
    return Location(found.mismatch, f"after the nudge: {found.detail}", report)


def _by_probes(engine: Any, case: Case, fallback: Mismatch | None, context: str,
               report: ParityReport | None = None) -> Location:
    finding = first_broken(engine, case.op_records, declined)
    return Location(fallback, context if finding is None else f"{finding}; {context}", report)


def _operands(report: ParityReport, i: int) -> list[float]:
    return operand_values(report.plan, report.engine_data, i)


def _probe_at(engine: Any, op: Op, points: Sequence[float]) -> str | None:
    y = points[1] if len(points) > 1 else PROBE_Y
    finding = probe(engine, op, points[0], y, declined=declined)
    return str(finding) if finding is not None else None


def _precision(report: ParityReport, relative: float | None) -> str:
    return f"{precision_note(list(report.engine_data))} (relative difference {relative or 0:.1g})"


def _blame_data(engine: Any, report: ParityReport, i: int) -> str:
    row = report.row(i)
    op = report.plan.steps[i]
    if not isinstance(op, Op):  # a leaf holds a different number than torch's twin
        return report.explain(i, "data")
    if close(row.engine_data, row.torch_data, 1e-6):
        return _precision(report, row.data_rel)
    finding = _probe_at(engine, op, _operands(report, i))
    return f"the engine's {op.name} is wrong: {finding}" if finding else report.explain(i, "data")


_MOST_SUBSETS = 10  # uses beyond which only single shares are tried (2**10 sums)


def _partial_sum(grad: float, shares: Sequence[float]) -> int:
    """How many shares add up to ``grad``, when that is some but not all of them; else 0.

    A node whose gradient is the sum of only part of its uses' shares kept the last
    assignment of an `=`: the shares before it were overwritten.
    """
    n = len(shares)
    if n < 2 or close(grad, float(sum(shares))):
        return 0
    if n > _MOST_SUBSETS:
        return 1 if any(close(grad, s) for s in shares) else 0
    for size in range(1, n):
        if any(close(grad, float(sum(c))) for c in itertools.combinations(shares, size)):
            return size
    return 0


def _share(report: ParityReport, c: int, slot: int, upstream: float) -> float:
    """What node ``c`` passes back through operand ``slot`` under ``upstream``, by torch's rule."""
    op = report.plan.steps[c]
    assert isinstance(op, Op)
    return op_vjp(op, _operands(report, c), float(report.engine_data[c]), upstream)[slot]


def _blame_grad(engine: Any, report: ParityReport, i: int) -> str:
    plan = report.plan
    name = report.names[i]
    uses = plan.consumers()[i]
    engine_grad = float(report.engine_grad[i])
    torch_grad = report.row(i).torch_grad
    if not uses:
        return f"the output's own gradient is {engine_grad:.6g}, not 1: backward() must start from it"
    if torch_grad is not None and close(engine_grad, torch_grad, 1e-6):
        return _precision(report, report.row(i).grad_rel)
    consumers = sorted({c for c, _ in uses})
    sources = ", ".join(report.expression(c) for c in consumers[:3]) + (" ..." if len(consumers) > 3 else "")
    for c in consumers:
        op = plan.steps[c]
        assert isinstance(op, Op)
        finding = _probe_at(engine, op, _operands(report, c))
        if finding:
            return f"{name}'s gradient comes from {sources}, and {op.name} is wrong on its own: {finding}"
    shares = [_share(report, c, slot, float(report.engine_grad[c])) for c, slot in uses]
    total = float(sum(shares))
    kept = _partial_sum(engine_grad, shares)
    if kept:
        mine, whole = shown(engine_grad, total)
        return (f"{name} is used {len(uses)} times ({sources}) but its gradient {mine} is only {kept} of "
                f"their {len(uses)} shares (their sum is {whole}): a backward overwrites gradients (`=`) "
                "where they must add up (`+=`)")
    if len(uses) == 1:
        c, slot = uses[0]
        unit = _share(report, c, slot, 1.0)
        final = float(report.engine_grad[c])
        if unit != 0.0 and not close(engine_grad / unit, final, 1e-6):
            return (f"{report.expression(c)} passed back a gradient as if its own were "
                    f"{engine_grad / unit:.6g}, but its gradient ends at {final:.6g}: its backward ran "
                    "before every use of it had added its share -- the order backward visits the nodes is "
                    "wrong (a node must come after all the nodes that use it)")
    return (f"every op involved ({sources}) is right on its own, so the gradients go wrong where they "
            "meet: backward must add (`+=`) every share, and visit a node only after all that use it")
