"""One case on one engine, start to verdict. Runs where the engine runs (the worker process).

The steps, each reported as a phase so that a timeout can say where the engine hung:

1. build the case's graph from ``Name(x)`` inputs; an op the engine lacks makes the case
   ``unsupported``, any other exception an ``error``; a result that is None or a plain
   number is reported as such;
2. call ``backward()`` once;
3. compare with torch through `twingrad.parity.check_function` (output, input gradients,
   nudge) -- the verdict;
4. if it fails, look for the first node that disagrees (`twingrad.check.locate`), and
   probe the ops involved to name the culprit (`twingrad.check.probes`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..examples import name as set_label
from ..graph import GraphError
from ..ops import Op
from ..parity import ResolveError
from ..parity.mirror import Plan, make_plan, op_vjp
from ..parity.recipe import Recipe, node_names
from .cases import CASES_BY_NAME, Case
from .failures import Verdict, case_line, declined, describe, hint, missing_operator
from .foreign import resolve_foreign
from .locate import locate
from .picture import svg
from .probes import close, first_broken, is_node, shown
from .result import ERROR, FAIL, NOTE, PASS, UNSUPPORTED, Mismatch, verdict_to_wire

if TYPE_CHECKING:
    from ..parity import FunctionReport

Phase = Callable[[str], None]


def _forward_failure(exc: BaseException, engine: Any, case: Case) -> Verdict:
    line = case_line(exc)
    where = f"`{line}`: " if line else ""
    if declined(exc):
        if isinstance(exc, AttributeError) and getattr(exc, "name", None):
            return Verdict(UNSUPPORTED, f"no .{exc.name}()")
        missing = missing_operator(exc)
        if missing:  # Python's own message names the operator and the types
            return Verdict(UNSUPPORTED, f"no {missing}: {exc}")
        return Verdict(UNSUPPORTED, f"{where}{describe(exc)}")
    if "NoneType" in str(exc):
        fallback = f"an operation returned None ({where}{describe(exc)})"
        return Verdict(ERROR, _blame_types(engine, case, fallback))
    obj = getattr(exc, "obj", None)
    if isinstance(exc, AttributeError) and isinstance(obj, (int, float)):
        why = _blame_types(engine, case, f"an operation returned a plain number ({obj!r})")
        return Verdict(FAIL, f"{where}{describe(exc)}: {why}")
    return Verdict(ERROR, f"{where}{describe(exc)}{hint(exc)}")


def make_inputs(engine: Any, case: Case) -> list[Any]:
    """``Name(x)`` for each input, labelled with the case's parameter names where possible."""
    values = []
    for label, x in zip(case.input_names, case.inputs):
        try:
            value = engine(x)
        except Exception as exc:
            shown = getattr(engine, "__name__", "the engine")
            raise Verdict(ERROR, f"{shown}({x!r}) raised {describe(exc)}") from None
        values.append(set_label(value, label))
    return values


def build(engine: Any, case: Case) -> tuple[list[Any], Any]:
    """The case's inputs and output in the engine; a `Verdict` if it cannot be built."""
    inputs = make_inputs(engine, case)
    try:
        out = case.fn(*inputs)
    except Exception as exc:
        raise _forward_failure(exc, engine, case) from None
    if out is None:
        raise Verdict(ERROR, "the result is None: "
                      + _blame_types(engine, case, "an operation returned None"))
    if not is_node(out):
        raise Verdict(FAIL, f"the result is a {type(out).__name__} ({out!r}), not a Value: "
                      + _blame_types(engine, case, "an operation returned a plain number and cut the graph"))
    return inputs, out


def _blame_types(engine: Any, case: Case, otherwise: str) -> str:
    finding = first_broken(engine, case.op_records, declined)
    return str(finding) if finding is not None else otherwise


def backward(out: Any) -> None:
    try:
        out.backward()
    except Exception as exc:
        raise Verdict(ERROR, f"backward() raised {describe(exc)}{hint(exc)}") from None


def run_case(engine: Any, case_name: str, *, draw: bool = False,
             phase: Phase = lambda _: None) -> dict[str, Any]:
    """The verdict of one case, as the worker sends it (`verdict_to_wire`)."""
    case = CASES_BY_NAME[case_name]
    try:
        return _run(engine, case, draw, phase)
    except Verdict as verdict:
        return verdict_to_wire(verdict.status, verdict.detail)
    except Exception as exc:  # the engine broke something the steps did not expect
        return verdict_to_wire(ERROR, f"{describe(exc)}{hint(exc)}")


def _run(engine: Any, case: Case, draw: bool, phase: Phase) -> dict[str, Any]:
    phase("building the graph")
    inputs, out = build(engine, case)
    phase("running backward()")
    backward(out)
    phase("comparing with torch")
    checked = compare_with_torch(engine, case)
    if checked.status == ERROR:  # the engine broke on the nudged inputs: our own run did not
        return verdict_to_wire(ERROR, f"{checked.phase}: {checked.detail}")
    if checked.ok and case.kind == "backward_twice":
        phase("running backward() a second time")
        return twice(case, inputs, out)
    if checked.ok:
        return verdict_to_wire(PASS, _agreement(case, checked))
    phase("locating the first disagreement")
    found = locate(engine, case, inputs, out, checked)
    drawing, note = None, ""
    if draw and found.report is not None:
        phase("drawing the graph")
        drawing, note = svg(found.report)
    return verdict_to_wire(FAIL, found.detail + note, found.mismatch, drawing)


def compare_with_torch(engine: Any, case: Case) -> FunctionReport:
    """`twingrad.parity.check_function` on the case: output, input gradients, nudged output."""
    from ..parity import check_function

    def by_name(**values: Any) -> Any:
        return case.fn(*values.values())  # the inputs keep the case's names in the reports

    return check_function(by_name, dict(zip(case.input_names, case.inputs)), engine=engine,
                          step=NUDGE_STEP, resolver=resolve_foreign, name=case.name)


def _agreement(case: Case, checked: FunctionReport) -> str:
    if case.kind != "nudge" or checked.engine_after is None:
        return checked.detail
    predicted = checked.engine_before + checked.torch_predicted
    return (f"nudged by {checked.step:g} x grad: {checked.engine_before:.7g} -> {checked.engine_after:.7g} "
            f"on both sides (first-order prediction {predicted:.7g})")


NUDGE_STEP = 0.01  # the seed notebook's step


def twice(case: Case, inputs: list[Any], out: Any) -> dict[str, Any]:
    """Backward a second time: torch adds a fresh, equal gradient; other conventions get a note."""
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
        args = [data[j] if j < n else plan.literals[j - n] for j in ins]
        for j, share in zip(ins, op_vjp(op, args, data[c], grads[c])):
            if j < n:
                grads[j] += share
    return grads
