"""Naming the misconception: which wrong form a learner's numbers for one op match.

A probe of a single op measures what the engine gives (its output, or its local
derivatives at an upstream gradient of 1) and what torch gives. This module compares
the engine's numbers with the wrong forms learners really write -- tanh' as 1 - x², exp'
as x·eˣ, ``2 - x`` computed as ``x - 2`` -- and says which one they match, in the
learner's words: "your tanh derivative equals 1 − x² (x the input), not 1 − tanh(x)²".

It is pure: plain floats in, a sentence (or None) out; no torch, no engine. One table,
`FORMS`, drives it: per op, the wrong forms, each a tiny formula. A form is only named when
it explains the numbers and no other form explains them as well: at a point where two
forms coincide (or where a form happens to agree with torch) nothing is said, since a
wrong name is worse than none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..ops import OPS_BY_NAME, ieee_cos, ieee_div, ieee_pow, ieee_sin
from ..parity.tolerances import Tolerance

Quantity = Literal["data", "grad"]
# (a, b, out) -> one number per operand (grad) or the output (data); None: "not this form's
# business", that number must then agree with torch. `b` is nan for a unary op.
Formula = Callable[[float, float, float], tuple[float | None, ...]]

# Close enough to be the same formula evaluated in another order, far from any real difference
# between two forms at the points a probe uses.
RTOL = 1e-7
ATOL = 1e-12
SAME = Tolerance(RTOL, ATOL)


@dataclass(frozen=True)
class Form:
    """One wrong way to write an op: what it is called, what it computes, what is right."""

    description: str  # in the learner's words: "1 − x² (x the input)"
    numbers: Formula
    correct: str  # the right form, for the sentence: "1 − tanh(x)²"
    quantity: Quantity = "grad"
    reflected: bool = False  # a form of `n op x`, a number on the left


@dataclass(frozen=True)
class OpForms:
    label: str  # how the sentence names the op: "tanh", "power x ** n"
    forms: tuple[Form, ...]


def _grad(correct: str) -> Callable[..., Form]:
    """A maker of an op's derivative forms that share the right form ``correct``."""

    def make(description: str, numbers: Formula, *, reflected: bool = False,
             right: str | None = None) -> Form:
        return Form(description, numbers, right or correct, "grad", reflected)

    return make


def _unary(correct: str, rows: Sequence[tuple[str, Callable[[float, float], float]]]) -> tuple[Form, ...]:
    """Derivative forms of a unary op, each ``f(x, out)``."""
    make = _grad(correct)
    return tuple(make(text, lambda a, b, out, f=f: (f(a, out),)) for text, f in rows)


def _data(description: str, correct: str, numbers: Formula, *, reflected: bool = False) -> Form:
    return Form(description, numbers, correct, "data", reflected)


_add = _grad("1 for each operand")
_sub = _grad("+1 for x and −1 for y")
_mul = _grad("y for x and x for y")
_div = _grad("1/y for x and −x/y² for y")
_pow = _grad("n·xⁿ⁻¹")

