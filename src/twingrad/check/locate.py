"""Where a failing case first goes wrong, and which op is to blame.

Given a case the comparison with torch has failed, in this order:

1. an input whose stored value is not the number it was made from: the engine rounds
   (float32, most likely) -- reported as precision loss;
2. an input missing from the output's graph: an op on the way returned a plain number
   or a fresh Value, and the graph was cut;
3. the first node that disagrees with its twin (`twingrad.parity.compare` over the
   engine's own graph, read by `resolve_foreign`, replayed by the op table: `probes.TWIN`):
   the first wrong ``data`` in topological order, else the first wrong ``grad`` in
   reverse order -- later nodes only inherit it. The op that made it (data) or the ops
   its gradient flows from (grad) are then probed alone at the same numbers; if they are
   right alone, the numbers tell an overwritten gradient (``=`` for ``+=``) from a
   wrong order;
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

from ..graph import GraphError, trace
from ..ops import Op
from ..parity.plan import ResolveError, resolve_foreign
from ..parity.report import ParityReport
from ..verdict import BY_TWINGRAD
from .cases import Case
from .probes import PROBE_Y, TWIN, Finding, Prober, close, first_broken, probe, probe_each, shown
from .result import Mismatch

if TYPE_CHECKING:
    from ..parity import FunctionReport


@dataclass
class Location:
    """The first mismatch, an explanation naming the op, and the report to draw (if any)."""

    mismatch: Mismatch | None
    detail: str
    report: ParityReport | None = None
    finding: Finding | None = None  # the probe that named the op, when one did


@dataclass
class Evidence:
    """What the engine did in a failing case, as its worker reported it."""

    engine: str  # the class's name, for messages
    case: Case
    inputs: Sequence[Any]  # the input nodes after the first backward() (traced)
    out: Any  # the output node
    nudged_out: Any | None  # the output of the nudged run, with its own graph
    nudged_inputs: Sequence[Any]  # its inputs: x + step * x.grad, as the engine made them
    step: float
    graph_visible: bool  # the worker could read the nodes' inputs
    prober: Prober


def _float32(x: float) -> bool:
    return math.isfinite(x) and struct.unpack("f", struct.pack("f", x))[0] == x


def precision_note(values: Sequence[float]) -> str:
    """Why numbers differ by a hair: the engine's values are all float32, or some rounding."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and all(_float32(v) for v in finite) and not all(v == round(v) for v in finite):
        return "precision loss: every value the engine holds is a float32; keep Python floats (float64)"
    return "precision loss: the engine's numbers differ from torch's float64 in the last digits"


def locate(ev: Evidence, checked: FunctionReport) -> Location:
    """Explain a case the comparison failed, from the engine's traced run of it (after one
    backward()); ``checked.graph`` is its node-by-node report."""
    case = ev.case
    fallback = checked.mismatch  # torch's own numbers: the case's output and input gradients
    for name, value, x in zip(case.input_names, ev.inputs, case.inputs):
        stored = float(value.data)
        if stored != x:
            return Location(Mismatch(name, "data", stored, x, BY_TWINGRAD), _stored(ev.engine, x, stored))
    if checked.checks and all(c.ok for c in checked.checks[:-1]):  # only the nudged output differs
        return _after_nudge(ev, fallback)
    if not ev.graph_visible:
        return _by_probes(
            ev,
            fallback,
            "the engine's graph cannot be walked (no attribute holding a node's "
            "inputs was found; name it with --inputs)",
        )
    try:
        graph = trace(ev.out)
    except GraphError as exc:
        return _by_probes(ev, fallback, f"the graph cannot be walked: {exc}")
    present = {id(node) for node in graph.nodes}
    cut = [name for name, value in zip(case.input_names, ev.inputs) if id(value) not in present]
    if cut:
        finding, aside = _cause(first_broken(ev.prober, case.op_records))
        why = str(finding) if finding is not None else "an op on the way returned a number or a new leaf"
        one = len(cut) == 1
        return Location(
            fallback,
            f"{', '.join(cut)} {'is' if one else 'are'} not in the output's graph, so "
            f"no gradient reaches {'it' if one else 'them'}: {why}{aside}",
            finding=finding,
        )
    report = checked.graph
    if report is None:
        failure = checked.graph_error  # why parity could not mirror the engine's graph
        if failure is None:
            reason = "it was not compared"
        elif isinstance(failure, (ResolveError, GraphError)):
            reason = str(failure)  # the mirror's own words name the node it could not read
        else:
            reason = f"{type(failure).__name__}: {failure}"
        return _by_probes(ev, fallback, f"no node-by-node comparison: {reason}")
    return _in_graph(ev, report, fallback)


