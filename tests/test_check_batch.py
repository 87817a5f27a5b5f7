"""``twingrad check`` on a class's submissions, end to end: real workers, real files, a real browser.

The batch: twingrad's own engine and a learner's correct one, the lecture's `=` bug, and
a submission that breaks on import (its message tries to recolour the terminal). One
command checks them two at a time and writes every report; the tests read what it wrote.
The HTML page is then loaded in headless Chromium (`tests/browser.py`): no console
error, no request beyond the page itself, the tables and the drawings on screen, and a
screenshot kept in the test's output directory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from twingrad.check.result import CheckRun
from twingrad.cli import main

from .browser import open_page

SCRIPT = Path(sys.executable).parent / "twingrad"
ROOT = Path(__file__).resolve().parents[1]
# As a course's CI names them: relative to the repository, where the command runs.
CORRECT = "tests/engines/classroom/correct.py:Value"
WRONG = "tests/engines/classroom/wrong.py:Value"
UNLOADABLE = "tests/engines/classroom/unloadable.py:Value"
OWN = "twingrad.engine:Value"
# A pass, the `=` bug's failures, an unsupported op and a note: every kind of row, quickly.
SINGLE_SCHEMA = set(CheckRun("t", "v", []).to_dict())  # what `twingrad check T --json` writes
ONLY = "seed_graph,reuse_a_plus_a,diamond,unary_tanh,unary_log,backward_twice"


@dataclass
class Batch:
    code: int
    stdout: str
    stderr: str
    folder: Path
    summary: str  # what was appended to $GITHUB_STEP_SUMMARY


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    folder = tmp_path_factory.mktemp("batch")
    summary = folder / "step-summary.md"
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
           "GITHUB_WORKSPACE": str(ROOT)}
    result = subprocess.run(
        [str(SCRIPT), "check", OWN, CORRECT, WRONG, UNLOADABLE, "-j", "2", "--only", ONLY,
         "--junit-xml", str(folder / "junit.xml"), "--json", str(folder / "batch.json"),
         "--html", str(folder / "report.html"), "--svg", str(folder / "drawings")],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )
    return Batch(result.returncode, result.stdout, result.stderr, folder,
                 summary.read_text() if summary.exists() else "")


def _row(stdout: str, name: str) -> str:
    """A target's first line: its verdict, name and counts (its first problem, if any, follows indented)."""
    [line] = [line for line in stdout.splitlines() if name in line and not line.startswith(" ")]
    return line


def _problem(stdout: str, name: str) -> str:
    """The indented lines under a target's first line, as one line."""
    lines = stdout.splitlines()
    block = []
    for line in lines[lines.index(_row(stdout, name)) + 1:]:
        if not line.startswith(" "):
            break
        block.append(line.strip())
    return " ".join(block)


def test_one_row_per_target_and_the_worst_exit_status(batch: Batch) -> None:
    assert batch.code == 2, batch.stderr  # a submission that cannot be loaded is the worst
    assert batch.stderr == ""  # no progress bar when stderr is not a terminal
    out = batch.stdout
    assert "OK " in _row(out, "twingrad.engine:Value") and "6 pass" in _row(out, "twingrad.engine:Value")
    assert "OK " in _row(out, "correct.py:Value")
    wrong = _row(out, "wrong.py:Value")
    assert "FAIL" in wrong and "2 fail" in wrong
    assert _problem(out, "wrong.py:Value").startswith("reuse_a_plus_a (fail)")
    assert "cannot load" in _row(out, "unloadable.py:Value")
    assert "\x1b" not in out and "\\x1b[31m" in out  # the submission's escape code is shown, not obeyed
    assert re.fullmatch(r"FAIL 4 targets: 2 OK, 1 FAIL, 1 cannot load \(seed \d+\)", out.splitlines()[-1])
    assert sorted(p.name for p in (batch.folder / "drawings").rglob("*.svg")) == ["diamond.svg",
                                                                                  "reuse_a_plus_a.svg"]


def test_the_exit_status_without_the_broken_submission_is_1_and_all_correct_is_0() -> None:
    def code(*targets: str) -> int:
        return subprocess.run([str(SCRIPT), "check", *targets, "-j", "2", "--only", "reuse_a_plus_a"],
                              capture_output=True, timeout=300, cwd=ROOT).returncode

    assert code(CORRECT, WRONG) == 1
    assert code(CORRECT, OWN) == 0


