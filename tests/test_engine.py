"""Engine semantics: the seed's numbers, reuse, depth, repeated backward, constants,
re-evaluation, nudging and bad input."""

from __future__ import annotations

import fractions
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from twingrad import Constant, Value, leaves, nudge, topological_order
from twingrad.examples import lecture_neuron, seed_graph
from twingrad.graph import trace

SRC = Path(__file__).resolve().parents[1] / "src"


# -- the seed notebook ------------------------------------------------------------------


def test_seed_graph_forward_and_backward() -> None:
    n = seed_graph()
    assert n["L"].data == -8.0
    n["L"].backward()
    grads = {name: n[name].grad for name in ("a", "b", "c", "e", "d", "f", "L")}
    assert grads == {"a": 6.0, "b": -4.0, "c": -2.0, "e": -2.0, "d": -2.0, "f": 4.0, "L": 1.0}


def test_seed_nudge_gives_the_corrected_number() -> None:
    n = seed_graph()
    n["L"].backward()
    after = nudge(n["L"], 0.01)
    # a=2.06, b=-3.04, c=9.98, f=-1.96: the seed's claimed -6.0 and printed -6.7236 were wrong.
    assert after == pytest.approx(-7.286496, rel=1e-12)
    assert n["L"].data == after
    assert (n["a"].data, n["b"].data, n["c"].data, n["f"].data) == pytest.approx((2.06, -3.04, 9.98, -1.96))
    assert n["e"].data == pytest.approx(2.06 * -3.04)  # intermediates were recomputed too


def test_lecture_neuron() -> None:
    n = lecture_neuron()
    n["o"].backward()
    assert n["o"].data == pytest.approx(1 / math.sqrt(2), rel=1e-12)
    assert n["n"].grad == pytest.approx(0.5, rel=1e-12)
    assert (n["x1"].grad, n["w1"].grad) == pytest.approx((-1.5, 1.0), rel=1e-12)
    assert (n["x2"].grad, n["w2"].grad) == pytest.approx((0.5, 0.0), abs=1e-12)


def test_tanh_through_exp_agrees_with_tanh_op() -> None:
    direct = lecture_neuron()
    direct["o"].backward()
    composed = lecture_neuron()
    e = (2 * composed["n"]).exp()
    o = (e - 1) / (e + 1)
    o.backward()
    assert o.data == pytest.approx(direct["o"].data, rel=1e-12)
    for name in ("x1", "x2", "w1", "w2", "b"):
        assert composed[name].grad == pytest.approx(direct[name].grad, rel=1e-9, abs=1e-12)


# -- reuse, shape and depth ----------------------------------------------------------------


def test_a_plus_a_keeps_both_edges() -> None:
    a = Value(3.0, label="a")
    b = a + a
    assert b._prev == (a, a)
    b.backward()
    assert a.grad == 2.0


def test_a_times_a() -> None:
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0


def test_diamond_and_fan_out() -> None:
    a = Value(1.5)
    left = a * 2.0
    right = a + 3.0
    top = left * right  # d/da = 2*(a+3) + 2a = 4a + 6
    top.backward()
    assert a.grad == 4 * 1.5 + 6
    x = Value(0.5)
    outs = [x.tanh(), x.exp(), x * x]  # three consumers
    s = outs[0] + outs[1] + outs[2]
    s.backward()
    assert x.grad == pytest.approx(1 - math.tanh(0.5) ** 2 + math.exp(0.5) + 1.0, rel=1e-12)


def test_topological_order_puts_inputs_first() -> None:
    n = seed_graph()
    order = topological_order(n["L"])
    position = {id(v): i for i, v in enumerate(order)}
    assert order[-1] is n["L"]
    for v in order:
        for child in v._prev:
            assert position[id(child)] < position[id(v)]
    assert len(order) == 7


def test_nodes_come_in_the_order_the_expression_is_written() -> None:
    n = seed_graph()
    assert [v.label for v in leaves(n["L"])] == ["a", "b", "c", "f"]
    assert [v.label for v in topological_order(n["L"])] == ["a", "b", "e", "c", "d", "f", "L"]
    # The same order as trace, which reports and drawings use, also with reuse and depth.
    x, y = Value(0.5, label="x"), Value(-1.5, label="y")
    shared = (x * y).tanh()
    root = (shared + x) * (y - shared) + (2.0 * x).exp()
    assert topological_order(root) == trace(root).nodes
    assert leaves(root) == [x, y]


def test_million_node_chain_runs_backward() -> None:
    x = Value(0.0, label="x")
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert y.data == 1_000_000.0
    assert x.grad == 1.0
    del y  # freeing a million-deep chain must not overflow the C stack either


def test_node_used_a_hundred_thousand_times() -> None:
    x = Value(2.0)
    total = Value(0.0)
    for _ in range(100_000):
        total = total + x
    total.backward()
    assert x.grad == 100_000.0


# -- repeated backward: torch's semantics ---------------------------------------------------