def _stored(engine: str, x: float, stored: float) -> str:
    """``Value(0.6) keeps 0.6000000238418579: precision loss ...``."""
    note = precision_note([stored]) if close(stored, x, 1e-6) else "the engine changes the number"
    return f"{engine}({x!r}) keeps {stored!r}: {note}"


def _in_graph(ev: Evidence, report: ParityReport, fallback: Mismatch | None) -> Location:
    divergences = report.first_divergences()
    if not divergences:
        return _by_probes(
            ev,
            fallback,
            f"every node agrees with {report.reference}'s op at that node, so the "
            "engine built a different expression than the case's",
            report,
        )
    # The first divergence, unless it is rounding-sized while another is not: a saturating
    # node can show a wrong derivative only in its last digits, and is no precision loss then.
    i, quantity = next((d for d in divergences if not _by_a_hair(report, *d)), divergences[0])
    row = report.row(i)
    if quantity == "data":
        mismatch = Mismatch(row.expression, "data", row.engine_data, row.torch_data, report.reference)
        detail, finding = _blame_data(ev.prober, report, i)
    else:
        mismatch = Mismatch(row.expression, "grad", row.engine_grad, row.torch_grad, report.reference)
        detail, finding = _blame_grad(ev.prober, report, i)
    return Location(mismatch, detail, report, finding)


def _by_a_hair(report: ParityReport, i: int, quantity: str) -> bool:
    """Whether node ``i``'s ``quantity`` differs from the twin's only as float32 rounding would."""
    row = report.row(i)
    if quantity == "data":
        return close(row.engine_data, row.torch_data, 1e-6)
    return row.torch_grad is not None and close(row.engine_grad, row.torch_grad, 1e-6)


def _after_nudge(ev: Evidence, fallback: Mismatch | None) -> Location:
    """Output and gradients agree, the nudged output does not: look at the nudged run."""
    for name, x, moved in zip(ev.case.input_names, ev.inputs, ev.nudged_inputs):
        expected = float(x.data) + ev.step * float(x.grad)
        if float(moved.data) != expected:
            return Location(
                Mismatch(name, "data", float(moved.data), expected, BY_TWINGRAD),
                f"after the nudge, {_stored(ev.engine, expected, float(moved.data))}",
            )
    if ev.nudged_out is None or not ev.graph_visible:
        return _by_probes(ev, fallback, "only the output after the nudge differs")
    try:
        from ..parity.comparison import compare

        report = compare(ev.nudged_out, backward=False, resolver=resolve_foreign, twin=TWIN)
    except Exception as exc:
        return Location(
            fallback, f"the nudged output differs ({type(exc).__name__}: {exc} comparing it node by node)"
        )
    divergences = [d for d in report.first_divergences() if d[1] == "data"]
    if not divergences:
        return _by_probes(ev, fallback, "only the output after the nudge differs", report)
    i = divergences[0][0]
    row = report.row(i)
    detail, finding = _blame_data(ev.prober, report, i)
    return Location(
        Mismatch(row.expression, "data", row.engine_data, row.torch_data, report.reference),
        f"after the nudge: {detail}",
        report,
        finding,
    )


def _by_probes(
    ev: Evidence, fallback: Mismatch | None, context: str, report: ParityReport | None = None
) -> Location:
    finding, aside = _cause(first_broken(ev.prober, ev.case.op_records))
    return Location(
        fallback, (context if finding is None else f"{finding}; {context}") + aside, report, finding
    )


def _cause(finding: Finding | None) -> tuple[Finding | None, str]:
    """A probe's finding as the cause of a failed case, or (a crash: `Finding.crash`) as an aside."""
    if finding is not None and finding.crash:
        return None, finding.aside()
    return finding, ""


def _operands(report: ParityReport, i: int) -> list[float]:
    return report.plan.operand_values(report.engine_data, i)


def _point(op: Op, operands: Sequence[float]) -> tuple[Op, float, float]:
    """Where to probe ``op``: at its operands (a unary op's unused y at the standard point)."""
    return op, operands[0], operands[1] if len(operands) > 1 else PROBE_Y


def _probe_at(prober: Prober, op: Op, operands: Sequence[float]) -> Finding | None:
    return probe(prober, *_point(op, operands))


def _precision(report: ParityReport, relative: float | None) -> str:
    return f"{precision_note(list(report.engine_data))} (relative difference {relative or 0:.1g})"


