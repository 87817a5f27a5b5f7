"""How an engine's exception reads: an op it does not have, or a bug -- and where it happened."""

from __future__ import annotations

import re
import traceback
from pathlib import Path
from typing import Any

from ..ops import OPS
from . import cases as catalogue

_CASES_FILE = str(Path(catalogue.__file__).resolve())
_PACKAGE = Path(__file__).resolve().parents[1]  # twingrad's own frames are never the engine's


def is_node(obj: Any) -> bool:
    """A graph node of some micrograd-style engine (a plain number is not)."""
    return hasattr(obj, "data") and callable(getattr(obj, "backward", None))


class Verdict(Exception):  # noqa: N818 -- control flow, not an error
    """A case ends early with this status and detail."""

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


def _ours(frame: traceback.FrameSummary) -> bool:
    try:
        return Path(frame.filename).resolve().is_relative_to(_PACKAGE)
    except OSError:
        return False


def describe(exc: BaseException) -> str:
    """One line: ``TypeError: message (engine.py:12 in __add__)``, at the innermost frame
    that is not twingrad's own."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({Path(exc.filename or '?').name}, line {exc.lineno})"
    message = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    own = [f for f in _frames(exc) if not _ours(f)]
    if own:
        text += f" ({Path(own[-1].filename).name}:{own[-1].lineno} in {own[-1].name})"
    return text


def hint(exc: BaseException) -> str:
    """A sentence of advice for the exceptions that have a usual cause."""
    if isinstance(exc, RecursionError):
        return " (a recursive walk of the graph cannot go this deep: use an explicit stack)"
    return ""


def case_line(exc: BaseException) -> str:
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


# Python's messages when an operator has no implementation for the operands it was given.
_BINARY = re.compile(r"unsupported operand type\(s\) for (\S+?)(?: or pow\(\))?: '(?:int|float)' and ")
_UNARY = {"bad operand type for unary -": "__neg__", "bad operand type for abs()": "__abs__"}


def missing_operator(exc: BaseException) -> str | None:
    """The method an operator looked for and did not find: ``__rsub__`` for ``1 - x``."""
    if not isinstance(exc, TypeError):
        return None
    text = str(exc)
    match = _BINARY.match(text)
    if match:
        for op in OPS:
            if op.arity == 2 and op.symbol == match.group(1):
                return op.methods[1]  # a number on the left: the Value's reflected method
    return next((name for prefix, name in _UNARY.items() if text.startswith(prefix)), None)
