"""check_function: one function, any micrograd-style engine, every odd thing it may do."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from micrograd.engine import Value as MicrogradValue

from twingrad import Value
from twingrad.parity import check_function

TANH_ONE_ULP_APART = 8.422943629324456  # see test_parity_comparison


def make_engine(
    *, mul_grad: float = 1.0, store=float, radd_returns_float: bool = False, grad_none: bool = False
):
    """A small micrograd-style engine whose bugs are switched on by the arguments."""

    class Toy:
        def __init__(self, data, _children=(), _op=""):
            self.data = store(data)
            self.grad = None if grad_none else 0.0
            self._backward = lambda: None
            self._prev = tuple(_children)
            self._op = _op

        def __add__(self, other):
            other = other if isinstance(other, Toy) else Toy(other)
            out = Toy(self.data + other.data, (self, other), "+")

            def backward():
                self.grad += out.grad
                other.grad += out.grad

            out._backward = backward
            return out

        def __radd__(self, other):
            if radd_returns_float:
                return other + self.data  # the graph is silently cut here
            return self + other

        def __mul__(self, other):
            other = other if isinstance(other, Toy) else Toy(other)
            out = Toy(self.data * other.data, (self, other), "*")

            def backward():
                self.grad += mul_grad * other.data * out.grad
                other.grad += self.data * out.grad

            out._backward = backward
            return out

        __rmul__ = __mul__

        def tanh(self):
            out = Toy(math.tanh(self.data), (self,), "tanh")

            def backward():
                self.grad += (1 - out.data**2) * out.grad

            out._backward = backward
            return out

        def backward(self):
            order, seen = [], set()

            def visit(v):
                if v not in seen:
                    seen.add(v)
                    for child in v._prev:
                        visit(child)
                    order.append(v)

            visit(self)
            self.grad = 1.0
            for v in reversed(order):
                v._backward()

    return Toy


def f(a, b):
    return (a * b + 1.0).tanh() * a + 2.0


def test_twingrad_passes_and_reports_every_number() -> None:
    report = check_function(f, [0.3, -0.7])
    assert report.ok and report.status == "pass", report.summary
    assert [(c.where, c.quantity) for c in report.checks] == [
        ("output", "data"), ("x0", "grad"), ("x1", "grad"), ("output after nudge", "data")
    ]
    assert report.engine_after == report.torch_after
    assert report.engine_predicted == pytest.approx(report.torch_predicted)
    assert report.graph is None  # nothing to localise


def test_micrograd_passes_where_it_has_the_ops() -> None:
    def g(a, b):
        return (a * b + 1.0).relu() * a - b**2 + 3 * a - 1

    report = check_function(g, {"a": 2.0, "b": -0.5}, engine=MicrogradValue)
    assert report.ok, report.summary
    assert [c.where for c in report.checks][1:3] == ["a", "b"]
    assert report.engine_after == pytest.approx(report.torch_after, rel=1e-12)  # re-run, no recompute


def test_a_missing_op_is_an_error_in_the_forward_phase() -> None:
    report = check_function(lambda a: a.tanh(), [0.5], engine=MicrogradValue)
    assert report.status == "error" and report.phase == "forward"
    assert isinstance(report.error, AttributeError)
    assert "AttributeError" in report.detail and "tanh" in report.detail


def test_a_wrong_derivative_fails_and_is_localised_in_the_engines_graph() -> None:
    report = check_function(f, [0.3, -0.7], engine=make_engine(mul_grad=2.0))
    assert report.status == "fail"
    assert (report.mismatch.where, report.mismatch.quantity) == ("x0", "grad")
    assert report.graph is not None and not report.graph.ok
    assert "(suspect: mul)" in report.detail
    assert "suspect the derivative of mul" in report.graph.summary


def test_an_engine_storing_float32_is_reported_as_precision_loss() -> None:
    report = check_function(f, [0.3, -0.7], engine=make_engine(store=np.float32))
    assert report.status == "fail"
    assert report.mismatch.quantity == "data" and report.mismatch.where == "output"
    assert "precision loss" in report.detail and "float32" in report.detail
    assert "the data of n2 = x0 * x1 is the first to diverge (suspect: mul)" in report.detail


def test_a_reverse_operator_returning_a_float_cuts_the_graph() -> None:
    Toy = make_engine(radd_returns_float=True)
    report = check_function(lambda a: 1.0 + a * a, [0.5], engine=Toy)
    assert report.status == "error"
    assert "returned a float" in report.detail and "graph was cut" in report.detail
    assert report.engine_before == 1.25  # the number itself was right
    # Cut inside: (1.0 + a) is a float, so a's gradient misses that path.
    cut_inside = check_function(lambda a: (1.0 + a) * a, [0.5], engine=Toy)
    assert cut_inside.status == "fail"
    mismatch = cut_inside.mismatch
    assert (mismatch.where, mismatch.engine, mismatch.expected, mismatch.by) == ("x0", 1.5, 2.0, "torch")


def test_a_grad_that_stays_none_is_an_error() -> None:
    report = check_function(lambda a: a * a, [0.5], engine=make_engine(grad_none=True))
    assert report.status == "error" and report.phase == "backward"
    assert "TypeError" in report.detail


def test_odd_return_values_never_crash() -> None:
    for returned, words in ((None, "None"), ((1, 2), "tuple"), ("x", "str")):

        def odd(a, r=returned):
            return r if isinstance(a, Value) else a  # torch gets a proper answer

        report = check_function(odd, [0.5])
        assert report.status == "error" and words in report.detail


def test_an_engine_constructor_that_raises() -> None:
    def broken(x):
        raise RuntimeError("no")

    report = check_function(lambda a: a, [1.0], engine=broken)
    assert report.status == "error" and report.phase == "inputs"


def test_a_function_torch_cannot_run_is_the_callers_bug() -> None:
    with pytest.raises(ValueError, match="fails on torch tensors"):
        check_function(lambda a: a.not_an_op(), [1.0])
    with pytest.raises(ValueError, match="not a one-element tensor"):
        check_function(lambda a: 3.0, [1.0])


def test_unused_inputs_have_zero_gradient_on_both_sides() -> None:
    report = check_function(lambda a, b: a * 2.0, [1.0, 5.0])
    assert report.ok and report.checks[2].torch == 0.0


def test_amplified_rounding_is_explained_by_the_engines_graph() -> None:
    report = check_function(lambda a: a.tanh(), [TANH_ONE_ULP_APART])
    assert report.ok, report.summary
    assert not all(c.ok for c in report.checks)  # x0's gradient is 1.2e-9 apart
    assert report.graph is not None and report.graph.ok
    assert "rounding the function amplifies" in report.detail


def test_json_shape() -> None:
    report = check_function(f, [0.3, -0.7], engine=make_engine(mul_grad=2.0))
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["status"] == "fail"
    assert set(data["mismatch"]) == {"where", "quantity", "engine", "expected", "by"}
    assert data["mismatch"]["by"] == "torch"  # check_function compares with torch's own run
    assert data["graph"]["ok"] is False
    assert "MISMATCH" in str(report) and "<table" in report._repr_html_()


def test_twingrad_nudge_recomputes_in_place_and_restores() -> None:
    seen = []

    def h(a):
        out = a * a
        if isinstance(a, Value):
            seen.append(out)
        return out

    report = check_function(h, [3.0], step=0.1)
    assert report.ok and report.engine_after == pytest.approx((3.0 + 0.1 * 6.0) ** 2)
    assert len(seen) == 1 and isinstance(seen[0], Value)  # one graph, recomputed: fn ran once
    assert seen[0].data == 9.0 and seen[0]._a.data == 3.0  # and put back as it was checked


def test_a_graph_that_cannot_be_mirrored_keeps_the_reason() -> None:
    class Odd:
        """Multiplies right, but calls it 'frobnicate' and gets the second input's grad wrong."""

        def __init__(self, data, _children=(), _op=""):
            self.data, self.grad, self._prev, self._op = data, 0.0, tuple(_children), _op
            self._backward = lambda: None

        def __mul__(self, other):
            out = Odd(self.data * other.data, (self, other), "frobnicate")

            def backward():
                self.grad += other.data * out.grad
                other.grad += 2 * self.data * out.grad

            out._backward = backward
            return out

        def backward(self):
            self.grad = 1.0
            for node in (self, *self._prev):
                node._backward()

    report = check_function(lambda a, b: a * b, [2.0, 3.0], engine=Odd)
    assert report.status == "fail" and report.graph is None
    assert "frobnicate" in str(report.graph_error)