def _blame_data(prober: Prober, report: ParityReport, i: int) -> tuple[str, Finding | None]:
    row = report.row(i)
    op = report.plan.steps[i]
    if not isinstance(op, Op):  # a leaf holds a different number than torch's twin
        return report.explain(i, "data"), None
    if close(row.engine_data, row.torch_data, 1e-6):
        return _precision(report, row.data_rel), None
    finding, aside = _cause(_probe_at(prober, op, _operands(report, i)))
    if finding is None:
        return report.explain(i, "data") + aside, None
    if finding.kind == "offset":
        return f"the engine's {op.name} is offset: {finding}", finding
    return f"the engine's {op.name} is wrong: {finding}", finding


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
    """What node ``c`` passes back through operand ``slot`` under ``upstream``, by the op's rule."""
    op = report.plan.steps[c]
    assert isinstance(op, Op)
    return float(TWIN.op_vjp(op, _operands(report, c), float(report.engine_data[c]), upstream)[slot])


def _blame_grad(prober: Prober, report: ParityReport, i: int) -> tuple[str, Finding | None]:
    plan = report.plan
    name = report.names[i]
    uses = plan.uses()[i]
    engine_grad = float(report.engine_grad[i])
    torch_grad = report.row(i).torch_grad
    if not uses:
        return f"the output's own gradient is {engine_grad:.6g}, not 1: backward() must start from it", None
    if torch_grad is not None and close(engine_grad, torch_grad, 1e-6):
        return _precision(report, report.row(i).grad_rel), None
    consumers = sorted({c for c, _ in uses})
    sources = ", ".join(report.expression(c) for c in consumers[:3]) + (" ..." if len(consumers) > 3 else "")
    points = []
    for c in consumers:
        op = plan.steps[c]
        assert isinstance(op, Op)
        points.append(_point(op, _operands(report, c)))
    distinct = list(dict.fromkeys(points))
    findings = dict(zip(distinct, probe_each(prober, distinct)))
    aside = ""
    for point in points:
        op, (finding, crashed) = point[0], _cause(findings[point])
        aside = aside or crashed
        if finding:
            return (
                f"{name}'s gradient comes from {sources}, and {op.name} is wrong on its own: {finding}",
                finding,
            )
    return _from_shares(report, i, uses, sources) + aside, None


def _from_shares(report: ParityReport, i: int, uses: Sequence[tuple[int, int]], sources: str) -> str:
    """Every op is right alone: how the node's gradient relates to the shares its uses pass back."""
    name = report.names[i]
    engine_grad = float(report.engine_grad[i])
    shares = [_share(report, c, slot, float(report.engine_grad[c])) for c, slot in uses]
    total = float(sum(shares))
    kept = _partial_sum(engine_grad, shares)
    mine, whole = shown(engine_grad, total)
    if kept:
        return (
            f"{name} is used {len(uses)} times ({sources}) but its gradient {mine} is only {kept} of "
            f"their {len(uses)} shares (their sum is {whole}): a backward overwrites gradients (`=`) "
            "where they must add up (`+=`)"
        )
    extra = _counted_again(engine_grad, shares)
    if extra:
        return (
            f"{name}'s gradient {mine} counts {extra} (each counted once, it would be {whole}): a "
            "node's backward ran more than once -- backward() must visit each node once (keep a set "
            "of the nodes already visited)"
        )
    if len(uses) == 1:
        c, slot = uses[0]
        unit = _share(report, c, slot, 1.0)
        final = float(report.engine_grad[c])
        if unit != 0.0 and not close(engine_grad / unit, final, 1e-6):
            return (
                f"{report.expression(c)} passed back a gradient as if its own were "
                f"{engine_grad / unit:.6g}, but its gradient ends at {final:.6g}: its backward ran "
                "before every use of it had added its share, or ran more than once -- the order "
                "backward visits the nodes is wrong (each node once, after all the nodes that use it)"
            )
    return (
        f"every op involved ({sources}) is right on its own, so the gradients go wrong where they "
        "meet: backward must add (`+=`) every share, and visit a node only after all that use it"
    )


_MOST_REPEATS = 4  # times one use's share may be counted, when looking for a rule run again
_MOST_USES = 6  # uses beyond which no combination of repeats is tried (4**6 sums)


def _counted_again(grad: float, shares: Sequence[float]) -> str:
    """Which shares ``grad`` counts more than once, when it is their sum with some counted 2, 3 or 4
    times (a rule run once per path to the node); "" otherwise. Words: "use 2's share 3 times"."""
    if not 0 < len(shares) <= _MOST_USES or close(grad, float(sum(shares))):
        return ""
    for times in itertools.product(range(1, _MOST_REPEATS + 1), repeat=len(shares)):
        if max(times) > 1 and close(grad, float(sum(t * s for t, s in zip(times, shares)))):
            if len(shares) == 1:
                return f"its one use's share {times[0]} times"
            return ", ".join(f"use {k + 1}'s share {t} times" for k, t in enumerate(times) if t > 1)
    return ""
