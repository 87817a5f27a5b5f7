"""`twingrad check` on engines written the ways learners write them (tests/engines/learners).

One engine per pattern seen in public lecture-followers' code -- other spellings, other
layouts, the classic crashes and wrong derivatives -- each with the verdict it must get
(`expected.py`): correct ones exit 0, broken ones exit 1 with the right status on the
cases that meet the bug, and the misconception named where it is a common form.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twingrad.cli import main

from .engines.learners.expected import ENGINES, Engine

LEARNERS = Path(__file__).parent / "engines" / "learners"


@pytest.mark.parametrize(
    "engine", ENGINES, ids=[" ".join((e.target.split(":")[0], *e.args)) for e in ENGINES]
)
def test_each_engine_gets_its_verdict(engine: Engine, tmp_path: Path, capsys) -> None:
    report_path = tmp_path / "report.json"
    code = main(["check", f"{LEARNERS / engine.target}", "--json", str(report_path), *engine.args])
    captured = capsys.readouterr()
    assert code == engine.exit_code, captured.out[-3000:] + captured.err
    if code == 2:
        assert engine.message in captured.err
        return
    report = json.loads(report_path.read_text())
    wrong = []
    for case in report["cases"]:
        want = engine.cases.get(case["name"])
        if want is None:
            continue
        detail = case["detail"].lower()
        if case["status"] not in want.statuses or (
            case["status"] != "pass" and want.phrase.lower() not in detail
        ):
            wrong.append(f"{case['name']}: {case['status']} {case['detail'][:300]!r}, want {want}")
    assert not wrong, "\n".join(wrong)


def test_an_engine_keeping_its_inputs_in_a_set_gets_the_same_report_every_run(tmp_path: Path) -> None:
    """A set iterates in memory-address order, different in every process; the report must not."""
    engines = Path(__file__).parent / "engines"
    folder = tmp_path / "engine"  # the reports go beside it: the engine's folder stays as it was
    folder.mkdir()
    (folder / "reference.py").write_text((engines / "reference.py").read_text())
    (folder / "setbug.py").write_text(
        "from reference import Value\n\n\n"
        "class SetOverwrite(Value):\n"
        "    children = set\n\n"
        "    def accumulate(self, g):\n"
        "        self.grad = g  # = where += belongs\n"
    )
    reports = []
    for run in range(3):
        path = tmp_path / f"report{run}.json"
        target = f"{folder / 'setbug.py'}:SetOverwrite"
        assert main(["check", target, "--json", str(path), "--seed", "7"]) == 1
        reports.append(json.loads(path.read_text()))
    assert reports[0] == reports[1] == reports[2]
    assert sum(case["status"] == "fail" for case in reports[0]["cases"]) >= 5
