"""Reading a foreign engine's graph in the op table's terms, for `twingrad.parity.compare`.

The parity mirror's own resolver reads the usual ``_op`` strings (table symbols and
names, micrograd's ``'**2'`` and ``'ReLU'``, ``x op x`` over a set). Learners' engines
stray further, and `resolve_foreign` goes on where it stops:

* more spellings: the Value methods that perform each op (``'truediv'``, ``'rsub'``)
  and a few words seen in the wild (``'ln'``, ``'σ'``, ``'minus'``);
* a non-commutative op over a set (``a - b`` whose ``_prev`` is ``{a, b}``): the order
  whose forward reproduces the node's ``data``;
* an unknown or empty label: the one op of the table (and operand order) whose forward
  reproduces ``data``, if exactly one does.

A label's reading that reproduces nothing is kept unless it had to double a lone input:
the engine's forward is off there, and the comparison will say so at that very node. Otherwise the node raises
`ResolveError` and the checker falls back to comparing outputs and input gradients.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..ops import OPS, Op, op_named
from ..parity.plan import CONSTANT, LEAF, Kind, Plan, Resolution, ResolveError, symbol_resolver

_WORDS = {
    "plus": "add", "minus": "sub", "times": "mul", "divide": "div", "^": "pow", "power": "pow",
    "negate": "neg", "ln": "log", "σ": "sigmoid", "sig": "sigmoid", "logistic": "sigmoid",
}
# How close a reading's forward must come to the node's data to be believed: loose enough
# for an engine that stores float32, tight enough to tell a*b from a+b at ordinary values.
_DATA_RTOL = 1e-5


def _aliases() -> dict[str, Op]:
    aliases = {method.strip("_"): op for op in OPS for method in op.methods}
    aliases.update({word: op_named(name) for word, name in _WORDS.items()})
    return aliases


_by_label = symbol_resolver(_aliases())


def _number(operand: Any) -> float:
    return float(operand) if isinstance(operand, (int, float)) else float(operand.data)


def _reproduces(op: Op, operands: Sequence[Any], data: float) -> bool:
    try:
        value = op.forward(*(_number(x) for x in operands))
    except (TypeError, ValueError, AttributeError, OverflowError):
        return False
    if math.isnan(value) or math.isnan(data):
        return math.isnan(value) and math.isnan(data)
    return value == data or abs(value - data) <= _DATA_RTOL * max(abs(value), abs(data))


def _readings(op: Op, inputs: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The operand tuples ``op`` could have had, given the node's inputs."""
    if op.arity == 1:
        return [inputs] if len(inputs) == 1 else []
    if len(inputs) == 2:
        return [inputs, inputs[::-1]]
    return [(inputs[0], inputs[0])] if len(inputs) == 1 else []


def _by_data(inputs: tuple[Any, ...], data: float, ops: Sequence[Op]) -> Resolution | None:
    """The single reading among ``ops`` whose forward gives ``data``; None if none or several."""
    found = {}
    for op in ops:
        for operands in _readings(op, inputs):
            if _reproduces(op, operands, data):
                found[(op.name, tuple(map(id, operands)))] = (op, operands)
    return next(iter(found.values())) if len(found) == 1 else None


def resolve_foreign(node: Any) -> Resolution:
    """Leaf, constant, or ``(op, operands)`` for a node of any micrograd-style engine."""
    inputs = tuple(getattr(node, "_prev", ()))
    try:
        reading: Resolution | None = _by_label(node)
    except ResolveError:
        reading = None
    if not inputs:
        if isinstance(reading, Kind):
            return reading
        return CONSTANT if getattr(node, "is_constant", False) else LEAF
    try:
        data = float(node.data)
    except (TypeError, ValueError, AttributeError):
        data = math.nan
    if reading is not None and not isinstance(reading, Kind):
        op, given = reading
        operands = inputs if given is None else tuple(given)
        if _reproduces(op, operands, data):
            return op, operands
        # Same op, the other order (a set lost it) ...
        other = _by_data(inputs, data, [op])
        if other is not None:
            return other
        # ... or trust the label, unless it doubled a lone input (`x op x` under a set):
        # that input may stand beside a constant the node keeps to itself.
        doubled = len(inputs) == 1 and op.arity == 2 and all(o is inputs[0] for o in operands)
        if not doubled:
            return op, operands
    guess = _by_data(inputs, data, OPS)
    if guess is not None:
        return guess
    raise ResolveError(
        f"cannot tell which op made a node with _op {str(getattr(node, '_op', ''))!r}, "
        f"{len(inputs)} input(s) and data {data!r}"
    )


def operand_values(plan: Plan, data: Sequence[float], i: int) -> list[float]:
    """The numbers node ``i`` of a plan was computed from: its inputs' data and its literals."""
    n = len(plan)
    return [float(data[j]) if j < n else plan.literals[j - n] for j in plan.operands[i]]