def _torch_twin_of_square_plus_one(x: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    sq = a * a
    sq.retain_grad()
    out = sq + 1
    out.retain_grad()
    return a, sq, out


def test_backward_twice_accumulates_like_torch() -> None:
    a = Value(2.0)
    sq = a * a
    out = sq + 1
    ta, tsq, tout = _torch_twin_of_square_plus_one(2.0)
    for _ in range(2):
        out.backward()
        tout.backward(retain_graph=True)
        assert (a.grad, sq.grad, out.grad) == (ta.grad.item(), tsq.grad.item(), tout.grad.item())
    # torch: 8 after two calls (micrograd would say 12: it re-sends the intermediate's total)
    assert a.grad == 8.0


def test_backward_after_zero_grad_starts_fresh() -> None:
    n = seed_graph()
    n["L"].backward()
    n["L"].backward()
    assert n["a"].grad == 12.0
    n["L"].zero_grad()
    assert all(v.grad == 0.0 for v in topological_order(n["L"]))
    n["L"].backward()
    assert n["a"].grad == 6.0


def test_backward_of_a_leaf() -> None:
    x = Value(4.0)
    x.backward()
    assert x.grad == 1.0


# -- constants, leaves, recompute and nudge ----------------------------------------------------


def test_numbers_become_constants_not_leaves() -> None:
    x = Value(3.0, label="x")
    y = 2 * x + 1
    two = y._a._a
    assert isinstance(two, Constant) and two.is_constant and two.data == 2.0
    assert y._a._prev == (two, x)  # `2 * x` records 2 first, as written
    assert leaves(y) == [x]
    y.backward()
    nudge(y, 0.1)
    assert two.data == 2.0  # nudge moves only the user's leaves
    assert x.data == pytest.approx(3.2)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (lambda x: 1 - x, -2.0),
        (lambda x: 2 / x, 2 / 3),
        (lambda x: 2**x, 8.0),
        (lambda x: x**3, 27.0),
        (lambda x: 3 * x, 9.0),
        (lambda x: x ** Value(2.0), 9.0),
        (lambda x: -x, -3.0),
    ],
)
def test_numbers_on_either_side(expression, expected: float) -> None:
    assert expression(Value(3.0)).data == pytest.approx(expected)


def test_recompute_follows_changed_leaves() -> None:
    n = seed_graph()
    n["a"].data = 5.0
    assert n["L"].recompute() == ((5.0 * -3.0) + 10.0) * -2.0
    assert n["e"].data == -15.0


def test_nudge_first_order_prediction() -> None:
    n = lecture_neuron()
    o = n["o"]
    o.backward()
    before = o.data
    step = 1e-4
    predicted = step * sum(leaf.grad**2 for leaf in leaves(o))
    assert nudge(o, step) - before == pytest.approx(predicted, rel=1e-3)


# -- accepted and rejected input --------------------------------------------------------------


@pytest.mark.parametrize(
    "number", [3, 3.0, True, np.float64(3.0), np.int64(3), np.float32(0.5), fractions.Fraction(1, 4)]
)
def test_real_numbers_are_accepted_and_stored_as_float(number) -> None:
    v = Value(number)
    assert type(v.data) is float and v.data == float(number)
    assert (Value(1.0) + number).data == 1.0 + float(number)
    assert (number * Value(2.0)).data == 2.0 * float(number)


@pytest.mark.parametrize(
    ("bad", "type_name"), [("x", "str"), (None, "NoneType"), (1 + 2j, "complex"), ([1.0], "list")]
)
def test_non_real_data_raises_type_error_naming_the_type(bad, type_name: str) -> None:
    with pytest.raises(TypeError, match=type_name):
        Value(bad)
    with pytest.raises(TypeError, match=type_name):
        Value(1.0) + bad
    with pytest.raises(TypeError, match=type_name):
        Value(1.0) * bad
    with pytest.raises(TypeError, match=type_name):
        Value(1.0) ** bad


def test_label_must_be_text() -> None:
    with pytest.raises(TypeError, match="label must be a str, not tuple"):
        Value(1.0, (Value(2.0),))


def test_nudge_rejects_a_non_number_step() -> None:
    with pytest.raises(TypeError, match="nudge step"):
        nudge(Value(1.0), "big")


def test_repr_is_helpful() -> None:
    n = seed_graph()
    assert repr(n["a"]) == "Value(data=2.0, grad=0.0, label='a')"
    assert repr(n["L"]) == "Value(data=-8.0, grad=0.0, label='L', op='*')"
    assert repr(Value(1.0) * 2) == "Value(data=2.0, grad=0.0, op='*')"


# -- packaging --------------------------------------------------------------------------------


def test_import_twingrad_loads_neither_torch_nor_graphviz() -> None:
    code = "import sys, twingrad; print(sorted(m for m in ('torch', 'graphviz', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_engine_works_where_torch_cannot_be_imported() -> None:
    # -S: no site-packages at all, so neither torch, numpy nor graphviz can load.
    code = (
        f"import sys; sys.path.insert(0, {str(SRC)!r})\n"
        "from twingrad import Value, nudge\n"
        "from twingrad.nn import MLP\n"
        "a = Value(2.0); L = (a * a).tanh(); L.backward()\n"
        "print(round(a.grad, 6), len(MLP(3, [4, 4, 1]).parameters()))\n"
        "try:\n    import torch\nexcept ImportError:\n    print('no torch')\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == [f"{round(4 * (1 - math.tanh(4.0) ** 2), 6)} 41", "no torch"]


def test_trace_of_twingrad_values_is_the_general_walk() -> None:
    from twingrad.graph import _trace_any

    x, y = Value(0.5, label="x"), Value(-1.5, label="y")
    shared = (x * y).tanh()
    root = (shared + x) * (y - shared) + (2.0 * x).exp() + (x + x)
    fast, general = trace(root), _trace_any(root)
    assert fast.nodes == general.nodes and fast.inputs == general.inputs
    assert [fast.position(n) for n in general.nodes] == list(range(len(general.nodes)))
