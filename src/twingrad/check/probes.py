"""Probes: one op of the engine, alone, at chosen points -- the checker's way of naming the culprit.

A failing case says *that* something is wrong; the node where the numbers first part
says *where*; a probe says *which op* and *how*. Each probe is a small program (one op
from fresh Values, in each spelling the common API allows: ``x - y``, ``x - 2.0``,
``2.0 - x``) that the worker runs; here its trace is compared with the op's float64
value and derivatives from twingrad's op table (`TWIN`: torch's formulas in plain
floats, so explaining a failure never waits for torch to import). An op the engine does
not have is skipped, not blamed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..ops import Op, op_named
from ..parity.tolerances import DEFAULT_RTOL, Tolerance
from ..parity.twin import TABLE
from .failures import declines
from .misconceptions import name_misconception
from .programs import ProbeProgram, probe_program, spellings
from .protocol import Source, Trace

# Points away from every kink and domain edge (log, sqrt and fractional powers need x > 0);
# distinct, so that swapped operands show.
PROBE_X, PROBE_Y = 0.7, 1.3

# What the check explains a failure with (node by node, and each probe): the op table. The
# verdict itself compares with the same twin's numbers for the case; see `reference`.
TWIN = TABLE

# Runs probe programs in the engine's worker and returns their traces, in order.
Prober = Callable[[Sequence[ProbeProgram]], Sequence[Trace]]


@dataclass(frozen=True)
class Finding:
    """What a probe found wrong with one op."""

    op: Op
    spelled: str  # the expression that misbehaves, e.g. "2.0 - x"
    problem: str  # e.g. "gives -1.3, expected 1.3"
    kind: str  # "type", "data", "grad", "precision", "offset" or "raises"
    composite: bool = False  # the engine builds this op from others (micrograd's x - y)
    reflected: bool = False  # a number on the left: the engine's reflected method ran
    misconception: str | None = None  # the common wrong form the numbers match, in words
    backward: Source | None = None  # where the worker says the op's backward rule is written

    def __str__(self) -> str:
        text = f"`{self.spelled}` {self.problem}"
        return f"{text}: {self.misconception}" if self.misconception else text

    @property
    def crash(self) -> bool:
        """The probe's own program raised. A case that ran to its end and gave wrong numbers was
        not made wrong by a crash: that is a problem of its own (often a spelling the case does
        not use, such as a plain number the engine does not wrap), never the cause."""
        return self.kind == "raises"

    def aside(self) -> str:
        """This finding as a separate problem, to follow an explanation it is not part of."""
        return f"; separately, `{self.spelled}` {self.problem} (not the cause here)"


def close(x: float, y: float, rtol: float = DEFAULT_RTOL) -> bool:
    """Within parity's tolerance (or a looser ``rtol``, for telling rounding from error)."""
    return Tolerance(rtol=rtol).close(x, y)


def shown(*numbers: float) -> list[str]:
    """Numbers with as few digits as still tell them apart: 6 usually, up to all 17."""
    for digits in (6, 10, 17):
        texts = [f"{x:.{digits}g}" for x in numbers]
        if len(set(texts)) == len(set(numbers)):
            return texts
    return [repr(x) for x in numbers]


def _precision(got: float, want: float) -> str:
    """A note when two numbers differ only as float32 rounding would make them."""
    if close(got, want, 1e-6):
        return f": a relative difference of {abs(got - want) / max(abs(want), 1e-300):.1g}, float32 precision"
    return ""


def input_offset(op: Op, x: float, got: float, want: float) -> float | None:
    """The small round number ε (a power of ten from 1e-12 to 1e-3, either sign) for which the
    unary ``op`` at ``x + ε`` gives ``got``, where ``want`` is its value at ``x``; None if none.

    Learners add such an ε by design (``log(x + 1e-6)`` keeps log 0 finite): named as an
    offset, like float32 precision, not as a wrong formula.
    """
    _, (slope,) = expected_at(op, (x,), (True,))
    if not (slope and math.isfinite(slope)):
        return None
    estimate = (got - want) / slope
    if estimate == 0 or not math.isfinite(estimate):
        return None
    # The slope only says which powers of ten to try: near a steep or curved stretch (log of a
    # small x) the straight-line estimate is off by a few percent, so each is tried exactly.
    power = round(math.log10(abs(estimate)))
    for candidate in (power, power - 1, power + 1):
        epsilon = math.copysign(10.0**candidate, estimate)
        if -12 <= candidate <= -3 and close(expected_at(op, (x + epsilon,), (True,))[0], got, 1e-9):
            return epsilon
    return None


