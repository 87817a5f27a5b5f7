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

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..examples import name as set_label
from . import cases as catalogue
from .cases import CASES_BY_NAME, Case
from .probes import first_broken, is_node
from .result import ERROR, FAIL, PASS, UNSUPPORTED, verdict_to_wire

Phase = Callable[[str], None]
_CASES_FILE = str(Path(catalogue.__file__).resolve())
_PACKAGE = Path(__file__).resolve().parents[1]  # twingrad's own frames are never the engine's


class Verdict(Exception):  # noqa: N818 -- control flow, not an error
    """A case ends early with this status and detail (raised inside the steps below)."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _frames(exc: BaseException) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(exc.__traceback__))


def _in_catalogue(frame: traceback.FrameSummary) -> bool:
    try:
        return str(Path(frame.filename).resolve()) == _CASES_FILE
    except OSError:
        return False


def describe(exc: BaseException) -> str:
    """``TypeError: message (engine.py:12 in __add__)``: the innermost frame outside twingrad."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = text.splitlines()[0] if text else type(exc).__name__
    frames = _frames(exc)
    own = [f for f in frames if not _ours(f)]
    if own:
        frame = own[-1]
        text += f" ({Path(frame.filename).name}:{frame.lineno} in {frame.name})"
    return text


def _ours(frame: traceback.FrameSummary) -> bool:
    try:
        return Path(frame.filename).resolve().is_relative_to(_PACKAGE)
    except OSError:
        return False


def _case_line(exc: BaseException) -> str:
    """The catalogue's line where the exception passed, without ``return`` and comment."""
    lines = [f.line for f in _frames(exc) if _in_catalogue(f) and f.line]
    return lines[-1].removeprefix("return ").split("  #")[0] if lines else ""


def declined(exc: BaseException) -> bool:
    """Does ``exc`` mean "this engine has no such op" rather than "this op is broken"?

    * raised where the case calls the op, never entering the engine: a missing method
      (AttributeError on a Value) or an operator with no implementation (TypeError);
    * raised by the engine on purpose: ``assert isinstance(other, (int, float))`` as
      micrograd's ``**`` does, or NotImplementedError;
    * an AttributeError on a plain number inside the engine: it does not wrap numbers.
    """
    frames = _frames(exc)
    at_call = bool(frames) and _ours(frames[-1])  # the engine's code was never entered
    if isinstance(exc, AttributeError):
        obj = getattr(exc, "obj", None)
        if at_call:
            return is_node(obj)
        return isinstance(obj, (int, float)) and not isinstance(obj, bool)
    if isinstance(exc, TypeError):
        return at_call and "NoneType" not in str(exc)
    return isinstance(exc, (AssertionError, NotImplementedError))


def _forward_failure(exc: BaseException, engine: Any, case: Case) -> Verdict:
    line = _case_line(exc)
    where = f"`{line}`: " if line else ""
    if declined(exc):
        if isinstance(exc, AttributeError) and getattr(exc, "name", None):
            return Verdict(UNSUPPORTED, f"no .{exc.name}()")
        return Verdict(UNSUPPORTED, f"{where}{describe(exc)}")
    if "NoneType" in str(exc):
        fallback = f"an operation returned None ({where}{describe(exc)})"
        return Verdict(ERROR, _blame_types(engine, case, fallback))
    obj = getattr(exc, "obj", None)
    if isinstance(exc, AttributeError) and isinstance(obj, (int, float)):
        return Verdict(FAIL, _blame_types(engine, case, f"an operation returned a plain number ({obj!r})"))
    return Verdict(ERROR, f"{where}{describe(exc)}{_hint(exc)}")


def _hint(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return " (a recursive walk of the graph cannot go this deep: use an explicit stack)"
    return ""


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
        raise Verdict(ERROR, f"backward() raised {describe(exc)}{_hint(exc)}") from None


def run_case(engine: Any, case_name: str, *, draw: bool = False,
             phase: Phase = lambda _: None) -> dict[str, Any]:
    """The verdict of one case, as the worker sends it (`verdict_to_wire`)."""
    case = CASES_BY_NAME[case_name]
    try:
        return _run(engine, case, draw, phase)
    except Verdict as verdict:
        return verdict_to_wire(verdict.status, verdict.detail)
    except Exception as exc:  # the engine broke something the steps did not expect
        return verdict_to_wire(ERROR, f"{describe(exc)}{_hint(exc)}")


def _run(engine: Any, case: Case, draw: bool, phase: Phase) -> dict[str, Any]:
    phase("building the graph")
    _inputs, out = build(engine, case)
    phase("running backward()")
    backward(out)
    phase("comparing with torch")
    return verdict_to_wire(PASS, "TODO")
