"""Graphs as Python source: names, literals, and snippets that rebuild the same graph."""

from __future__ import annotations

import math

import pytest
from micrograd.engine import Value as MicrogradValue

from twingrad import Constant, Value
from twingrad.examples import seed_graph
from twingrad.graph import trace
from twingrad.parity import make_plan
from twingrad.parity.plan import read_numbers
from twingrad.parity.recipe import Recipe, literal, node_names


def recipe_of(root) -> Recipe:
    plan = make_plan(root)
    return Recipe(plan, read_numbers(plan.nodes, "data"))


@pytest.mark.parametrize(
    ("x", "text"),
    [(2.0, "2.0"), (-2.0, "(-2.0)"), (-0.0, "(-0.0)"), (math.inf, "math.inf"), (-math.inf, "(-math.inf)"),
     (math.nan, "math.nan"), (0.1, "0.1"), (5e-324, "5e-324")],
)
def test_literal_round_trips(x: float, text: str) -> None:
    assert literal(x) == text
    value = eval(text, {"math": math})
    same = value == x and math.copysign(1, value) == math.copysign(1, x)
    assert (math.isnan(value) and math.isnan(x)) or same


def test_names_from_labels_made_unique_and_valid() -> None:
    a1, a2 = Value(1.0, label="a"), Value(2.0, label="a")
    odd = Value(3.0, label="x|y")
    keyword = Value(4.0, label="lambda")
    clash = Value(5.0, label="n6")
    reserved = Value(6.0, label="Value")
    root = ((a1 + a2) * odd + keyword * clash) + reserved
    names = node_names(make_plan(root))
    assert len(set(names)) == len(names)
    assert names[:3] == ["a_0", "a_1", "n2"]
    assert "lambda" not in names and "Value" not in names
    assert all(name.isidentifier() for name in names)


def test_seed_graph_source() -> None:
    source = recipe_of(seed_graph()["L"]).source()
    assert source == (
        "from twingrad import Value\n"
        "from twingrad.parity import assert_parity\n\n"
        "a = Value(2.0, label='a')\n"
        "b = Value(-3.0, label='b')\n"
        "e = a * b\n"
        "e.label = 'e'\n"
        "c = Value(10.0, label='c')\n"
        "d = e + c\n"
        "d.label = 'd'\n"
        "f = Value(-2.0, label='f')\n"
        "L = d * f\n"
        "L.label = 'L'\n\n"
        "assert_parity(L)\n"
    )
    namespace: dict = {}
    exec(source, namespace)  # runs the parity check too
    assert namespace["L"].data == -8.0


def test_rebuilding_gives_the_same_graph() -> None:
    x = Value(0.5, label="x")
    shared = Constant(2.0)
    root = ((-2.0) ** x + x * shared + shared * x.exp() + 3.0 - x).tanh() + abs(-x) + Constant(1.5).log()
    recipe = recipe_of(root)
    again = recipe.build()
    original, rebuilt = trace(root), trace(again)
    assert rebuilt.inputs == original.inputs
    assert [n.data for n in rebuilt.nodes] == pytest.approx([n.data for n in original.nodes], nan_ok=True)
    assert [type(n).__name__ for n in rebuilt.nodes] == [type(n).__name__ for n in original.nodes]
    text = recipe.source()
    assert "(-2.0) ** x" in text  # a negative base keeps its parentheses
    assert "Constant(2.0)" in text  # a constant used twice stays one node
    assert "n16 = Constant(1.5)\nn17 = n16.log()" in text  # an op on a constant alone
    assert "from twingrad import Constant, Value" in text


def test_foreign_graph_is_written_as_a_twingrad_graph() -> None:
    a = MicrogradValue(3.0)
    recipe = recipe_of(a**2 + a)
    assert "n1 = n0 ** 2.0" in recipe.source()
    assert recipe.build().data == 12.0