def expected_at(op: Op, points: Sequence[float], as_value: Sequence[bool]) -> tuple[float, list[float]]:
    """``op``'s value at ``points`` and its derivatives for the Value operands, by `TWIN`."""
    columns = [[float(p)] for p in points]
    out = float(TWIN.apply_op(op, columns)[0])
    grads = TWIN.op_vjp(op, columns, [out], [1.0])
    return out, [float(g[0]) for g, is_value in zip(grads, as_value) if is_value]


def judge_probe(probe: ProbeProgram, trace: Trace) -> Finding | None:
    """The first thing wrong in one probe's trace, or None (right, or an op the engine lacks)."""
    op, spelled = probe.op, probe.spelled
    reflected = not probe.as_value[0]
    failed = trace.failed_at
    if failed is not None:
        error = trace.steps[failed].error
        assert error is not None
        if declines(error, op.name, probe.as_value):
            return None
        if "backward" in probe.program["steps"][failed]:
            return Finding(
                op, spelled, f"backward() raises {error.describe()}", "raises", reflected=reflected
            )
        if error.kind == "returned":
            return Finding(
                op,
                spelled,
                f"returns a {error.type} ({error.message}), not a Value: nothing before it gets a gradient",
                "type",
                reflected=reflected,
            )
        return Finding(op, spelled, f"raises {error.describe()}", "raises", reflected=reflected)
    ids = {s["let"]: trace.steps[k].node for k, s in enumerate(probe.program["steps"]) if "let" in s}
    made = trace.steps[next(k for k, s in enumerate(probe.program["steps"]) if s.get("let") == "out")]
    rule = made.backward  # where the op's backward rule is written, if the worker said
    graph = trace.observations[0].nodes
    out = graph[ids["out"]]  # type: ignore[index]
    composite = any(graph[i].inputs for i in out.inputs)
    want, want_grads = expected_at(op, probe.points, probe.as_value)
    if not close(out.data, want):
        mine, wanted = shown(out.data, want)
        offset = input_offset(op, probe.points[0], out.data, want) if op.arity == 1 else None
        if offset is not None:
            shift = f"x {'+' if offset > 0 else '-'} {abs(offset):g}"
            return Finding(
                op,
                spelled,
                f"gives {mine}, expected {wanted}: it computes {op.name}({shift}), an offset of "
                f"{offset:g} on its input (if that is by design, --accept offset accepts it)",
                "offset",
                composite,
                reflected,
            )
        tiny = _precision(out.data, want)
        why = (
            None
            if tiny
            else name_misconception(
                op.name, probe.points, want, [out.data], [want], quantity="data", reflected=reflected
            )
        )
        return Finding(
            op,
            spelled,
            f"gives {mine}, expected {wanted}{tiny}",
            "precision" if tiny else "data",
            composite,
            reflected,
            why,
        )
    scale = 1.0 if probe.upstream is None else probe.upstream
    values = [name for name, is_value in zip(("x", "y"), probe.as_value) if is_value]
    got_grads = [graph[ids[name]].grad for name in values]  # type: ignore[index]
    why = None
    if probe.upstream is None and None not in got_grads:
        why = name_misconception(
            op.name,
            probe.points,
            want,
            got_grads,
            want_grads,  # type: ignore[arg-type]
            quantity="grad",
            reflected=reflected,
        )
    for name, want_grad in zip(values, want_grads):
        got = graph[ids[name]].grad  # type: ignore[index]
        if got is not None and close(got, want_grad * scale):
            continue
        rule = _line_for(rule, made.backward_inputs, ("x", "y").index(name))
        if got is None:
            return Finding(
                op, spelled, f"leaves {name}.grad empty (None) after backward()", "grad", composite,
                reflected, backward=rule,
            )
        mine, wanted = shown(got, want_grad * scale)
        if probe.upstream is not None:
            problem = (
                f"passes d/d{name} = {mine} back under an upstream gradient of {probe.upstream:g}, "
                f"expected {wanted}: the rule must multiply by out.grad"
            )
        else:
            problem = f"gives d/d{name} = {mine}, expected {wanted}"
        at = ", ".join(f"{n}={p:.6g}" for n, p, v in zip(("x", "y"), probe.points, probe.as_value) if v)
        tiny = _precision(got, want_grad * scale)
        return Finding(
            op,
            spelled,
            f"{problem} (at {at}){tiny}",
            "precision" if tiny else "grad",
            composite,
            reflected,
            None if tiny else why,
            rule,
        )
    return None


