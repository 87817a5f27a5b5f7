"""Reading a foreign engine's graph in the op table's terms, so it can be mirrored in torch.

A learner's node says what made it only through ``_op`` -- a free-form string -- and its
inputs through ``_prev`` (a tuple, a list, or micrograd's set, which forgets order and
duplicates). `resolve` turns one node into a table op and its operands:

* the label, compared without case against every spelling the table knows (symbol,
  name, method names) and a few the lecture's descendants use (``ReLU``, ``ln``, ``σ``);
* a number in the label is a constant operand: micrograd's ``**2`` is ``x ** 2``;
* a binary op with one distinct input is that input twice (``a + a`` under a set);
* where the order of inputs is lost (a set) or the label means nothing to us, the
  node's own ``data`` decides among the candidates: the one whose forward reproduces it.

A node it cannot read returns None: the checker then compares outputs and input
gradients only and says that it could not look inside.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ..ops import OPS, Op, op_named

Operand = Any  # a node of the foreign graph, or a float constant taken from the label
Resolution = tuple[Op, tuple[Operand, ...]]

# Spellings seen in learners' engines that the table's own names do not cover.
_EXTRA_SPELLINGS = {
    "plus": "add", "minus": "sub", "times": "mul", "divide": "div", "^": "pow", "power": "pow",
    "negate": "neg", "ln": "log", "σ": "sigmoid", "sig": "sigmoid", "logistic": "sigmoid",
}


def _spellings() -> dict[str, list[Op]]:
    table: dict[str, list[Op]] = {}

    def add(word: str, op: Op) -> None:
        ops = table.setdefault(word.lower(), [])
        if op not in ops:
            ops.append(op)

    for op in OPS:
        add(op.symbol, op)
        add(op.name, op)
        for method in op.methods:
            add(method.strip("_"), op)
    for word, name in _EXTRA_SPELLINGS.items():
        add(word, op_named(name))
    add("-", op_named("neg"))  # "-" with one input is negation
    return table


SPELLINGS = _spellings()
# A binary op's symbol or name followed by a number: "**2", "^ -1", "*3", "pow(0.5)".
_WITH_NUMBER = re.compile(
    r"^\s*([^\d\s.()+-][^\d\s()]*?|[+-])"  # the op: "**", "pow", "^", or a lone sign
    r"\s*\(?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*\)?\s*$",  # the number, maybe in ()
    re.IGNORECASE,
)

# How close a candidate's forward must come to the node's data to be believed. Loose
# enough for an engine that stores float32, tight enough to tell a*b from a+b.
_DATA_RTOL = 1e-5


def _close(x: float, y: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or abs(x - y) <= _DATA_RTOL * max(abs(x), abs(y), 1e-300)


def _value(operand: Operand) -> float:
    return float(operand) if isinstance(operand, (int, float)) else float(operand.data)


def _forward_matches(op: Op, operands: Sequence[Operand], data: float) -> bool:
    try:
        return _close(op.forward(*(_value(x) for x in operands)), data)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, AttributeError):
        return False


def _candidates(label: str, inputs: Sequence[Any]) -> list[tuple[Op, tuple[Operand, ...]]]:
    """Readings of a node, the label's own first; empty if the label fits no input count."""
    key = label.strip().lower()
    found: list[tuple[Op, tuple[Operand, ...]]] = []
    ops = SPELLINGS.get(key)
    if ops is not None:
        for op in ops:
            if op.arity == 1 and len(inputs) == 1:
                found.append((op, (inputs[0],)))
            elif op.arity == 2 and len(inputs) == 2:
                found.append((op, (inputs[0], inputs[1])))
                found.append((op, (inputs[1], inputs[0])))  # in case the order was lost
            elif op.arity == 2 and len(inputs) == 1:
                found.append((op, (inputs[0], inputs[0])))  # a + a under a set
        return found
    match = _WITH_NUMBER.match(key)
    if match and len(inputs) == 1:
        number = float(match.group(2))
        for op in SPELLINGS.get(match.group(1).lower(), []):
            if op.arity == 2:
                found.append((op, (inputs[0], number)))
        return found
    return found


def resolve(node: Any) -> Resolution | None:
    """The table op that made ``node`` and its operands, or None if it cannot be told.

    Leaves are not resolved (they have no op); call this on nodes with inputs.
    """
    label = getattr(node, "_op", "")
    inputs = tuple(getattr(node, "_prev", ()))
    if isinstance(label, Op):  # twingrad's own nodes carry the table entry itself
        return label, inputs
    label = str(label or "")
    try:
        data = float(node.data)
    except (TypeError, ValueError, AttributeError):
        return None
    candidates = _candidates(label, inputs)
    if candidates:
        ordered = tuple(inputs) if not isinstance(node._prev, (set, frozenset)) else None
        for op, operands in candidates:
            if _forward_matches(op, operands, data):
                return op, operands
        # A forward that reproduces nothing is the engine's bug, not ours: trust the label,
        # in the order the engine gave (a set gives none; the first reading stands).
        if ordered is not None or len(candidates) >= 1:
            return candidates[0]
    # An unknown label: the one op (and order) whose forward reproduces the data, if unique.
    arity = len(inputs)
    guesses = []
    for op in OPS:
        if op.arity == arity:
            orders = [inputs] if arity == 1 else [inputs, inputs[::-1]]
            guesses.extend((op, tuple(o)) for o in orders if _forward_matches(op, o, data))
        elif op.arity == 2 and arity == 1 and _forward_matches(op, (inputs[0], inputs[0]), data):
            guesses.append((op, (inputs[0], inputs[0])))
    distinct = {(op.name, tuple(id(o) for o in operands)) for op, operands in guesses}
    if len(distinct) == 1:
        return guesses[0]
    return None
