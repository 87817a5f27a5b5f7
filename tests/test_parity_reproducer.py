"""Every reproducer a failing report prints fails again, the same way, when it is run.

Each scenario is one of the ways a report comes to fail -- gradients set by hand, a
broken op of twingrad's own table, another engine's class (checked directly, through
`check_function`, with a resolver of its own), a nudge -- and its reproducer is run as a
fresh script where it can be: the message it raises must carry the report's summary.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from twingrad import Value
from twingrad.examples import seed_graph
from twingrad.ops import op_named
from twingrad.parity import check_function, compare, compare_nudge, symbol_resolver
from twingrad.parity.recipe import NotReproducibleError

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ROOT / "tests" / "engines"
sys.path.insert(0, str(ENGINES))  # the test engines import each other as top-level modules
from spelled import Shouting  # noqa: E402
from variants import TanhGrad  # noqa: E402


def run_script(source: str) -> subprocess.CompletedProcess[str]:
    env_path = f"{ROOT / 'src'}:{ENGINES}"
    return subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )


def hand_set_gradients() -> tuple[str, str]:
    n = seed_graph()
    for name, g in dict(a=6.0, b=-4.0, c=-2.0, e=-2.0, d=-2.0, f=4.0, L=1.0).items():
        n[name].grad = g
    n["b"].grad = 5.0  # the one wrong
    report = compare(n["L"], backward=False)
    return report.summary, report.reproducer()


def hand_set_data() -> tuple[str, str]:
    n = seed_graph()
    n["L"].backward()
    n["e"].data = -5.0  # a learner's slip while redoing the forward pass by hand
    report = compare(n["L"], backward=False)
    return report.summary, report.reproducer()


def foreign_engine() -> tuple[str, str]:
    x = TanhGrad(0.8)
    report = compare((x * x).tanh() * 3.0)
    return report.summary, report.reproducer()


def foreign_engine_through_check_function() -> tuple[str, str]:
    report = check_function(lambda a, b: (a * b).tanh() + a, [0.6, -0.7], engine=TanhGrad)
    assert report.status == "fail" and report.graph is not None
    return report.graph.summary, report.graph.reproducer()


def foreign_engine_with_a_resolver() -> tuple[str, str]:
    root = Shouting(2.0) * Shouting(-3.0)
    report = compare(root, resolver=symbol_resolver({"TIMES": "mul"}))
    return report.summary, report.reproducer()


def nudge() -> tuple[str, str]:
    n = seed_graph()
    for name, g in dict(a=6.0, b=-4.0, c=-2.0, e=-2.0, d=-2.0, f=4.0, L=1.0).items():
        n[name].grad = g
    n["a"].grad = 1.0
    report = compare_nudge(n["L"], 0.01, backward=False)
    assert not report.ok
    return report.before.summary, report.reproducer()


SCENARIOS: dict[str, Callable[[], tuple[str, str]]] = {
    "hand_set_gradients": hand_set_gradients,
    "hand_set_data": hand_set_data,
    "foreign_engine": foreign_engine,
    "foreign_engine_through_check_function": foreign_engine_through_check_function,
    "foreign_engine_with_a_resolver": foreign_engine_with_a_resolver,
    "nudge": nudge,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_fresh_script_fails_the_same_way(scenario: str) -> None:
    summary, source = SCENARIOS[scenario]()
    result = run_script(source)
    assert result.returncode != 0 and "AssertionError" in result.stderr, (source, result.stderr)
    assert summary in result.stderr, (summary, result.stderr)


def run_here(source: str) -> subprocess.CompletedProcess[str]:
    """Run a reproducer in this process (its engine is a class of this module)."""
    try:
        exec(compile(source, "<reproducer>", "exec"), {})
    except AssertionError as exc:
        return subprocess.CompletedProcess([], 1, "", f"AssertionError: {exc}")
    return subprocess.CompletedProcess([], 0, "", "")


def test_a_broken_op_reproduces_where_the_op_is_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    # backward() ran inside the check, so the script runs it again: with the table as the
    # script finds it -- broken here, as it was for the report.
    monkeypatch.setattr(op_named("tanh"), "grad", lambda g, out, a: g * (1.0 - out))
    x = Value(0.7, label="x")
    report = compare((x * 2.0).tanh())
    source = report.reproducer()
    assert "backward=False" not in source and ".grad =" not in source
    assert report.summary in run_here(source).stderr


def test_the_script_says_what_it_restores() -> None:
    _, source = hand_set_data()
    assert "e.data = -5.0  # set by hand" in source
    assert "Value(-3.0, label='b')" in source and "((" not in source  # not Value((-3.0))
    _, source = foreign_engine()
    assert source.startswith("from variants import TanhGrad as Value\n")
    assert "backward=False" not in source  # the check ran the engine's backward(): so does the script
    _, source = foreign_engine_through_check_function()
    assert "backward=False" in source and ".grad = " in source  # check_function ran it, not compare
    _, source = foreign_engine_with_a_resolver()
    assert "resolver=symbol_resolver({'TIMES': 'mul'})" in source


def test_an_engine_a_script_cannot_import_is_said_so() -> None:
    class Local(Shouting):
        def __mul__(self, other: Shouting) -> Shouting:
            return Local(self.data * other.data, (self, other), "TIMES")

    root = Local(2.0) * Local(-3.0)
    assert type(root) is Local
    report = compare(root, resolver=symbol_resolver({"TIMES": "mul"}))
    with pytest.raises(NotReproducibleError, match="defined inside a function"):
        report.reproducer()
    assert "No reproducer: " in report.failure_message() and "Reproducer:" not in report.failure_message()
