"""The numeric witness: central differences from the op table, and what it says at a kink."""

from __future__ import annotations

import math

import pytest

from twingrad import Value
from twingrad.examples import lecture_neuron, seed_graph
from twingrad.parity import compare, make_plan
from twingrad.parity.numeric import downstream, evaluate, witness
from twingrad.parity.plan import read_numbers


def test_evaluate_reproduces_the_engines_forward() -> None:
    o = lecture_neuron()["o"]
    plan = make_plan(o)
    assert evaluate(plan, read_numbers(plan.nodes, "data")) == [node.data for node in plan.nodes]


def test_downstream_cone() -> None:
    nodes = seed_graph()
    plan = make_plan(nodes["L"])
    assert downstream(plan, plan.graph.position(nodes["c"])) == [4, 6]
    assert downstream(plan, 6) == []


def estimate(root: Value, node: Value, engine_grad: float, torch_grad: float):
    plan = make_plan(root)
    base = evaluate(plan, read_numbers(plan.nodes, "data"))
    return witness(plan, base, plan.graph.position(node), engine_grad, torch_grad)


def test_smooth_function_estimate_and_verdicts() -> None:
    n = lecture_neuron()
    true = 1 - math.tanh(n["n"].data) ** 2  # do/dn
    w = estimate(n["o"], n["n"], true, true)
    assert w.verdict == "both" and w.estimate == pytest.approx(true, rel=1e-8)
    assert estimate(n["o"], n["n"], true * 1.01, true).verdict == "torch"
    assert estimate(n["o"], n["n"], true, true * 1.01).verdict == "engine"
    assert estimate(n["o"], n["n"], true * 1.01, true * 0.99).verdict == "neither"
    assert "supports torch" in estimate(n["o"], n["n"], 0.0, true).describe()


def test_leaf_estimate_is_the_lectures_numerical_gradient() -> None:
    nodes = seed_graph()
    w = estimate(nodes["L"], nodes["a"], 6.0, 6.0)
    assert w.estimate == pytest.approx(6.0, rel=1e-9)
    assert w.left == pytest.approx(6.0, rel=1e-9) and w.right == pytest.approx(6.0, rel=1e-9)


@pytest.mark.parametrize("make", [lambda x: x.relu(), lambda x: abs(x), lambda x: (x * 3.0).relu() + x])
def test_a_kink_is_reported_not_guessed(make) -> None:
    x = Value(0.0)
    y = make(x)
    w = estimate(y, x, 0.0, 1.0)
    assert w.verdict == "kink"
    assert w.left != pytest.approx(w.right)
    assert "a kink" in w.describe() and "convention" in w.describe()


def test_not_finite_around_the_point() -> None:
    x = Value(0.0)
    assert estimate(x.log(), x, math.inf, math.inf).verdict == "undefined"


def test_compare_attaches_witnesses_where_asked() -> None:
    nodes = seed_graph()
    assert compare(nodes["L"]).witnesses == {}  # nothing diverged: "auto" computes none
    leaves = compare(nodes["L"], witness="leaves").witnesses
    assert sorted(leaves) == [0, 1, 3, 5] and {w.verdict for w in leaves.values()} == {"both"}
    assert len(compare(nodes["L"], witness="all").witnesses) == 7
    nodes["a"].grad = 0.0
    auto = compare(nodes["L"], backward=False, witness="auto")
    assert list(auto.witnesses) == [0] and auto.row_of(nodes["a"]).witness.verdict == "torch"


def test_relu_at_zero_hand_set_gradient_meets_a_kink() -> None:
    x = Value(0.0, label="x")
    y = x.relu()
    y.grad, x.grad = 1.0, 1.0  # one-sided: torch's convention is 0
    report = compare(y, backward=False)
    assert not report.ok
    assert report.row_of(x).witness.verdict == "kink"
    assert "A kink: one-sided slopes 0 and 1 differ" in report.summary
