"""The verdict on one case, from its trace: the parent's side of the trust split.

The worker ran the case program and reported what happened (`protocol.Trace`). Here,
with nothing of the engine's code in this process:

1. a step that failed is classified -- the engine lacks the op (``unsupported``), it
   raised or gave back a non-node (``error``, with the engine's file:line);
2. otherwise the traced graph is rebuilt (`traced.rebuild`) and judged like any engine
   run (`twingrad.parity.function.judge_run`): output, input gradients and the nudged
   output against the expected numbers of the case at this run's inputs
   (`twingrad.check.reference`: the op table's float64 twin of torch's formulas); and the
   engine's nudge against its own gradients (`nudge_inconsistency`: the output must move as
   they predict, up to the curvature);
3. a failure is explained (`locate`): the first node that disagrees, the op to blame
   (probes, run as more programs in the same worker), and the line that defines it;
4. the repeated-backward case is judged against the known conventions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..ops import Op, op_named
from ..parity.function import FunctionReport, judge_run, torch_report
from ..parity.plan import resolve_foreign
from ..parity.tolerances import Tolerance
from ..verdict import BY_TWINGRAD
from .cases import Case
from .conventions import backward_twice
from .failures import Placer, declines, describe, innermost, place
from .locate import Evidence, Location, locate
from .probes import TWIN, Finding, Prober, shown
from .programs import NUDGE_STEP, CaseProgram
from .protocol import EngineInfo, StepResult, Trace
from .reference import reference
from .result import ERROR, FAIL, NOTE, PASS, UNSUPPORTED, CaseResult, Drawing, SourceLine
from .traced import rebuild

AGREE = "output, input gradients and nudged output agree with torch's formulas"
# What a float32 engine needs (--float32's rtol): the nudge's consistency is judged no looser,
# however far --rtol is loosened, and no tighter than the tolerance itself.
_CONSISTENCY_RTOL = 1e-4


@dataclass
class Judge:
    """What every case of one engine is judged with."""

    engine: EngineInfo
    prober: Prober
    shown: Placer
    tolerance: Tolerance
    draw: bool = False
    owns: Callable[[str], bool] = lambda reported: False  # a worker's path names a file of the engine
    accept: frozenset[str] = frozenset()  # finding kinds by design (--accept): a note

    @property
    def graph_visible(self) -> bool:
        return self.engine.spellings.get("inputs") is not None

    def numbers(self, program: CaseProgram, trace: Trace) -> CaseResult | None:
        """The verdict from a numbers-only run (``read`` steps), when it can be given there: a
        failed step, or every number agreeing with the expected ones. None when something disagrees: the
        case is then run again with its graph observed, for `case` to say where and why."""
        case = program.case
        failed = trace.failed_at
        if failed is not None:
            if failed >= program.nudge_start and self._wrong_before_nudge(program, trace):
                return None  # gradients already wrong (the nudge then left a domain): `case` says where
            return self._failed_step(program, trace, failed, CaseResult(case.name, case.ops, PASS))
        read: dict[str, list[StepResult]] = {}
        for role, k in program.reads:
            read.setdefault(role, []).append(trace.steps[k])
        out, out_after = read["out"][0].data, read["out'"][0].data
        grads = [step.grad for step in read["in"]]
        moved = [step.data for step in read["in'"]]
        expected = _reference(case)
        if out is None or out_after is None or any(g is None for g in grads):
            return None
        expected_moved = [x + NUDGE_STEP * g for x, g in zip(case.inputs, grads)]  # type: ignore[operator]
        close = self.tolerance.close
        if not (
            close(out, expected.torch_before)
            and close(out_after, expected.torch_after)
            and moved == expected_moved
            and all(close(g, t) for g, t in zip(grads, expected.torch_grads))  # type: ignore[arg-type]
            and self.inconsistency(case, out, out_after, grads) is None  # type: ignore[arg-type]
        ):
            return None
        result = CaseResult(case.name, case.ops, PASS, AGREE)
        if case.kind == "backward_twice":
            again = [step.grad or 0.0 for step in read["again"]]
            verdict = backward_twice(case, grads, again)  # type: ignore[arg-type]
            result.status, result.detail, result.mismatch = verdict.status, verdict.detail, verdict.mismatch
        elif case.kind == "nudge":
            result.detail = _nudged(out, out_after, expected.torch_predicted or 0.0)
        return result

    def case(self, program: CaseProgram, trace: Trace) -> CaseResult:
        case = program.case
        result = CaseResult(case.name, case.ops, PASS)
        failed = trace.failed_at
        if failed is not None and (failed < program.nudge_start or not trace.observations):
            return self._failed_step(program, trace, failed, result)
        ran = trace.steps  # up to the failed step, when the nudge failed
        ids = {s["let"]: ran[k].node for k, s in enumerate(program.steps) if "let" in s and k < len(ran)}
        rank = {node: k for k, node in enumerate(ids.values()) if node is not None}
        first = rebuild(trace.observations[0], rank)
        inputs = [first[ids[n]] for n in case.input_names]  # type: ignore[index]
        out = first[ids[program.output]]  # type: ignore[index]
        empty = [n for n, x in zip(case.input_names, inputs) if x.grad is None]
        if empty:
            result.status, result.detail = (
                FAIL,
                (
                    f"{', '.join(empty)}.grad {'is' if len(empty) == 1 else 'are'} empty (None) after "
                    "backward(): a leaf must receive its gradient"
                ),
            )
            return result
        nudged: Any = None
        moved: list[Any] = []
        if failed is None:
            second = rebuild(trace.observations[1], rank)
            nudged = second[ids[program.nudged_output]]  # type: ignore[index]
            moved = [second[ids[f"{n}'"]] for n in case.input_names]  # type: ignore[index]
        checked = judge_run(
            _reference(case),
            inputs,
            out,
            out.data,
            [x.grad for x in inputs],
            math.nan if nudged is None else nudged.data,
            resolve_foreign,
            self.tolerance,
            graph=self.graph_visible,
            twin=TWIN,
        )
        if failed is not None and all(c.ok for c in checked.checks[:-1]):
            return self._failed_step(program, trace, failed, result)  # right until the nudge broke it
        own = [float(x.grad) for x in inputs]
        inconsistent = self.inconsistency(case, out.data, nudged.data, own) if checked.ok else None
        if inconsistent is not None:
            result.status, result.detail = FAIL, inconsistent
            return result
        if checked.ok and case.kind == "backward_twice":
            again = rebuild(trace.observations[2], rank)
            verdict = backward_twice(
                case, [x.grad for x in inputs], [again[x.trace_id].grad or 0.0 for x in inputs]
            )
            result.status, result.detail, result.mismatch = verdict.status, verdict.detail, verdict.mismatch
            return result
        if checked.ok:
            result.detail = _agreement(case.kind, checked)
            return result
        evidence = Evidence(
            self.engine.name, case, inputs, out, nudged, moved, NUDGE_STEP, self.graph_visible, self.prober
        )
        found = locate(evidence, checked)
        result.status, result.detail, result.mismatch = FAIL, found.detail, found.mismatch
        if failed is not None:  # the wrong gradients took an input out of its domain
            then = self._failed_step(program, trace, failed, CaseResult(case.name, case.ops, PASS))
            result.detail += f"; the nudge by these gradients then failed: {then.detail}"
        if found.finding is not None:
            finding = found.finding
            result.source = self._rule(finding) or self._defined(finding.op, finding.reflected)
            result.misconception = found.finding.misconception
            result.culprit = found.finding.op.name
            if found.finding.kind in self.accept:  # the case goes wrong first where the design says
                result.status = NOTE
                result.detail = f"accepted by design ({found.finding.kind}): {found.detail}"
        if self.draw and found.report is not None:
            result.svg, note = _drawing(found)
            result.detail += note
        return result

    def _wrong_before_nudge(self, program: CaseProgram, trace: Trace) -> bool:
        """Do the output or the gradients a numbers-only run read before the nudge disagree?"""
        expected = _reference(program.case)
        read = {(role, k): trace.steps[k] for role, k in program.reads if role in ("out", "in")}
        out = [step.data for (role, _), step in read.items() if role == "out"]
        grads = [step.grad for (role, _), step in read.items() if role == "in"]
        if len(out) != 1 or any(g is None for g in grads) or out[0] is None:
            return True
        close = self.tolerance.close
        return not (
            close(out[0], expected.torch_before)  # type: ignore[arg-type]
            and all(close(g, t) for g, t in zip(grads, expected.torch_grads))  # type: ignore[arg-type]
        )

    def inconsistency(self, case: Case, before: float, after: float, grads: Sequence[float]) -> str | None:
        return nudge_inconsistency(case, before, after, grads, self.tolerance)

    # -- a step that did not work ----------------------------------------------------------------

    def _failed_step(self, program: CaseProgram, trace: Trace, k: int, result: CaseResult) -> CaseResult:
        step = program.step_at(k)
        error = trace.steps[k].error
        assert error is not None
        nudge = k >= program.nudge_start
        before = "after the nudge: " if nudge and "backward" not in step else ""
        if "backward" in step:
            second = nudge and program.case.kind == "backward_twice"
            result.status = ERROR
            result.detail = (
                f"{'the second ' if second else ''}backward() raised {describe(error, self.shown)}"
            )
            result.source = innermost(error, self.shown)
        elif "observe" in step:
            result.status = ERROR
            result.detail = f"reading the engine's graph failed: {describe(error, self.shown)}"
            result.source = innermost(error, self.shown)
        elif "apply" in step:
            self._failed_op(program, step, error, result, before)
        else:  # making an input
            x = step.get("value", "its nudged value")
            result.status = ERROR
            result.detail = f"{before}{self.engine.name}({x!r}) raised {describe(error, self.shown)}"
            result.source = innermost(error, self.shown)
        return result

    def _failed_op(
        self, program: CaseProgram, step: dict[str, Any], error: Any, result: CaseResult, before: str
    ) -> None:
        op = op_named(step["apply"])
        spelled = _spelled(program, step)
        reflected = "number" in step["args"][0]
        if error.kind == "missing":
            result.status = UNSUPPORTED
            wanted = error.name or op.methods[0]
            result.detail = f"no .{wanted}()" if not wanted.startswith("__") else f"no {wanted}: `{spelled}`"
            return
        if declines(error, op.name, ["ref" in a for a in step["args"]]):
            result.status = UNSUPPORTED
            result.detail = f"the engine refuses `{spelled}`: {describe(error, self.shown)}"
            result.source = innermost(error, self.shown)
            return
        result.status = ERROR
        result.culprit = op.name
        if error.kind == "returned":
            result.detail = (
                f"{before}`{spelled}` returned a {error.type} ({error.message}), not a Value: "
                "the graph is cut there and nothing before it gets a gradient"
            )
            result.source = self._defined(op, reflected)
            return
        result.detail = f"{before}`{spelled}` raised {describe(error, self.shown)}"
        result.source = innermost(error, self.shown) or self._defined(op, reflected)

    def _rule(self, finding: Finding) -> SourceLine | None:
        """A wrong derivative's own line, in the backward rule the worker found, if in the engine's files."""
        where = finding.backward
        if finding.kind != "grad" or where is None or not self.owns(where.file):
            return None
        return place(where, self.shown)

    def _defined(self, op: Op, reflected: bool) -> SourceLine | None:
        return place(self.engine.defines(op, reflected), self.shown)


def nudge_inconsistency(
    case: Case, before: float, after: float, grads: Sequence[float], tolerance: Tolerance
) -> str | None:
    """Why the engine's nudge contradicts its own gradients, or None when it does not.

    The worker moved each input by ``h * grad`` with the engine's gradients g; to first
    order the output then moves by ``h * Σ g²``. What the first order leaves out is, for
    the case's true function F, exactly ``Q = F(x + h g) - F(x) - h ∇F·g`` (the twin
    computes it along the engine's own step). A correct engine moves by ``h Σ g² + Q``
    up to its rounding, so a move further from the first-order prediction than ``2 |Q|``
    plus a rounding allowance is impossible for it: its gradients are not the slopes of
    its own output.
    """
    if not all(math.isfinite(v) for v in (before, after, *grads)):
        return None  # the comparison with the expected numbers speaks to these
    try:
        curvature = reference(case).remainder(grads)
    except (ArithmeticError, ValueError):
        return None
    if not math.isfinite(curvature):
        return None
    predicted = NUDGE_STEP * math.fsum(g * g for g in grads)
    moved = after - before
    rtol = min(tolerance.rtol, _CONSISTENCY_RTOL)
    rounding = 8.0 * rtol * (abs(before) + abs(after) + predicted) + tolerance.atol
    slack = 2.0 * abs(curvature) + rounding
    if abs(moved - predicted) <= slack:
        return None
    first, second = shown(moved, predicted)
    return (
        f"the engine's own nudge contradicts its gradients: x += {NUDGE_STEP:g} * x.grad moved the "
        f"output by {first}, where those gradients predict {second} (first order, {NUDGE_STEP:g} * sum "
        f"of grad²; the curvature accounts for at most {abs(curvature):.3g}): they are not the slopes of "
        "its own output"
    )


def _spelled(program: CaseProgram, step: dict[str, Any], depth: int = 0) -> str:
    """A step as the learner would write it: ``1 - x``, ``(a * b).tanh()``."""
    makers = {s["let"]: s for s in program.steps if "let" in s}

    def operand(arg: dict[str, Any]) -> str:
        if "number" in arg:
            return repr(arg["number"])
        name = arg["ref"]
        maker = makers.get(name, {})
        if "apply" not in maker:
            return name.rstrip("'")
        inner = _spelled(program, maker, depth + 1) if depth < 2 else "..."
        return f"({inner})"

    op = op_named(step["apply"])
    return op.format(*(operand(a) for a in step["args"]))


def _reference(case: Case) -> FunctionReport:
    """A report holding the case's expected numbers at this run's inputs, for `judge_run` to fill in
    the engine's."""
    expected = reference(case)
    return torch_report(case.name, dict(zip(case.input_names, case.inputs)), NUDGE_STEP,
                        expected.numbers.output, expected.numbers.grads, expected.after, BY_TWINGRAD)


def _agreement(kind: str, checked: FunctionReport) -> str:
    if kind != "nudge" or checked.engine_after is None or checked.engine_before is None:
        return checked.detail
    return _nudged(checked.engine_before, checked.engine_after, checked.torch_predicted or 0.0)


def _nudged(before: float, after: float, torch_predicted: float) -> str:
    """The nudge case's verdict: the step, the output before and after, torch's first-order guess."""
    return (
        f"nudged by {NUDGE_STEP:g} x grad: {before:.7g} -> {after:.7g} on both sides "
        f"(first-order prediction {before + torch_predicted:.7g})"
    )


def _drawing(found: Location) -> tuple[Drawing | None, str]:
    from .picture import svg

    assert found.report is not None
    picture, note = svg(found.report)  # a Drawing already, with its close-up
    return picture, note


__all__ = ["Judge", "nudge_inconsistency"]
