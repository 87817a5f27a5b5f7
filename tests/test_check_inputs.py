"""Drawn inputs: a function of the seed alone, in each op's interesting domain, safe to compare.

Every test here is in-process (no worker), over many seeds: the properties must hold on
every draw, since a run's inputs are whatever its seed gives.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch

from twingrad import Value
from twingrad.check.cases import CASES, CASES_BY_NAME, select
from twingrad.check.inputs import RELU_MARGIN, check_seed, draw_cases, drawn, new_seed
from twingrad.check.judge import nudge_inconsistency
from twingrad.check.programs import compile_case
from twingrad.check.reference import nudged, reference
from twingrad.graph import trace
from twingrad.ops import OPS
from twingrad.parity.tolerances import Tolerance

SEEDS = range(40)


def test_a_seed_draws_the_same_cases_every_time_and_another_seed_other_ones() -> None:
    def programs(seed: int) -> list[dict]:
        drawn.cache_clear()  # drawn again, not remembered
        return [compile_case(case).program for case in draw_cases(CASES, seed)]

    assert programs(5) == programs(5)
    one, two = programs(5), programs(6)
    for case, a, b in zip(CASES, one, two):
        assert (a == b) == case.fixed, case.name  # a drawn case changes, a lecture case never


def test_a_case_draws_from_its_own_stream_so_only_picks_it_at_the_inputs_of_the_whole_run() -> None:
    whole = {case.name: case for case in draw_cases(CASES, 99)}
    for name in ("unary_log", "drawn_graph", "mlp_relu_hinge"):
        (alone,) = draw_cases(select([name]), 99)
        assert alone is whole[name]


def test_the_drawn_graph_is_wired_anew_with_the_same_ops() -> None:
    graphs = [drawn(CASES_BY_NAME["drawn_graph"], seed) for seed in range(5)]
    steps = [[s for s in compile_case(g).steps if "apply" in s] for g in graphs]
    assert len({str(s) for s in steps}) == 5
    assert len({frozenset(g.ops) for g in graphs}) == 1


def test_every_op_is_checked_at_drawn_inputs_the_lecture_cases_included() -> None:
    drawn_ops = {op.name for case in CASES if not case.fixed for op in case.op_records}
    assert drawn_ops == {op.name for op in OPS}
    assert [case.name for case in CASES if case.fixed] == ["seed_graph", "lecture_neuron", "nudge_step",
                                                           "backward_twice"]


@pytest.mark.parametrize("seed", SEEDS)
def test_drawn_inputs_stay_off_kinks_inside_domains_and_agree_with_torch(seed: int) -> None:
    for case in draw_cases(CASES, seed):
        ref = reference(case)
        for point in (case.inputs, nudged(case.inputs, ref.numbers.grads)):
            out = case.fn(*(Value(x) for x in point))
            tensors = [torch.tensor(x, dtype=torch.float64) for x in point]
            assert out.data == pytest.approx(case.fn(*tensors).item(), rel=1e-12), case.name
            for node in trace(out).nodes:
                if node._op and node._op.name in ("relu", "abs"):
                    assert abs(node._prev[0].data) > RELU_MARGIN, (case.name, node)
                if node._op and node._op.name in ("log", "sqrt"):
                    assert node._prev[0].data > 0, (case.name, node)
                assert math.isfinite(node.data), (case.name, node)


def test_each_op_meets_its_interesting_regions() -> None:
    def points(name: str) -> list[tuple[float, ...]]:
        return [drawn(CASES_BY_NAME[name], seed).inputs for seed in SEEDS]

    for op in ("log", "sqrt"):  # near 0 and large
        assert all(0 < x < 0.5 and y > 2 for x, y, _ in points(f"unary_{op}"))
    for op, saturated in (("tanh", 2.0), ("sigmoid", 3.0)):  # near 0 and saturating
        assert all(abs(x) < 0.5 and abs(y) >= saturated for x, y, _ in points(f"unary_{op}"))
    for op in ("relu", "abs"):  # either side of the kink, off it
        assert all(x >= 0.01 and y <= -0.01 for x, y, _ in points(f"unary_{op}"))
    assert any(x < 0 for (x,) in points("integer_powers"))  # negative bases to integer powers
    assert all(k != 1 for *_, k in points("unary_exp"))


@pytest.mark.parametrize("seed", SEEDS[:10])
def test_the_nudge_of_a_correct_engine_never_contradicts_its_gradients(seed: int) -> None:
    """torch's own numbers (another rounding than the twin's): the consistency check never fires."""
    for case in draw_cases(CASES, seed):
        tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in case.inputs]
        out = case.fn(*tensors)
        out.backward()
        grads = [0.0 if t.grad is None else t.grad.item() for t in tensors]
        with torch.no_grad():
            after = case.fn(*(torch.tensor(x, dtype=torch.float64) for x in nudged(case.inputs, grads)))
        assert nudge_inconsistency(case, out.item(), float(after), grads, Tolerance()) is None, case.name


def test_gradients_a_quarter_off_contradict_their_own_nudge() -> None:
    """An engine whose gradients are 25% too large, nudged with them by its own (right) forward: the
    first-order prediction misses by more than the curvature allows in all but the most curved cases."""
    caught, total = 0, 0
    for seed in SEEDS[:10]:
        for case in draw_cases(CASES, seed):
            ref = reference(case)
            off = [1.25 * g for g in ref.numbers.grads]
            if any(off):
                total += 1
                moved = ref.output(nudged(case.inputs, off))
                caught += nudge_inconsistency(case, ref.numbers.output, moved, off, Tolerance()) is not None
    assert caught >= 0.9 * total, (caught, total)


def test_a_seed_is_a_whole_number_below_two_to_the_32() -> None:
    seeds = {new_seed() for _ in range(10)}
    assert len(seeds) > 1 and all(0 <= s < 2**32 for s in seeds)
    assert check_seed(0) == 0 and check_seed(2**32 - 1) == 2**32 - 1
    for wrong in (-1, 2**32, 1.5, True, "3"):
        with pytest.raises(ValueError, match="whole number"):
            check_seed(wrong)


def test_a_draw_is_the_same_in_another_process() -> None:
    """String seeds are hashed with SHA-512, not with Python's per-process hash."""
    code = "from twingrad.check.cases import CASES; from twingrad.check.inputs import draw_cases; " \
        "print([c.inputs for c in draw_cases(CASES, 31337)])"
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    there = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert there.stdout.strip() == str([c.inputs for c in draw_cases(CASES, 31337)])
