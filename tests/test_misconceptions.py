"""The misconception namer: each wrong form is recognised from its own numbers, and nothing false is said.

Numbers for a form are computed from the form's formula at points where it differs from
the right derivative; torch's side comes from the op table (`twingrad.ops`), the same
formulas the engine's twin uses.
"""

from __future__ import annotations

import importlib.util
import math
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from twingrad.check.misconceptions import FORMS, Form, name_misconception
from twingrad.ops import OPS, OPS_BY_NAME

LEARNERS = Path(__file__).parent / "engines" / "learners"

UNARY_POINTS = (0.6, 1.9, -1.3, 2.7, -0.4)
POSITIVE_ONLY = {"log", "sqrt"}
BINARY_POINTS = ((0.7, 1.3), (1.9, -0.6), (-1.1, 2.3))
POW_POINTS = ((0.7, 2.0), (1.3, 3.0), (1.9, -1.0), (1.3, 0.5), (2.2, 2.5))
REFLECTED_POINTS = ((2.0, 0.7), (3.0, -1.3), (0.5, 1.9))


def _torch(op: str, a: float, b: float | None, quantity: str) -> tuple[float, tuple[float, ...]]:
    """The right output, and the right numbers (derivatives at upstream 1, or the output)."""
    record = OPS_BY_NAME[op]
    operands = (a,) if b is None else (a, b)
    out = record.forward(*operands)
    if quantity == "data":
        return out, (out,)
    grads = record.grad(1.0, out, *operands)
    return out, (grads,) if record.arity == 1 else tuple(grads)


def _probes(op: str, form: Form) -> Iterator[tuple[tuple[float, ...], float, list[float], list[float]]]:
    """(operands, out, engine numbers, torch numbers) for every probe shape the form applies to.

    Shapes: a unary op on a Value; ``x op y`` (both Values) and ``x op n`` (one); for a
    reflected form ``n op x``. The engine's numbers are the form's, the rest torch's.
    """
    if OPS_BY_NAME[op].arity == 1:
        points = [(x, None) for x in UNARY_POINTS if x > 0 or op not in POSITIVE_ONLY]
        shapes = [(0,)]
    elif form.reflected:
        points, shapes = list(REFLECTED_POINTS), [(1,)]
    else:
        points = list(POW_POINTS if op == "pow" else BINARY_POINTS)
        shapes = [(0, 1), (0,)] if form.quantity == "grad" else [(0, 1)]
    for a, b in points:
        out, right = _torch(op, a, b, form.quantity)
        formula = form.numbers(a, math.nan if b is None else b, out)
        operands = (a,) if b is None else (a, b)
        for shape in shapes:
            picked = (0,) if form.quantity == "data" else shape
            torch = [right[i] for i in picked]
            engine = [right[i] if formula[i] is None else formula[i] for i in picked]
            yield operands, out, engine, torch


ALL_FORMS = [(op, form) for op, group in FORMS.items() for form in group.forms]


def test_every_op_of_the_table_has_a_wrong_form_and_every_form_a_known_op() -> None:
    assert set(FORMS) == set(OPS_BY_NAME)
    assert all(FORMS[op.name].forms for op in OPS)


@pytest.mark.parametrize(("op", "form"), ALL_FORMS, ids=[f"{op}: {f.description}" for op, f in ALL_FORMS])
def test_each_form_is_named_from_its_own_numbers_and_never_mistaken_for_another(op: str, form: Form) -> None:
    named = 0
    for operands, out, engine, torch in _probes(op, form):
        said = name_misconception(op, operands, out, engine, torch, quantity=form.quantity,
                                  reflected=form.reflected)
        if said is None:
            continue  # allowed: the form coincides here with the right one or with another form
        assert form.description in said, (operands, engine, said)
        assert form.correct in said
        named += 1
    assert named >= 1, f"{op}: {form.description} was never recognised"


@pytest.mark.parametrize("op", sorted(FORMS))
def test_right_numbers_name_nothing(op: str) -> None:
    for form in FORMS[op].forms:
        for operands, out, _, torch in _probes(op, form):
            said = name_misconception(op, operands, out, list(torch), torch, quantity=form.quantity,
                                      reflected=form.reflected)
            assert said is None, (operands, said)


def test_the_sentence_names_the_form_and_the_right_one_in_a_learners_words() -> None:
    x = -1.3
    t = math.tanh(x)
    said = name_misconception("tanh", (x,), t, [1 - x * x], [1 - t * t], quantity="grad")
    assert said == "your tanh derivative equals 1 − x² (x the input), not 1 − tanh(x)²"


