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
