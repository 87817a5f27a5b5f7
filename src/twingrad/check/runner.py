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
from .cases import CASES_BY_NAME, Case
from .conventions import backward_twice
from .failures import Verdict, case_line, declined, describe, hint, is_node, missing_operator
from .foreign import resolve_foreign
from .locate import locate
from .picture import svg
from .probes import first_broken
from .result import ERROR, FAIL, PASS, UNSUPPORTED, verdict_to_wire

if TYPE_CHECKING:
    from ..parity import FunctionReport

Phase = Callable[[str], None]
NUDGE_STEP = 0.01  # the seed notebook's step


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
    except SystemExit as exc:  # not an Exception, but no reason to end the run either
        return verdict_to_wire(ERROR, f"the engine called sys.exit({exc.code!r})")
    except Exception as exc:  # the engine broke something the steps did not expect
        return verdict_to_wire(ERROR, f"{describe(exc)}{hint(exc)}")


def _run(engine: Any, case: Case, draw: bool, phase: Phase) -> dict[str, Any]:
    phase("building the graph")
    inputs, out = build(engine, case)
    phase("running backward()")
    backward(out)
    phase("comparing with torch")
    checked = compare_with_torch(engine, case)
    if checked.status == ERROR:  # our own run went through; the nudged one did not
        detail = checked.detail
        if checked.phase and not detail.startswith(checked.phase):
            detail = f"{checked.phase}: {detail}"
        return verdict_to_wire(ERROR, detail)
    if checked.ok and case.kind == "backward_twice":
        phase("running backward() a second time")
        return backward_twice(case, inputs, out, backward)
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