# Each line written as a learner's wrong rule would compute it, independently of FORMS.
_X = 0.6
_LEARNERS_RULES = [
    ("tanh", (_X,), [1 - math.tanh(_X)], "1 − tanh(x) (the square forgotten)"),
    ("exp", (_X,), [_X * math.exp(_X)], "x·eˣ"),
    ("log", (_X,), [1 / math.log(_X)], "1/log(x) (divided by the output, not the input)"),
    ("pow", (_X, 3.0), [3.0 * _X**3.0], "n·xⁿ (the exponent not lowered)"),
    ("sigmoid", (_X,), [(s := 1 / (1 + math.exp(-_X))) * (1 + s)], "σ(x)·(1 + σ(x)) (a plus for the minus)"),
    ("sqrt", (_X,), [1 / math.sqrt(_X)], "1/√x (the 2 forgotten)"),
    ("cos", (_X,), [math.sin(_X)], "sin(x) (the minus sign forgotten)"),
    ("mul", (_X, 1.7), [_X, 1.7], "each operand gets its own value"),
    ("sub", (_X, 1.7), [1.0, 1.0], "the minus sign forgotten"),
]


@pytest.mark.parametrize(("op", "operands", "engine", "phrase"), _LEARNERS_RULES,
                         ids=[row[0] for row in _LEARNERS_RULES])
def test_a_learners_wrong_rule_written_out_is_named(op: str, operands: tuple[float, ...], engine: list[float],
                                                    phrase: str) -> None:
    out, torch = _torch(op, operands[0], operands[1] if len(operands) > 1 else None, "grad")
    said = name_misconception(op, operands, out, engine, list(torch), quantity="grad")
    assert said is not None and phrase in said


def test_a_reflected_operator_computing_with_swapped_operands_is_named() -> None:
    said = name_misconception("sub", (2.0, 0.7), 1.3, [0.7 - 2.0], [1.3], quantity="data", reflected=True)
    assert said == "your subtraction gives x − n (the operands swapped), not n − x"
    said = name_misconception("pow", (2.0, 0.7), 2.0**0.7, [0.7**2.0], [2.0**0.7], quantity="data",
                              reflected=True)
    assert said is not None and "n ** x computed as x ** n" in said


def test_two_forms_that_coincide_at_the_point_name_nothing() -> None:
    # exp at x = 1: the forms "x (the input)" and "1" both give 1.
    assert name_misconception("exp", (1.0,), math.e, [1.0], [math.e], quantity="grad") is None
    # sigmoid at 0: σ(x) and 1 − σ(x) are both 0.5.
    assert name_misconception("sigmoid", (0.0,), 0.5, [0.5], [0.25], quantity="grad") is None
    # ...while away from those points each is named.
    e2 = math.exp(2.0)
    assert name_misconception("exp", (2.0,), e2, [1.0], [e2], quantity="grad") is not None


def test_a_form_that_agrees_with_torch_at_the_point_is_not_claimed() -> None:
    # relu "1 everywhere" is right for x > 0: a wrong number there is not that form.
    assert name_misconception("relu", (0.8,), 0.8, [0.5], [1.0], quantity="grad") is None


def test_numbers_no_form_explains_name_nothing() -> None:
    t = math.tanh(0.6)
    assert name_misconception("tanh", (0.6,), t, [42.0], [1 - t * t], quantity="grad") is None
    # float32 rounding of the right value is not a misconception either
    right = 1 - t * t
    rounded = struct.unpack("f", struct.pack("f", right))[0]
    assert name_misconception("tanh", (0.6,), t, [rounded], [right], quantity="grad") is None


def test_only_one_of_two_derivatives_wrong_is_named_when_the_form_speaks_of_it() -> None:
    # div: d/dx right, d/dy with its sign forgotten.
    x, y = 0.7, 1.3
    torch = [1 / y, -x / y**2]
    said = name_misconception("div", (x, y), x / y, [1 / y, x / y**2], torch, quantity="grad")
    assert said is not None and "the minus sign forgotten" in said
    # the same d/dy with a wrong d/dx as well fits no form
    assert name_misconception("div", (x, y), x / y, [5.0, x / y**2], torch, quantity="grad") is None


def test_the_learner_engines_expected_phrases_are_forms_of_this_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("learners_expected", LEARNERS / "expected.py")
    assert spec is not None and spec.loader is not None
    expected = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, expected)  # dataclasses look their module up there
    spec.loader.exec_module(expected)
    descriptions = {form.description for _, form in ALL_FORMS}
    used = set(expected.MISCONCEPTION_PHRASES)
    assert used and used <= descriptions, used - descriptions
