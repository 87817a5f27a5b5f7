"""Parity holds on every random graph the strategies generate."""

from __future__ import annotations

from hypothesis import given, settings

from twingrad.parity import compare
from twingrad.parity.strategies import GraphCase, graphs


# The CI profile (conftest.py) makes these fixed, derandomized examples.
@settings(max_examples=600)
@given(case=graphs(max_leaves=4, max_ops=16))
def test_every_random_graph_agrees_with_torch(case: GraphCase) -> None:
    report = compare(case.root, witness="none")
    assert report.ok, report.failure_message()