def test_the_junit_xml_parses_with_a_suite_per_target(batch: Batch) -> None:
    root = ET.parse(batch.folder / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == [OWN, CORRECT, WRONG, UNLOADABLE]
    for name in (OWN, CORRECT):
        assert suites[name].get("tests") == "6" and suites[name].get("failures") == "0"
        assert suites[name].get("errors") == "0"
    wrong = suites[WRONG]
    assert sorted(c.get("name") for c in wrong.findall("testcase")) == sorted(ONLY.split(","))
    assert wrong.get("failures") == "2" and wrong.get("skipped") == "1"
    failure = wrong.find("testcase[@name='reuse_a_plus_a']/failure")
    assert failure.get("message") == "grad of a: 1, expected 2" and "overwrites gradients" in failure.text
    assert wrong.find("testcase[@name='unary_log']/skipped").get("message") == "no .log()"
    [load] = suites[UNLOADABLE].findall("testcase")
    assert "this submission breaks on import\\x1b[31m" in load.find("error").get("message")
    assert root.get("tests") == str(6 * 3 + 1) and root.get("errors") == "1"


def test_the_json_holds_every_target(batch: Batch) -> None:
    doc = json.loads((batch.folder / "batch.json").read_text())
    assert doc["exit_code"] == 2 and doc["summary"] == {"OK": 2, "FAIL": 1, "cannot load": 1}
    assert [t["target"] for t in doc["targets"]] == [OWN, CORRECT, WRONG, UNLOADABLE]
    assert [t["verdict"] for t in doc["targets"]] == ["OK", "OK", "FAIL", "cannot load"]
    wrong = doc["targets"][2]["run"]
    assert set(wrong) == SINGLE_SCHEMA
    assert wrong["summary"]["fail"] == 2
    assert doc["targets"][3]["run"] is None and "breaks on import" in doc["targets"][3]["error"]


def test_github_actions_gets_annotations_and_a_step_summary(batch: Batch) -> None:
    notes = [line for line in batch.stdout.splitlines() if line.startswith("::error ")]
    # An `=` bug has no single line to blame: its annotation is on the engine's file.
    wrong = "::error file=tests/engines/classroom/wrong.py,title="
    assert any(n.startswith(wrong) and "reuse_a_plus_a (fail)" in n for n in notes)
    broken = "::error file=tests/engines/classroom/unloadable.py,title=twingrad check%3A cannot load"
    assert any(n.startswith(broken) for n in notes)
    assert all("\x1b" not in n for n in notes)
    assert batch.summary.startswith("## twingrad check: FAIL 4 targets")
    assert "| ❌ FAIL |" in batch.summary and "| ⛔ cannot load |" in batch.summary


def test_the_html_page_in_a_real_browser(batch: Batch) -> None:
    page_file = batch.folder / "report.html"
    shot = batch.folder / "report.png"
    facts = """JSON.stringify({
        summary: document.getElementById('summary').textContent,
        targets: [...document.querySelectorAll('#targets tr')].slice(1).map(r => r.cells[1].textContent),
        verdictTables: document.querySelectorAll('table.verdicts').length,
        failures: [...document.querySelectorAll('div.failure h3')].map(h => h.textContent),
        images: [...document.images].map(i => ({ok: i.complete && i.naturalWidth > 0,
                                              width: i.getBoundingClientRect().width})),
        scripts: document.scripts.length,
    })"""
    page = open_page(page_file.as_uri(), expression=facts, screenshot=shot)
    assert page.errors() == [], page.errors()
    assert all(url == page_file.as_uri() or url.startswith("data:") for url in page.requests), [
        url[:80] for url in page.requests]
    seen = json.loads(page.value)
    assert re.fullmatch(r"FAIL 4 targets: 2 OK, 1 FAIL, 1 cannot load \(seed \d+\)", seen["summary"])
    assert seen["targets"] == ["OK", "OK", "FAIL", "cannot load"]
    assert seen["verdictTables"] == 3
    assert seen["failures"] == ["reuse_a_plus_a fail", "diamond fail"]
    assert len(seen["images"]) == 2 and all(i["ok"] and i["width"] > 50 for i in seen["images"])
    assert seen["scripts"] == 0
    assert shot.stat().st_size > 10_000  # kept beside the report: look at it
    print(f"screenshot: {shot}")


def test_the_browser_check_sees_console_errors(tmp_path) -> None:
    """The browser test can fail: a page that logs an error or fetches something is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                   "content=\"default-src 'none'\"></head><body><img src=\"http://127.0.0.1:9/x.png\">"
                   "</body></html>")
    page = open_page(bad.as_uri(), expression="1")
    assert page.errors(), page.console  # the CSP refusal is logged


# -- single target, outputs ------------------------------------------------------------------


def test_one_target_writes_junit_and_html_too_and_keeps_its_json_schema(tmp_path, capsys,
                                                                        monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    code = main(["check", WRONG, "--only", "reuse_a_plus_a", "--junit-xml", str(tmp_path / "j.xml"),
                 "--json", str(tmp_path / "one.json"), "--html", str(tmp_path / "one.html")])
    assert code == 1
    out = capsys.readouterr().out
    assert re.fullmatch(rf"FAIL {re.escape(WRONG)}: 1 fail \(1 case, seed \d+\)", out.splitlines()[-1])
    assert set(json.loads((tmp_path / "one.json").read_text())) == SINGLE_SCHEMA
    [suite] = ET.parse(tmp_path / "j.xml").getroot().findall("testsuite")
    assert suite.get("failures") == "1"
    assert "reuse_a_plus_a" in (tmp_path / "one.html").read_text()


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda d: (d / "out").mkdir(), ["--html", "{d}/out"], "--html {d}/out: is a folder"),
        (lambda d: (d / "link.json").symlink_to(d / "elsewhere.json"), ["--json", "{d}/link.json"],
         "--json {d}/link.json: is a symbolic link"),
        (lambda d: os.mkfifo(d / "fifo"), ["--junit-xml", "{d}/fifo"], "not a regular file"),
        (lambda d: (d / "file").write_text(""), ["--junit-xml", "{d}/file/j.xml"], "no such folder {d}/file"),
        (lambda d: None, ["--json", "{d}/r", "--html", "{d}/r"], "--json and --html name the same file"),
        (lambda d: (d / "f.svg").write_text(""), ["--svg", "{d}/f.svg"], "--svg {d}/f.svg: not a folder"),
        (lambda d: None, ["-j", "0"], "-j/--jobs must be at least 1, not 0"),
    ],
)
def test_a_report_path_that_cannot_be_written_is_refused_before_anything_runs(
        tmp_path, capsys, make, args: list[str], message: str) -> None:
    make(tmp_path)
    argv = ["check", f"{tmp_path}/never-loaded.py:Value", CORRECT, *[a.format(d=tmp_path) for a in args]]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert message.format(d=tmp_path) in line


def test_a_write_error_after_the_run_never_hides_the_verdict(tmp_path, capsys, monkeypatch) -> None:
    from twingrad.check import command

    def full_disk(path, content):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(command, "write_atomic", full_disk)
    monkeypatch.chdir(ROOT)
    code = main(["check", CORRECT, WRONG, "--only", "reuse_a_plus_a", "--junit-xml", str(tmp_path / "j.xml"),
                 "--json", str(tmp_path / "b.json")])
    captured = capsys.readouterr()
    assert code == 2  # the failed write counts; the verdict was FAIL (1) and is still printed
    assert re.fullmatch(r"FAIL 2 targets: 1 OK, 1 FAIL \(seed \d+\)", captured.out.splitlines()[-1])
    assert f"cannot write {tmp_path / 'j.xml'}: No space left on device" in captured.err
    assert json.loads((tmp_path / "b.json").read_text())["exit_code"] == 1  # the other report was written


def test_a_located_failure_is_annotated_at_its_line_and_explained_in_the_page(tmp_path, capsys,
                                                                              monkeypatch) -> None:
    """With the checker's source lines and misconceptions, each report says where and why: the line
    of the wrong derivative, inside the backward rule (the engine's unary ops share one)."""
    reference = "tests/engines/reference.py"
    line = next(n for n, text in enumerate((ROOT / reference).read_text().splitlines(), 1)
                if text.strip().startswith("self.accumulate(self.local[name]"))
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(ROOT))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code = main(["check", "tests/engines/variants.py:TanhGrad", CORRECT, "--only", "unary_tanh",
                 "--html", str(tmp_path / "r.html"), "--junit-xml", str(tmp_path / "j.xml")])
    assert code == 1
    [note] = [n for n in capsys.readouterr().out.splitlines() if n.startswith("::error ")]
    assert note.startswith(f"::error file={reference},line={line},title=twingrad check%3A unary_tanh (fail)")
    page = (tmp_path / "r.html").read_text()
    assert f"Engine source: <code>{reference}:{line}</code> in <code>Value._unary._backward</code>" in page
    assert "<b>Misconception:</b> your tanh derivative equals 1 − tanh(x)" in page
    failure = ET.parse(tmp_path / "j.xml").getroot().find(".//testcase[@name='unary_tanh']/failure")
    assert f"engine source: {reference}:{line} (in Value._unary._backward)" in failure.text
