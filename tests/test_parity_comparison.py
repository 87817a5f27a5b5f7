"""compare / assert_parity: the seed's hand-set gradients, and every way the checker must fail."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from micrograd.engine import Value as MicrogradValue

from twingrad import Value, op_named
from twingrad.examples import lecture_neuron, seed_graph
from twingrad.parity import assert_parity, compare

SEED_GRADS = {"a": 6.0, "b": -4.0, "c": -2.0, "e": -2.0, "d": -2.0, "f": 4.0, "L": 1.0}
# math.tanh and torch's tanh differ by one ULP here, and 1 - tanh(x)**2 is 1.9e-7: the
# gradient differs by 1.2e-9 relative although both sides are right.
TANH_ONE_ULP_APART = 8.422943629324456


def seed_by_hand() -> dict[str, Value]:
    nodes = seed_graph()
    for name, grad in SEED_GRADS.items():
        nodes[name].grad = grad
    return nodes


def float32(x: float) -> float:
    return float(np.float32(x))


# -- the seed's manual backprop ------------------------------------------------------------------


def test_seed_hand_set_gradients_pass_without_backward() -> None:
    nodes = seed_by_hand()
    report = compare(nodes["L"], backward=False)
    assert report.ok, report.summary
    assert [row.expression for row in report.rows] == [
        "a", "b", "e = a * b", "c", "d = e + c", "f", "L = d * f"
    ]
    assert [row.torch_grad for row in report.rows] == [6.0, -4.0, -2.0, -2.0, -2.0, 4.0, 1.0]
    assert all(row.data_ulps == 0 and row.grad_ulps == 0 for row in report.rows)
    assert nodes["a"].grad == 6.0  # backward=False left the engine's gradients alone


@pytest.mark.parametrize("name", ["a", "e", "f"])
def test_one_wrong_hand_set_gradient_is_named(name: str) -> None:
    nodes = seed_by_hand()
    nodes[name].grad += 1.0
    report = compare(nodes["L"], backward=False)
    assert not report.ok
    position = report.plan.graph.position(nodes[name])
    assert report.culprits() == {position}
    assert report.first_divergences() == [(position, "grad")]
    assert f"grad of {name} (" in report.summary
    assert report.summary.startswith("engine vs torch: mismatched nodes")
    row = report.row_of(nodes[name])
    assert row.grad_status == "diverged" and not row.grad_ok and row.culprit


def test_a_wrong_intermediate_gradient_makes_its_inputs_inherit() -> None:
    nodes = seed_by_hand()
    nodes["d"].grad = 5.0
    nodes["e"].grad = nodes["c"].grad = 5.0  # consistent with the wrong d.grad
    nodes["a"].grad, nodes["b"].grad = 5.0 * -3.0, 5.0 * 2.0
    report = compare(nodes["L"], backward=False)
    statuses = {row.name: row.grad_status for row in report.rows}
    assert statuses == {"a": "inherited", "b": "inherited", "e": "inherited", "c": "inherited",
                        "d": "diverged", "f": "ok", "L": "ok"}
    assert "suspect the derivative of mul there" in report.summary  # d's consumer is L = d * f


def test_backward_true_runs_the_engine_on_fresh_gradients() -> None:
    nodes = seed_graph()
    nodes["a"].grad = 100.0  # stale: backward=True must not add to it
    report = compare(nodes["L"])
    assert report.ok
    assert {name: nodes[name].grad for name in SEED_GRADS} == SEED_GRADS


def test_root_gradient_must_be_the_seed() -> None:
    nodes = seed_graph()  # nothing set by hand: every grad is 0
    report = compare(nodes["L"], backward=False)
    root = len(report) - 1
    assert report.culprits() == {root}
    assert "this is the root, whose gradient is the seed 1.0" in report.summary


# -- float32 and broken ops ----------------------------------------------------------------------


def test_a_float32_rounded_intermediate_is_flagged_and_named() -> None:
    nodes = lecture_neuron()
    n = nodes["n"]
    n.data = float32(n.data)  # the value went through float32; o below still saw the exact one
    report = compare(nodes["o"])
    assert not report.ok
    assert report.first_divergences()[0] == (report.plan.graph.position(n), "data")
    row = report.row_of(n)
    assert row.data_status == "diverged" and 1e-9 < row.data_rel < 1e-7
    assert "torch's add on the engine's own inputs gives" in report.summary


def test_float32_downstream_of_a_divergence_is_inherited() -> None:
    x = Value(0.3, label="x")
    y = x * 1.7
    y.label = "y"
    z = y.exp()
    z.label = "z"
    y.data = float32(y.data)
    z.data = math.exp(y.data)  # z is right for the rounded y
    report = compare(z)
    assert report.row_of(y).data_status == "diverged"
    assert report.row_of(z).data_status == "inherited"
    assert report.culprits() == {report.plan.graph.position(y)}


def test_float64_noise_passes_but_float32_does_not() -> None:
    rng = np.random.default_rng(0)
    for value in rng.uniform(-10, 10, size=50):
        x = Value(float(value), label="x")
        y = (x * 0.37).tanh()
        y.data = float(np.nextafter(np.nextafter(y.data, np.inf), np.inf))  # 2 ULP off
        assert compare(y).ok
        y.data = float32(y.data)
        assert not compare(y).ok


def test_a_broken_derivative_in_the_op_table_is_caught_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    tanh = op_named("tanh")
    monkeypatch.setattr(tanh, "grad", lambda g, out, a: g * (1.0 - out))  # forgot the square
    nodes = lecture_neuron()
    report = compare(nodes["o"])
    assert not report.ok
    n = report.plan.graph.position(nodes["n"])
    assert report.first_divergences()[0] == (n, "grad")
    assert "it flows from o = n.tanh()" in report.summary
    assert "suspect the derivative of tanh there" in report.summary
    assert report.row(n).witness is not None and report.row(n).witness.verdict == "torch"
    # everything below n only inherits the wrong gradient
    assert {report.row_of(nodes[k]).grad_status for k in ("x1", "w1", "x1w1", "b")} == {"inherited"}


def test_a_skewed_forward_is_caught_at_its_op(monkeypatch: pytest.MonkeyPatch) -> None:
    exact = Value.exp

    def skewed(self: Value) -> Value:
        out = exact(self)
        out.data *= 1 + 1e-9
        return out

    monkeypatch.setattr(Value, "exp", skewed)
    x = Value(0.5, label="x")
    y = x.exp() * x
    report = compare(y)
    assert report.first_divergences()[0][1] == "data"
    assert "torch's exp on the engine's own inputs" in report.summary


# -- what is not a divergence --------------------------------------------------------------------


def test_one_ulp_of_tanh_amplified_by_its_derivative_is_drift_not_failure() -> None:
    x = Value(TANH_ONE_ULP_APART, label="x")
    y = x.tanh()
    report = compare(y)
    assert report.ok, report.summary
    row = report.row_of(x)
    assert row.grad_status == "drift" and row.grad_rel > 1e-10  # beyond tolerance, yet explained
    assert "differ beyond tolerance only through rounding" in report.summary


def test_cancelling_gradient_terms_are_judged_against_their_size() -> None:
    # x's gradient is 5e119 - 5e119 + sigmoid'(x): the remainder is rounding noise.
    x = Value(5e-324, label="x")
    w = Value(-1.0523480187778041e-240, label="w")
    s = x + w
    root = (x - s).sqrt() + x.sigmoid()
    report = compare(root)
    assert report.ok, report.summary


def test_nan_matches_nan_and_infinities_match_by_sign() -> None:
    x = Value(-1.0, label="x")
    y = Value(0.0, label="y")
    root = x.log() + y.log() + (x * 0.0).exp()  # nan + -inf + 1
    report = compare(root)
    assert report.ok, report.summary
    assert math.isnan(report.row_of(x.log()._prev[0]).engine_data) is False
    assert math.isnan(report.rows[-1].engine_data) and math.isnan(report.rows[-1].torch_data)


def test_a_graph_of_constants_has_no_gradients_to_compare() -> None:
    from twingrad import Constant

    root = Constant(2.0) * Constant(3.0)
    report = compare(root)
    assert report.ok
    assert [row.grad_status for row in report.rows] == ["n/a", "n/a", "n/a"]
    assert "(data;" in report.summary


def test_constants_are_mirrored_without_gradients() -> None:
    x = Value(3.0, label="x")
    report = compare(2 * x + 1)
    kinds = [(row.kind, row.torch_grad is None) for row in report.rows]
    assert kinds == [("constant", True), ("leaf", False), ("op", False), ("constant", True), ("op", False)]
    assert report.rows[2].expression == "n2 = 2.0 * x"


def test_a_leaf_as_root() -> None:
    x = Value(3.0, label="x")
    report = compare(x)
    assert report.ok and report.rows[0].engine_grad == 1.0 == report.rows[0].torch_grad


def test_shared_nodes_and_diamonds() -> None:
    a = Value(1.5, label="a")
    left, right = a * a, a + a
    top = (left * right).tanh() + left
    report = compare(top, witness="leaves")
    assert report.ok, report.summary
    assert report.row_of(a).witness.verdict == "both"


# -- other engines ---------------------------------------------------------------------------------


def test_micrograd_graphs_are_mirrored_through_their_op_strings() -> None:
    a, b = MicrogradValue(2.0), MicrogradValue(-3.0)
    out = ((a * b + a) ** 2 - b).relu() + a * a
    report = compare(out)
    assert report.ok, report.summary
    assert {row.op for row in report.rows} >= {"mul", "add", "pow", "relu"}


def test_micrograd_repeated_backward_is_caught_as_its_convention_differs() -> None:
    a = MicrogradValue(2.0)
    out = a * a + 1
    out.backward()
    out.backward()  # micrograd re-sends the intermediate's accumulated grad
    report = compare(out, backward=False)
    assert not report.ok  # the root's grad is 1 (micrograd sets it), a's is 12, torch says 4


# -- assertions and renderings ---------------------------------------------------------------------


def test_assert_parity_raises_with_summary_rows_and_reproducer() -> None:
    nodes = seed_by_hand()
    nodes["b"].grad = 0.0
    with pytest.raises(AssertionError) as failure:
        assert_parity(nodes["L"], backward=False)
    message = str(failure.value)
    assert "First divergence: grad of b (leaf)" in message
    assert "diverged *" in message  # the offending row of the table
    assert "Reproducer:" in message and "b = Value(-3.0, label='b')" in message
    assert assert_parity(seed_graph()["L"]).ok


def test_to_dict_is_json_with_strings_for_nan_and_infinity() -> None:
    x = Value(0.0, label="x")
    root = x.log() * x.log().exp() + (x - 1).log()  # -inf * 0 = nan, log(-1) = nan
    data = compare(root).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert '"-inf"' in text and '"nan"' in text
    assert data["rows"][1]["engine_data"] == "-inf"
    assert set(data) >= {"ok", "summary", "nodes", "tolerance", "mismatched", "culprits", "rows"}
    assert json.loads(text)["nodes"] == len(compare(root))


def test_rejects_an_unknown_witness_mode() -> None:
    with pytest.raises(ValueError, match="witness must be one of"):
        compare(Value(1.0), witness="sometimes")


def test_rejects_negative_tolerances() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        compare(Value(1.0), rtol=-1.0)


def test_importing_twingrad_parity_does_not_import_torch() -> None:
    code = "import sys, twingrad.parity; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
