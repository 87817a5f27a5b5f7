"""The checker's catalogue: every case runs the same on twingrad and torch, away from kinks."""

from __future__ import annotations

import pytest
import torch

from twingrad import Value
from twingrad.check.cases import CASES, CASES_BY_NAME, select
from twingrad.graph import trace
from twingrad.ops import OPS

# Ops whose derivative jumps at 0, and ops defined only for positive inputs (a power's
# base counts when its exponent is fractional or negative).
KINKED = {"relu", "abs"}
POSITIVE = {"log", "sqrt"}


def test_names_are_unique_identifiers_and_each_case_says_what_it_exercises() -> None:
    assert len(CASES_BY_NAME) == len(CASES)
    for case in CASES:
        assert case.name.isidentifier() and case.name == case.name.lower()
        assert len(case.doc) > 10
        assert len(case.input_names) == len(case.inputs)


def test_the_catalogue_covers_what_the_issue_lists() -> None:
    names = set(CASES_BY_NAME)
    for wanted in ("seed_graph", "lecture_neuron", "tanh_through_exp", "reuse_a_plus_a", "reuse_a_times_a",
                   "reuse_three_consumers", "diamond", "stacked_diamonds", "deep_chain", "sum_of_a_list",
                   "number_minus_value", "number_over_value", "number_times_value", "integer_powers",
                   "softmax_nll", "mlp_tanh_squared_error", "nudge_step", "backward_twice"):
        assert wanted in names
    unary = {op.name for op in OPS if op.arity == 1}
    assert {f"unary_{name}" for name in unary} <= names  # every unary op of the table, no edit needed
    used = {op.name for case in CASES for op in case.op_records}
    assert used == {op.name for op in OPS}  # and every binary op somewhere


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_runs_alike_on_twingrad_and_torch_away_from_kinks(case) -> None:
    out = case.fn(*(Value(x) for x in case.inputs))
    tensors = [torch.tensor(x, dtype=torch.float64) for x in case.inputs]
    assert out.data == pytest.approx(case.fn(*tensors).item(), rel=1e-12)
    for node in trace(out).nodes:
        op = node._op
        if not op:
            continue
        x = node._prev[0].data
        if op.name in KINKED:
            assert abs(x) > 1e-2, f"{case.name}: {op.name} at {x}"
        if op.name in POSITIVE or (op.name == "pow" and node._prev[1].data % 1 != 0):
            assert x > 1e-2, f"{case.name}: {op.name} of {x}"


def test_ops_are_read_from_the_engine_in_order_of_first_use() -> None:
    assert CASES_BY_NAME["lecture_neuron"].ops == ("*", "+", "tanh")
    assert CASES_BY_NAME["number_over_value"].ops == ("/", "*")


def test_select_by_names_and_globs_in_catalogue_order() -> None:
    assert [c.name for c in select(["diamond", "seed_graph"])] == ["seed_graph", "diamond"]
    assert {c.name for c in select(["unary_*"])} == {f"unary_{op.name}" for op in OPS if op.arity == 1}
    assert select(None) == list(CASES)
    with pytest.raises(KeyError, match="nope"):
        select(["seed_graph", "nope"])
