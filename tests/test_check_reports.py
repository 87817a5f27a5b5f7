"""The batch and its reports as pure renderings: built from result objects, no worker, no torch.

Every report carries text the engine wrote (details, labels, exception messages); the
hostile `NASTY` text below must come out escaped in each format and never as markup,
a terminal control sequence or a forged workflow command.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from twingrad.check.batch import FAILED, OK, UNLOADABLE, BatchRun, TargetOutcome, run_batch
from twingrad.check.reports import github
from twingrad.check.reports.html import html_page
from twingrad.check.reports.junit import junit_xml
from twingrad.check.reports.terminal import batch_table
from twingrad.check.reports.text import printable
from twingrad.check.result import CaseResult, CheckRun, Drawing, Mismatch, SourceLine
from twingrad.check.target import TargetError

NASTY = "<script>alert(1)</script> & ]]> \x1b[31mred\x07 line1\nline2 ::warning::x %0A | `x` [a](b)"
SVG = Drawing('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect fill="red"/></svg>')


def _run(target: str, *results: CaseResult) -> CheckRun:
    return CheckRun(target, "2.13.0+cpu", list(results), seconds=1.5)


def _failing() -> CaseResult:
    return CaseResult(
        "reuse_a_plus_a", ("+",), "fail", detail="a is used 2 times " + NASTY,
        mismatch=Mismatch("a", "grad", 1.0, 2.0), svg=SVG,
        source=SourceLine("subs/ada/engine.py", 27, "__add__"),
        misconception="a backward overwrites gradients (`=`) where they must add up (`+=`)",
    )


# The misconception named, then the engine's function and line (the numbers are in the case's row).
FIRST_PROBLEM = ("reuse_a_plus_a (fail): a backward overwrites gradients (`=`) where they must add up (`+=`) "
                 "-- __add__() at engine.py:27")


@pytest.fixture
def batch() -> BatchRun:
    good = _run("subs/bob/engine.py:Value", CaseResult("seed_graph", ("*", "+"), "pass", "agree"),
                CaseResult("backward_twice", ("*",), "note", "a convention"))
    bad = _run(
        "subs/ada/engine.py:Value",
        CaseResult("seed_graph", ("*", "+"), "pass", "agree"),
        _failing(),
        CaseResult("deep_chain", ("*",), "timeout", "no answer within 10 s (while in backward())"),
        CaseResult("unary_exp", ("exp",), "error", "ZeroDivisionError " + NASTY,
                   source=SourceLine("subs/ada/engine.py", 40, "exp")),
        CaseResult("unary_log", ("log",), "unsupported", "no .log()"),
    )
    broken = TargetOutcome("subs/cy/engine.py:Value", error="importing subs/cy/engine.py failed: " + NASTY)
    return BatchRun([TargetOutcome(good.target, run=good), TargetOutcome(bad.target, run=bad), broken], 3.0)


# -- the batch ---------------------------------------------------------------------------------


def test_the_batch_exit_status_is_the_worst_target(batch: BatchRun) -> None:
    assert [o.verdict for o in batch.outcomes] == [OK, FAILED, UNLOADABLE]
    assert [o.exit_code for o in batch.outcomes] == [0, 1, 2]
    assert batch.exit_code == 2 and not batch.ok
    assert BatchRun(batch.outcomes[:2]).exit_code == 1
    assert BatchRun(batch.outcomes[:1]).exit_code == 0
    assert batch.summary_line() == "FAIL 3 targets: 1 OK, 1 FAIL, 1 cannot load"
    assert batch.outcomes[1].first_problem() == FIRST_PROBLEM
    assert batch.outcomes[1].counts() == "1 fail, 1 error, 1 timeout, 1 pass, 1 unsupported"


def test_run_batch_keeps_order_runs_jobs_at_once_and_turns_a_load_error_into_a_row() -> None:
    import threading
    import time

    running, most = set(), [0]
    lock = threading.Lock()

    def fake_check(target: str, *, progress, **options) -> CheckRun:
        classmates = options.pop("classmates")  # the other targets' files: never copied into this one
        assert sorted(classmates) == sorted({"a.py", "bad.py", "b.py", "boom.py"} - {target.split(":")[0]})
        assert options == {"only": ["seed_graph"], "timeout": 3.0}  # passed through untouched
        with lock:
            running.add(target)
            most[0] = max(most[0], len(running))
        time.sleep(0.2)
        with lock:
            running.discard(target)
        if target == "bad.py:Value":
            raise TargetError("no such file: bad.py")
        if target == "boom.py:Value":
            raise RuntimeError("the worker could not start")
        return _run(target, CaseResult("seed_graph", ("*",), "pass"))

    done = []
    targets = ["a.py:Value", "bad.py:Value", "b.py:Value", "boom.py:Value", "a.py:Value"]
    result = run_batch(targets, jobs=2, check=fake_check, on_done=done.append, only=["seed_graph"],
                       timeout=3.0)
    assert [o.target for o in result.outcomes] == targets[:4]  # in order, the repeated one once
    assert most[0] == 2  # two at a time, never more
    assert [o.verdict for o in result.outcomes] == [OK, UNLOADABLE, OK, UNLOADABLE]
    assert result.outcomes[1].error == "no such file: bad.py"
    assert result.outcomes[3].error == "the check could not run: RuntimeError: the worker could not start"
    assert sorted(o.target for o in done) == sorted(set(targets))
    with pytest.raises(ValueError):
        run_batch(targets, jobs=0, check=fake_check)


def test_batch_json_holds_every_target_with_the_single_target_schema(batch: BatchRun) -> None:
    doc = batch.to_dict()
    assert doc["exit_code"] == 2 and doc["summary"] == {"OK": 1, "FAIL": 1, "cannot load": 1}
    ok, fail, broken = doc["targets"]
    assert ok["run"] == batch.outcomes[0].run.to_dict() and ok["error"] is None
    assert broken["run"] is None and broken["error"].startswith("importing subs/cy/engine.py failed")
    case = fail["run"]["cases"][1]
    assert case["source"] == {"file": "subs/ada/engine.py", "line": 27, "function": "__add__"}
    assert case["misconception"].startswith("a backward overwrites")


def test_an_interrupted_batch_stops_its_running_checks_at_their_next_case() -> None:
    import _thread
    import threading
    import time

    from twingrad.check.cases import CASES

    stopped = []

    def slow_check(target: str, *, progress, **options) -> CheckRun:
        try:
            for _ in range(200):  # 10 s unless interrupted
                progress(CASES[0], None)
                time.sleep(0.05)
        except BaseException as exc:
            stopped.append((target, type(exc).__name__))
            raise
        return _run(target)

    threading.Timer(0.3, _thread.interrupt_main).start()
    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_batch(["a.py:V", "b.py:V", "c.py:V", "d.py:V"], jobs=2, check=slow_check)
    assert time.perf_counter() - began < 2
    assert sorted(stopped) == [("a.py:V", "Cancelled"), ("b.py:V", "Cancelled")]  # c and d never started


# -- terminal ----------------------------------------------------------------------------------


def test_the_terminal_rows_escape_control_characters(batch: BatchRun) -> None:
    console = Console(record=True, width=200, color_system=None, file=io.StringIO())
    console.print(batch_table(batch))
    text = console.export_text()
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[31mred\\x07" in text
    assert "cannot load" in text and FIRST_PROBLEM in text


def test_printable_keeps_text_and_escapes_controls_and_bidi() -> None:
    assert printable("héllo\tworld\n∂L/∂a") == "héllo\tworld\n∂L/∂a"
    assert printable("a\x00b\x1b\x7f\x85\u202e") == "a\\x00b\\x1b\\x7f\\x85\\u202e"
    assert printable("a\nb\tc", one_line=True) == "a\\x0ab\\x09c"


# -- JUnit XML ---------------------------------------------------------------------------------


def test_junit_xml_has_a_suite_per_target_and_the_right_element_per_status(batch: BatchRun) -> None:
    root = ET.fromstring(junit_xml(batch).encode("utf-8"))  # parses: nothing XML cannot hold
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8", "failures": "1", "errors": "3", "skipped": "1"}
    good, bad, broken = root.findall("testsuite")
    assert [s.get("name") for s in (good, bad, broken)] == [o.target for o in batch.outcomes]
    assert good.get("tests") == "2" and good.get("failures") == "0" and not good.findall(".//failure")
    assert good.find("testcase[@name='backward_twice']/system-out").text == "a convention"
    cases = {c.get("name"): c for c in bad.findall("testcase")}
    assert list(cases) == ["seed_graph", "reuse_a_plus_a", "deep_chain", "unary_exp", "unary_log"]
    assert list(cases["seed_graph"]) == []
    failure = cases["reuse_a_plus_a"].find("failure")
    assert failure.get("message") == "grad of a: 1, expected 2" and failure.get("type") == "fail"
    assert "engine source: subs/ada/engine.py:27 (in __add__)" in failure.text
    assert "misconception: a backward overwrites" in failure.text
    assert NASTY.replace("\x1b", "\\x1b").replace("\x07", "\\x07") in failure.text  # escaped, then restored
    assert cases["deep_chain"].find("error").get("type") == "timeout"
    assert cases["unary_exp"].find("error").get("type") == "error"
    assert cases["unary_log"].find("skipped").get("message") == "no .log()"
    assert all(c.get("classname") == "subs/ada/engine.py:Value" for c in cases.values())
    assert bad.find("properties/property").get("value") == "2.13.0+cpu"
    [load] = broken.findall("testcase")
    assert load.get("name") == "load" and broken.get("errors") == "1"
    assert load.find("error").get("message").startswith("importing subs/cy/engine.py failed")


# -- HTML --------------------------------------------------------------------------------------


def test_the_html_page_escapes_the_engine_and_requests_nothing(batch: BatchRun) -> None:
    page = html_page(batch)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page and "\\x1b[31mred" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # only inside the image
    assert 'src="data:image/svg+xml;base64,' in page
    assert page.count('<table class="verdicts">') == 2  # the target that cannot load has none
    assert "Engine source: <code>subs/ada/engine.py:27</code> in <code>__add__</code>" in page
    assert "<b>Misconception:</b> a backward overwrites gradients" in page
    assert page.count('<div class="failure"') == 3  # fail, timeout, error of the failing target


# -- GitHub Actions ----------------------------------------------------------------------------


def test_annotations_point_at_the_engine_line_and_cannot_forge_a_command(batch: BatchRun) -> None:
    lines = github.annotations(batch, workspace=None)
    assert all(line.startswith("::error ") and "\n" not in line and "\x1b" not in line for line in lines)
    add, exp, unplaced, broken = lines
    assert add.startswith(
        "::error file=subs/ada/engine.py,line=27,title=twingrad check%3A reuse_a_plus_a (fail)::")
    message = add.split("::", 2)[2]
    assert "\n" not in message and "line1%0Aline2" in message and "%250A" in message  # % itself escaped
    assert exp.startswith("::error file=subs/ada/engine.py,line=40,")
    assert unplaced.startswith(
        "::error file=subs/ada/engine.py,title=twingrad check subs/ada/engine.py%3AValue%3A 1")
    assert "deep_chain (timeout)" in unplaced
    assert broken.startswith("::error file=subs/cy/engine.py,title=twingrad check%3A cannot load")


def test_annotation_paths_are_relative_to_the_workspace(tmp_path) -> None:
    engine = tmp_path / "subs" / "engine.py"
    result = CaseResult("seed_graph", ("*",), "fail", "wrong", source=SourceLine(str(engine), 3, "__mul__"))
    run = _run(f"{engine}:Value", result)
    [line] = github.annotations(BatchRun([TargetOutcome(run.target, run=run)]), workspace=str(tmp_path))
    assert line.startswith("::error file=subs/engine.py,line=3,")


def test_the_step_summary_is_markdown_with_nothing_live_from_the_engine(batch: BatchRun, tmp_path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    github.append_step_summary(batch, str(summary))
    text = summary.read_text()
    assert text.startswith("earlier step\n## twingrad check: FAIL 3 targets")
    assert "| subs/bob/engine\\.py:Value | ✅ OK |" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "\x1b" not in text
    for line in text.splitlines():
        if line.startswith("| reuse_a_plus_a"):
            assert line.count(" | ") == 2  # the engine's "|" cannot add a column
    assert "### subs/ada/engine\\.py:Value" in text


def test_in_github_actions_reads_the_variable() -> None:
    assert github.in_github_actions({"GITHUB_ACTIONS": "true"})
    assert not github.in_github_actions({})


def test_a_glob_in_the_file_part_of_a_target_is_expanded(tmp_path, monkeypatch) -> None:
    from twingrad.check.batch import expand

    for name in ("bob", "ada", "cy"):
        (tmp_path / "subs" / name).mkdir(parents=True)
        (tmp_path / "subs" / name / "engine.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert expand(["subs/*/engine.py:Value", "pkg.mod:Value", "subs/ada/engine.py:Value"]) == [
        "subs/ada/engine.py:Value", "subs/bob/engine.py:Value", "subs/cy/engine.py:Value", "pkg.mod:Value"]
    assert expand(["nothing/*/engine.py:Value"]) == ["nothing/*/engine.py:Value"]  # reported as not found
