"""Every workload on every engine that can build it, one pytest-benchmark group each.

``make bench`` times them; ``make test`` runs each once with ``--benchmark-disable``
(long workloads in their reduced ``smoke`` size). An engine expected to fail on a
workload (micrograd on deep graphs) is run once, untimed: its error is recorded in the
results (``"failed"``, `benchmarks.suite.record_failure`) and it has no time anywhere.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.suite import WORKLOADS_BY_NAME, cases, record_failure
from benchmarks.workloads import Outcome, Run


def raised(run: Run, expected: type[BaseException]) -> str:
    """Run once; the name of the expected error (the test fails if there is none)."""
    with pytest.raises(expected) as caught:
        run()
    return caught.typename


@pytest.mark.parametrize(("name", "engine"), cases())
def test_workload(benchmark: Any, request: pytest.FixtureRequest, name: str, engine: str) -> None:
    workload = WORKLOADS_BY_NAME[name]
    run = workload.make(engine, smoke=benchmark.disabled)
    expected = workload.fails.get(engine)
    if expected is not None:  # not through `benchmark`: a run that raised has no time to report
        record_failure(request.config, workload, engine, raised(run, expected))
        return
    benchmark.group = workload.title
    benchmark.extra_info.update(workload=name, engine=engine, note=workload.note)
    # A long workload runs once: its time is one honest wall-clock figure, not a statistic.
    outcome = benchmark.pedantic(run, rounds=1, iterations=1) if workload.long else benchmark(run)
    assert isinstance(outcome, Outcome)
    benchmark.extra_info.update(outcome.info)
