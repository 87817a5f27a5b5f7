"""One stuck student cannot stall the class: the per-target budget (`twingrad.check.budget`).

The rule on a fake clock, case by case; then a class of three correct submissions and
one whose ``backward()`` never returns, checked by the command with real workers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from twingrad.check.budget import (
    DEFAULT_TARGET_TIMEOUT,
    FULL_TIMEOUTS,
    GIVE_UP_AFTER,
    NOT_RUN,
    SHORT_TIMEOUT,
    Budget,
    BudgetSpentError,
    gave_up,
)
from twingrad.check.cases import select
from twingrad.check.result import PASS, TIMEOUT, CaseResult
from twingrad.check.worker import WorkerTimeoutError
from twingrad.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORRECT = ROOT / "tests" / "engines" / "classroom" / "lecture.py"
BACKWARD = "    def backward(self):\n"
LOOPING = BACKWARD + "        while True:  # the student's loop never ends\n            pass\n"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _timed_out(case: str = "c") -> CaseResult:
    return CaseResult(case, ("+",), TIMEOUT, "no answer within 10 s (in backward())")


def test_two_timeouts_at_full_length_then_short_ones_then_the_rest_is_not_run() -> None:
    clock = Clock()
    budget = Budget(10.0, 1000.0, clock)
    waits = []
    for _ in range(GIVE_UP_AFTER):
        assert budget.give_up() is None
        waits.append(budget.request_timeout())
        clock.now += waits[-1]
        budget.record(_timed_out())
    assert waits == [10.0] * FULL_TIMEOUTS + [SHORT_TIMEOUT] * (GIVE_UP_AFTER - FULL_TIMEOUTS)
    assert budget.give_up() == f"gave up after {GIVE_UP_AFTER} timed-out cases"
    [case] = select(["seed_graph"])
    skipped = budget.not_run(case)
    reason = f"gave up after {GIVE_UP_AFTER} timed-out cases"
    assert (skipped.status, skipped.detail) == (TIMEOUT, NOT_RUN + reason)
    budget.record(skipped)  # a case that was not run is no new timeout
    assert budget.timeouts == GIVE_UP_AFTER
    assert gave_up([CaseResult("a", (), PASS), skipped]) == reason


def test_passing_cases_keep_the_full_timeout_and_a_short_timeout_never_exceeds_the_users() -> None:
    budget = Budget(0.25, 1000.0, Clock())
    for _ in range(10):
        budget.record(CaseResult("ok", ("+",), PASS))
    assert budget.request_timeout() == 0.25 and budget.give_up() is None
    for _ in range(FULL_TIMEOUTS):
        budget.record(_timed_out())
    assert budget.request_timeout() == min(0.25, SHORT_TIMEOUT)


def test_no_wait_runs_past_the_budget_and_a_spent_budget_gives_up() -> None:
    clock = Clock()
    budget = Budget(10.0, 25.0, clock)
    clock.now += 18.0
    assert budget.request_timeout() == pytest.approx(7.0)  # what is left, not the whole 10 s
    clock.now += 7.0
    overran = budget.timed_out(WorkerTimeoutError(7.0, at=3))
    assert isinstance(overran, BudgetSpentError) and overran.at == 3
    assert str(overran) == "the target's time ran out (--target-timeout 25 s)"
    assert budget.give_up() == "gave up after 25 s (--target-timeout)"
    with pytest.raises(BudgetSpentError):
        budget.request_timeout()


def test_a_timeout_within_the_budget_is_reported_as_it_was() -> None:
    budget = Budget(10.0, 60.0, Clock())
    budget.request_timeout()
    own = WorkerTimeoutError(10.0, at=None)
    assert budget.timed_out(own) is own


def test_the_option_is_validated_and_its_default_is_in_the_help(capsys) -> None:
    assert main(["check", "--target-timeout", "0", "--only", "seed_graph"]) == 2
    assert "--target-timeout must be a number of seconds above 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {DEFAULT_TARGET_TIMEOUT:g})" in text
    assert f"after {GIVE_UP_AFTER} timed-out cases" in text


def test_a_class_with_one_endless_backward_is_bounded_by_the_target_budget(tmp_path: Path) -> None:
    """3 correct submissions and 1 that loops in backward(): exit 1, the loop reported as timed out,
    and the looping one stopped by --target-timeout: once its first case has had the whole --timeout,
    the second gets only what is left of the budget and every later case is not run."""
    source = CORRECT.read_text()
    assert source.count(BACKWARD) == 1
    for name in ("ada", "bo", "cy", "dee"):
        (tmp_path / name).mkdir()
        engine = source.replace(BACKWARD, LOOPING) if name == "dee" else source
        (tmp_path / name / "engine.py").write_text(engine)
    timeout, target_timeout = 3.0, 4.0
    only = ["seed_graph", "reuse_a_plus_a", "unary_tanh", "diamond"]
    report, summary = tmp_path / "class.json", tmp_path / "summary.md"
    github = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run(
        [sys.executable, "-m", "twingrad.cli", "check", "*/engine.py:Value", "-j", "2",
         "--only", ",".join(only), "--timeout", str(timeout), "--target-timeout", str(target_timeout),
         "--json", str(report)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=github,
    )
    assert done.returncode == 1, done.stderr
    doc = json.loads(report.read_text())
    assert [t["verdict"] for t in doc["targets"]] == ["OK", "OK", "OK", "FAIL"]
    stuck = doc["targets"][3]["run"]["cases"]
    assert [c["status"] for c in stuck] == [TIMEOUT] * len(only)
    assert stuck[0]["detail"] == f"no answer within {timeout:g} s (in backward())"
    budget_line = f"the target's time ran out (--target-timeout {target_timeout:g} s)"
    assert stuck[1]["detail"].startswith(budget_line)
    skipped = f"{NOT_RUN}gave up after {target_timeout:g} s (--target-timeout)"
    assert [c["detail"] for c in stuck[2:]] == [skipped] * 2
    # Piped, the overview is a block per student: the verdict line, its problem indented below.
    lines = done.stdout.splitlines()
    [start] = [k for k, line in enumerate(lines) if line.startswith("FAIL dee/engine.py")]
    block = " ".join(lines[start : start + 4])
    assert "4 timeout" in block and "seed_graph (timeout): no answer within 3 s" in block
    # The class's summary names the student, the case, where it hung and why the rest was not run.
    [line] = [line for line in summary.read_text().splitlines() if line.startswith("| dee/engine")]
    assert "seed\\_graph (timeout): no answer within 3 s (in backward()); gave up after 4 s" in line.replace(
        "\\(", "(").replace("\\)", ")").replace("\\-", "-")
