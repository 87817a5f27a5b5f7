"""The op table's twin: the same replay as torch's, in plain floats, and a check that never imports torch."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.floats import ulps
from twingrad import Value
from twingrad.examples import seed_graph
from twingrad.parity import compare, make_plan
from twingrad.parity.mirror import Mirror as TorchMirror
from twingrad.parity.strategies import GraphCase, graphs
from twingrad.parity.table import Mirror as TableMirror
from twingrad.parity.twin import TABLE, TORCH

ENGINES = Path(__file__).parent / "engines"


def _both(root: Value) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    plan = make_plan(root)
    table, torch_ = TableMirror(plan), TorchMirror(plan)
    table.run()
    torch_.run()
    return table.values(), torch_.values(), table.gradients(), torch_.gradients()


def test_the_seed_graph_replays_exactly() -> None:
    values, torch_values, grads, torch_grads = _both(seed_graph()["L"])
    assert list(values) == list(torch_values) == [2.0, -3.0, -6.0, 10.0, 4.0, -2.0, -8.0]
    assert list(grads) == list(torch_grads) == [6.0, -4.0, -2.0, -2.0, -2.0, 4.0, 1.0]


def test_every_op_with_constants_literals_and_reuse_within_a_few_ulps_of_torch() -> None:
    x, y = Value(0.7, label="x"), Value(-1.3, label="y")
    k = Value(2.0) * 3.0  # a third leaf, times a literal
    a = (x * y + 2.0 - y / x) ** 2.0
    b = (a.tanh() + x.exp() + (x * x).log() - y.relu() + (-y).sigmoid())
    c = (b.sin() * b.cos() + (x * x + 1.0).sqrt() + abs(y) + 2.0 ** x + k)
    root = c * a + c
    values, torch_values, grads, torch_grads = _both(root)
    for ours, theirs in [*zip(values, torch_values), *zip(grads, torch_grads)]:
        assert ulps(float(ours), float(theirs)) <= 8, (ours, theirs)


def test_a_node_depending_on_no_leaf_has_no_gradient_on_either_side() -> None:
    x = Value(2.0)
    from twingrad import Constant

    root = x * (Constant(3.0) * Constant(4.0))
    _, _, grads, torch_grads = _both(root)
    missing = [False, True, True, True, False]
    assert [math.isnan(g) for g in grads] == [math.isnan(g) for g in torch_grads] == missing


# The CI profile (conftest.py) makes these fixed, derandomized examples.
@settings(max_examples=200, deadline=None)
@given(case=graphs(max_leaves=4, max_ops=16), data=st.data())
def test_on_random_graphs_both_twins_find_the_same_divergence(case: GraphCase, data: st.DataObject) -> None:
    """Node by node the two replays may part in the last bits (sums added in another order,
    a transcendental rounded differently), but what a comparison concludes is the same:
    twingrad's own engine agrees with both, and a gradient broken at a random node is found
    at the same place by both."""
    root = case.root
    assert compare(root, witness="none", twin=TABLE).ok
    nodes = make_plan(root).nodes
    broken = nodes[data.draw(st.integers(0, len(nodes) - 1), label="broken node")]
    broken.grad = broken.grad * 3.0 + 1.0 if math.isfinite(broken.grad) else 1.0
    by_torch = compare(root, backward=False, witness="none")
    by_table = compare(root, backward=False, witness="none", twin=TABLE)
    assert by_table.ok == by_torch.ok, case
    assert by_table.first_divergences() == by_torch.first_divergences(), case
    assert by_table.culprits() == by_torch.culprits(), case


def _broken_add_grad_root() -> Value:
    a, b = Value(0.5, label="a"), Value(-2.0, label="b")
    c = a * b
    root = c + c * a  # a is used twice
    root.backward()
    a.grad = 1.25  # what an engine that overwrites (`=`) would hold
    return root


def test_compare_with_the_table_finds_what_torch_finds_and_says_whose_numbers_they_are() -> None:
    root = _broken_add_grad_root()
    by_torch = compare(root, backward=False, witness="none")
    by_table = compare(root, backward=False, witness="none", twin=TABLE)
    assert not by_torch.ok and not by_table.ok
    assert by_table.culprits() == by_torch.culprits()
    assert by_table.first_divergences() == by_torch.first_divergences()
    assert by_torch.reference == TORCH.name == "torch" and by_table.reference == TABLE.name == "twingrad"
    assert "engine vs twingrad" in by_table.summary and "torch" not in by_table.summary
    assert "grad twingrad" in by_table.table() and by_table.to_dict(rows="none")["reference"] == "twingrad"
    witnessed = compare(root, backward=False, twin=TABLE)  # with numeric witnesses, "auto"
    assert witnessed.witnesses and any(w.verdict == "torch" for w in witnessed.witnesses.values())
    text = str(witnessed) + witnessed._repr_html_()
    assert "supports twingrad" in text and "(twingrad)" in text
    assert "torch" not in text  # what a person reads of the op table's replay never says torch
    # JSON keeps its keys (torch_data, verdict "torch" for the twin) and says whose they are.
    assert witnessed.to_dict(rows="none")["reference"] == "twingrad"


def test_a_failing_check_is_explained_without_importing_torch(tmp_path: Path) -> None:
    script = (
        "import sys, json\n"
        "from twingrad.check import check_engine\n"
        f"run = check_engine({str(ENGINES / 'variants.py') + ':TanhGrad'!r}, only=['lecture_neuron'])\n"
        "case = run.result('lecture_neuron')\n"
        "print(json.dumps([case.status, case.mismatch.to_dict(), 'torch' in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    status, mismatch, imported = json.loads(done.stdout.splitlines()[-1])
    assert status == "fail" and mismatch["by"] == "twingrad" and mismatch["where"] == "n8 = n6 + b"
    assert imported is False
