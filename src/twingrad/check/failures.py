"""How a failed step reads: an op the engine does not have, or a bug -- and where it happened.

The worker reports what went wrong (`protocol.WorkerError`): the engine lacked the
operation (``missing``), its code raised (``raised``, with its own frames), an op gave
back something that is not a node (``returned``), or a number could not be read
(``unreadable``). This module turns that into words and decides the one question of
classification: is it a refusal (``unsupported``) or a bug (``error``)?
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .protocol import Source, WorkerError
from .result import SourceLine

# A place the worker reported, as the user knows it: their own file (not the sandbox's copy),
# and for a notebook the cell and its line.
Placer = Callable[[Source], SourceLine]


def _as_reported(source: Source) -> SourceLine:
    return SourceLine(source.file, source.line, source.function)


def place(source: Source | None, shown: Placer = _as_reported) -> SourceLine | None:
    return None if source is None else shown(source)


def innermost(error: WorkerError, shown: Placer = _as_reported) -> SourceLine | None:
    return place(error.frames[-1], shown) if error.frames else None


# Python's own words when an operator has no implementation for its operands' types, per op.
_UNSUPPORTED_OPERANDS = {"pow": "unsupported operand type(s) for ** or pow():"}


def beyond_the_lecture(op: str, as_value: Sequence[bool]) -> bool:
    """Does the step give ``op`` an operand kind the lecture's engine does not take either?

    The lecture's ``__pow__`` takes a number exponent only (``x ** 2``; it asserts so) and it
    has no ``__rpow__`` (``2 ** x``): a Value exponent or a number base is beyond it. Every
    other kind -- numbers on either side of ``+ - * /``, ``-x``, ``x ** 2`` -- it handles.
    """
    return op == "pow" and len(as_value) == 2 and (as_value[1] or not as_value[0])


def declines(error: WorkerError, op: str = "", as_value: Sequence[bool] = ()) -> bool:
    """Does ``error`` mean "this engine has no such op" rather than "this op is broken"?

    * the engine lacks the method or operator (Python's dispatch found nothing);
    * it raised NotImplementedError;
    * an ``assert`` at the very entrance of the method the program called: micrograd's
      ``assert isinstance(other, (int, float))`` in ``__pow__``. One frame deep, or it is
      an assertion tripping somewhere inside (a constructor refusing a None: a bug);
    * Python's own TypeError "unsupported operand type(s) for ** or pow()" when ``op``
      (applied to operands that are Values where ``as_value`` says) gets an operand kind
      the lecture's engine does not take either (`beyond_the_lecture`): a ``__pow__``
      written for number exponents, as the lecture's, meeting a Value exponent. The same
      crash on a kind the lecture handles (``x * 3``, ``3 * x``, ``-x``) is a bug.
    """
    if error.kind == "missing":
        return True
    if error.kind != "raised":
        return False
    if error.type == "NotImplementedError" or (error.type == "AssertionError" and error.depth == 1):
        return True
    words = _UNSUPPORTED_OPERANDS.get(op)
    return (
        words is not None
        and error.type == "TypeError"
        and error.message.startswith(words)
        and beyond_the_lecture(op, as_value)
    )


def describe(error: WorkerError, shown: Placer = _as_reported) -> str:
    """One line: ``TypeError: message (engine.py:12 in __add__)``."""
    text = error.describe()
    where = innermost(error, shown)
    if where is not None:
        text += f" ({where.file.rsplit('/', 1)[-1]}:{where.line} in {where.function})"
    return text + _hint(error, shown)


def _hint(error: WorkerError, shown: Placer) -> str:
    """A sentence of advice for the exceptions that have a usual cause."""
    if error.type != "RecursionError":
        return ""
    functions = {f.function for f in error.frames[-10:]}
    if len(error.frames) >= 10 and len(functions) == 1:
        where = innermost(error, shown)
        return (
            f": `{next(iter(functions))}` calls itself without end ({where}) -- an operator that "
            "calls itself instead of the one it means"
        )
    return " (a recursive walk of the graph cannot go this deep: use an explicit stack)"