FORMS: dict[str, OpForms] = {
    "add": OpForms("addition", (
        _add("1 for x and 0 for y (the second operand forgotten)", lambda a, b, out: (1.0, 0.0)),
    )),
    "sub": OpForms("subtraction", (
        _sub("+1 for both operands (the minus sign forgotten)", lambda a, b, out: (1.0, 1.0)),
        _sub("−1 for x and +1 for y (the signs swapped)", lambda a, b, out: (-1.0, 1.0)),
        _data("x − n (the operands swapped)", "n − x", lambda a, b, out: (b - a,), reflected=True),
    )),
    "mul": OpForms("multiplication", (
        _mul("x for x and y for y (each operand gets its own value, not the other's)",
             lambda a, b, out: (a, b)),
        _mul("1 for both operands (as for addition)", lambda a, b, out: (1.0, 1.0)),
    )),
    "div": OpForms("division", (
        _div("+x/y² for y (the minus sign forgotten)", lambda a, b, out: (None, ieee_div(a, b * b))),
        _div("−1/y² for y (the x forgotten)", lambda a, b, out: (None, ieee_div(-1.0, b * b))),
        _data("x / n (the operands swapped)", "n / x", lambda a, b, out: (ieee_div(b, a),), reflected=True),
        _div("1/n (the derivative of x / n: the operands swapped)",
             lambda a, b, out: (None, ieee_div(1.0, a)), reflected=True, right="−n/x²"),
    )),
    "pow": OpForms("power x ** n", (
        _pow("n·xⁿ (the exponent not lowered)", lambda a, b, out: (b * ieee_pow(a, b), None)),
        _pow("xⁿ⁻¹ (the factor n forgotten)", lambda a, b, out: (ieee_pow(a, b - 1.0), None)),
        _pow("(n−1)·xⁿ⁻² (the power rule applied twice)",
             lambda a, b, out: ((b - 1.0) * ieee_pow(a, b - 2.0), None)),
        _pow("n·xⁿ⁺¹ (the exponent raised)", lambda a, b, out: (b * ieee_pow(a, b + 1.0), None)),
        _data("xⁿ (base and exponent swapped: n ** x computed as x ** n)", "nˣ",
              lambda a, b, out: (ieee_pow(b, a),), reflected=True),
    )),
    "neg": OpForms("negation", (
        *_unary("−1", [("+1 (the sign forgotten)", lambda x, out: 1.0)]),
        _data("x (the sign forgotten)", "−x", lambda a, b, out: (a,)),
    )),
    "exp": OpForms("exp", _unary("eˣ", [
        ("x·eˣ", lambda x, out: x * out),
        ("x (the input)", lambda x, out: x),
        ("1", lambda x, out: 1.0),
    ])),
    "log": OpForms("log", _unary("1/x", [
        ("1/log(x) (divided by the output, not the input)", lambda x, out: ieee_div(1.0, out)),
        ("log(x) (the function itself)", lambda x, out: out),
        ("1/x²", lambda x, out: ieee_div(1.0, x * x)),
    ])),
    "tanh": OpForms("tanh", _unary("1 − tanh(x)²", [
        ("1 − x² (x the input)", lambda x, out: 1.0 - x * x),
        ("1 − tanh(x) (the square forgotten)", lambda x, out: 1.0 - out),
        ("tanh(x)²", lambda x, out: out * out),
        ("1 + tanh(x)²", lambda x, out: 1.0 + out * out),
        ("−(1 − tanh(x)²) (the sign flipped)", lambda x, out: -(1.0 - out * out)),
    ])),
    "relu": OpForms("relu", _unary("1 for x > 0 and 0 otherwise", [
        ("1 everywhere (the kink ignored)", lambda x, out: 1.0),
        ("relu(x) (the output itself)", lambda x, out: out),
    ])),
    "sigmoid": OpForms("sigmoid", _unary("σ(x)·(1 − σ(x))", [
        ("σ(x) (the output itself)", lambda x, out: out),
        ("1 − σ(x)", lambda x, out: 1.0 - out),
        ("σ(x)·(1 + σ(x)) (a plus for the minus)", lambda x, out: out * (1.0 + out)),
    ])),
    "sin": OpForms("sin", _unary("cos(x)", [
        ("−cos(x) (a sign too many)", lambda x, out: -ieee_cos(x)),
        ("sin(x) (the function itself)", lambda x, out: ieee_sin(x)),
    ])),
    "cos": OpForms("cos", _unary("−sin(x)", [
        ("sin(x) (the minus sign forgotten)", lambda x, out: ieee_sin(x)),
        ("cos(x) (the function itself)", lambda x, out: ieee_cos(x)),
    ])),
    "sqrt": OpForms("sqrt", _unary("1/(2√x)", [
        ("1/√x (the 2 forgotten)", lambda x, out: ieee_div(1.0, out)),
        ("√x/2", lambda x, out: out / 2.0),
    ])),
    "abs": OpForms("abs", _unary("sign(x)", [
        ("1 everywhere (the sign of x ignored)", lambda x, out: 1.0),
        ("|x| (the function itself)", lambda x, out: abs(x)),
    ])),
}


def close(x: float, y: float) -> bool:
    """The same number up to the order of floating-point operations; nan matches nan."""
    return SAME.close(x, y, max(abs(x), abs(y)))


def _all_close(xs: Sequence[float], ys: Sequence[float]) -> bool:
    return len(xs) == len(ys) and all(close(x, y) for x, y in zip(xs, ys))


def _measured(numbers: tuple[float | None, ...], arity: int, quantity: Quantity, reflected: bool,
              count: int) -> tuple[float | None, ...]:
    """The entries of a form's numbers that the probe measured.

    A data probe measures the output. A grad probe measures one derivative per Value
    operand: both of a binary op, or the one Value -- on the right in ``n op x``
    (reflected), on the left in ``x op n``.
    """
    if quantity == "data" or arity == 1 or count == 2:
        return numbers
    return (numbers[1],) if reflected else (numbers[0],)


def name_misconception(op: str, operands: Sequence[float | None], out: float, engine: Sequence[float],
                       torch: Sequence[float], *, quantity: Quantity,
                       reflected: bool = False) -> str | None:
    """Which wrong form of ``op`` the engine's numbers match, as a sentence; None if none (or several).

    ``op`` is an op table name; ``operands`` the operand values as written (``(2.0, 0.7)``
    for ``2.0 - x`` at x = 0.7, with ``reflected=True``; None stands for an absent operand);
    ``out`` the right output. For ``quantity="grad"``, ``engine`` and ``torch`` hold the
    local derivatives for each Value operand at an upstream gradient of 1; for "data", the
    output alone.
    """
    record = OPS_BY_NAME[op]
    values = [math.nan if v is None else float(v) for v in operands] + [math.nan, math.nan]
    a, b = values[0], values[1]
    if _all_close(engine, torch):
        return None  # nothing is wrong
    matches: list[tuple[Form, tuple[float, ...]]] = []
    for form in FORMS[op].forms:
        if form.quantity != quantity or form.reflected != reflected:
            continue
        predicted = _measured(form.numbers(a, b, out), record.arity, quantity, reflected, len(engine))
        # An entry the form does not speak about must be right for the form to fit.
        expected = tuple(t if p is None else p for p, t in zip(predicted, torch))
        if len(predicted) != len(engine) or _all_close(expected, torch):
            continue  # at this point the form cannot be told from the right one
        if _all_close(engine, expected):
            matches.append((form, expected))
    if len(matches) != 1:
        return None  # no form fits, or two fit equally well here: say nothing rather than guess
    form, _ = matches[0]
    label = FORMS[op].label
    if form.quantity == "data":
        return f"your {label} gives {form.description}, not {form.correct}"
    return f"your {label} derivative equals {form.description}, not {form.correct}"
