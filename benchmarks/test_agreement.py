"""The engines compute the same numbers on every workload: the race is on equal graphs.

Not timing: each workload runs once per engine (long ones in their smoke size), and
the root's value and the checked gradients must match twingrad's. The scalar engines
execute the same operations in the same order, so they agree to rounding (tanh may
differ in the last bits between Python's math and torch); the vectorised twin sums in
another order.
"""

from __future__ import annotations

import functools

import pytest

from benchmarks.suite import WORKLOADS_BY_NAME, cases
from benchmarks.workloads import Outcome
from twingrad.bench import TIME_INFO


def untimed(info: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in info.items() if k not in TIME_INFO}


@functools.cache
def reference(name: str) -> Outcome:
    return WORKLOADS_BY_NAME[name].make("twingrad", smoke=True)()


@pytest.mark.parametrize(("name", "engine"), cases(exclude="twingrad"))
def test_engine_agrees_with_twingrad(name: str, engine: str) -> None:
    workload = WORKLOADS_BY_NAME[name]
    run = workload.make(engine, smoke=True)
    expected_error = workload.fails.get(engine)
    if expected_error is not None:
        with pytest.raises(expected_error):
            run()
        return
    ours = reference(name)
    theirs = run()
    assert theirs.value == pytest.approx(ours.value, rel=1e-9, abs=1e-12)
    assert len(theirs.grads) == len(ours.grads)
    assert theirs.grads == pytest.approx(ours.grads, rel=1e-9, abs=1e-12)
    assert untimed(theirs.info) == pytest.approx(untimed(ours.info), rel=1e-9, abs=1e-12)


def test_million_deep_chain_answer() -> None:
    # twingrad alone builds this one, so it is checked against the closed form instead.
    outcome = reference("deep-1M")
    assert (outcome.value, outcome.grads) == (1_000_000.0, [1.0])
