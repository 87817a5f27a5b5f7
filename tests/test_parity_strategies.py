"""The random-graph strategies: what they generate, and how a failure shrinks and prints."""

from __future__ import annotations

import re

import pytest
from hypothesis import Phase, find, given, settings

from twingrad import op_named
from twingrad.parity import compare, make_plan
from twingrad.parity.strategies import GraphCase, graphs

SEARCH = settings(database=None, derandomize=True, max_examples=2000)
FIRST_FOUND = settings(SEARCH, phases=[Phase.generate])  # no shrinking: any example will do


@pytest.mark.parametrize(
    ("feature", "pattern"),
    [
        ("x op x", r"= (\w+) [-+*/] \1\n"),
        ("number on the left", r"= \(?-?[\d.]+(e[-+]?\d+)?\)? [-+*/]"),
        ("number on the right", r"= \w+ [-+*/] \(?-?[\d.]"),
        ("nan", r"math\.nan"),
        ("infinity", r"math\.inf"),
        ("a chain of unary ops", r"(\w+) = \w+\.\w+\(\)\n\w+ = \1\.\w+\(\)"),
    ],
)
def test_generates_the_shapes_that_break_engines(feature: str, pattern: str) -> None:
    case = find(graphs(), lambda c: re.search(pattern, c.source) is not None, settings=FIRST_FOUND)
    assert re.search(pattern, case.source), feature


def test_generates_fan_out() -> None:
    def fans_out(case: GraphCase) -> bool:
        plan = make_plan(case.root)
        return any(len({c for c, _ in users}) >= 3 for users in plan.uses())

    assert fans_out(find(graphs(), fans_out, settings=FIRST_FOUND))


@settings(max_examples=30)
@given(case=graphs())
def test_every_case_prints_as_a_runnable_reproducer(case: GraphCase) -> None:
    namespace: dict = {}
    exec(case.source, namespace)  # ends with assert_parity(root)
    assert repr(case).strip() == case.source.strip()


def test_a_failing_graph_shrinks_to_a_small_reproducer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(op_named("tanh"), "grad", lambda g, out, a: g * (1.0 - out))
    minimal = find(graphs(), lambda c: not compare(c.root, witness="none").ok, settings=SEARCH)
    lines = [line for line in minimal.source.splitlines() if " = " in line]
    assert ".tanh()" in minimal.source and len(lines) <= 3, minimal.source
    with pytest.raises(AssertionError, match="suspect the derivative of tanh"):
        exec(minimal.source, {})