def _line_for(rule: Source | None, lines: Sequence[int | None], operand: int) -> Source | None:
    """The backward rule's place, at the line that writes ``operand``'s gradient where the worker knows it."""
    line = lines[operand] if operand < len(lines) else None
    return rule if rule is None or line is None else replace(rule, line=line)


def _programs(op: Op, x: float, y: float, upstream: float | None) -> list[ProbeProgram]:
    return [
        probe_program(op, spelled, (x, y)[: len(as_value)], as_value, upstream)
        for spelled, as_value in spellings(op, x, y)
    ]


def probe(
    prober: Prober, op: Op, x: float = PROBE_X, y: float = PROBE_Y, upstream: float | None = None
) -> Finding | None:
    """The first thing wrong with ``op`` at (x, y) in any of its spellings, or None if it is right.

    With ``upstream``, the op's output is multiplied by a Value of that size before
    backward: a rule that forgets ``out.grad`` shows (trust it only once ``*`` probes clean).
    """
    return probe_each(prober, [(op, x, y)], upstream)[0]


def probe_each(
    prober: Prober, points: Sequence[tuple[Op, float, float]], upstream: float | None = None
) -> list[Finding | None]:
    """`probe` at each ``(op, x, y)``, every program in one request to the worker.

    A node used 150 times has 150 uses to probe; one request instead of 150 round trips.
    If the request as a whole is lost (a probe hung or ended the worker), each point is
    probed again on its own, so one bad point does not hide what the others show.
    """
    batches = [_programs(op, x, y, upstream) for op, x, y in points]
    flat = [program for batch in batches for program in batch]
    traces = list(prober(flat)) if flat else []
    if len(traces) != len(flat):
        return [_first_finding(batch, prober(batch)) for batch in batches]
    found = []
    for batch in batches:
        found.append(_first_finding(batch, traces[: len(batch)]))
        traces = traces[len(batch) :]
    return found


def _first_finding(programs: Sequence[ProbeProgram], traces: Sequence[Trace]) -> Finding | None:
    """The first wrong number among the spellings (both Values first), else the first crash."""
    findings = [judge_probe(program, trace) for program, trace in zip(programs, traces)]
    found = [f for f in findings if f is not None]
    return next((f for f in found if not f.crash), found[0] if found else None)


def first_broken(prober: Prober, ops: Sequence[Op]) -> Finding | None:
    """Probe each op at the standard points, then under an upstream gradient; the first finding.

    An op the engine builds from others is blamed only when none of its own ops is: a
    broken ``*`` also breaks micrograd's ``x - y``, and the learner should hear about ``*``.
    All programs of a round go to the worker in one request.
    """
    *found, mul_broken = probe_each(prober, [(op, PROBE_X, PROBE_Y) for op in (*ops, op_named("mul"))])
    findings = [f for f in found if f is not None]
    if all(f.crash for f in findings) and (mul_broken is None or mul_broken.crash):
        scaled = probe_each(prober, [(op, PROBE_X, PROBE_Y) for op in ops], upstream=2.5)
        findings += [f for f in scaled if f is not None and not f.crash]
    findings.sort(key=lambda f: (f.crash, f.composite))  # stable: table order within each group
    return findings[0] if findings else None
