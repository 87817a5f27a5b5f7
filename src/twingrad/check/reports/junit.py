"""A batch as JUnit XML, the format the test views of GitHub, GitLab and Jenkins read.

One ``<testsuite>`` per target, one ``<testcase>`` per case. ``fail`` becomes
``<failure>``, ``error`` and ``timeout`` ``<error>``, ``unsupported`` ``<skipped>``;
``pass`` and ``note`` are passing test cases (a note's detail goes to ``<system-out>``).
A target that cannot be loaded is a suite with a single ``load`` test case in error, so
the test view shows it rather than dropping the submission silently.
ElementTree escapes markup; `printable` removes what XML cannot hold at all.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..batch import BatchRun, TargetOutcome
from ..result import ERROR, FAIL, NOTE, TIMEOUT, UNSUPPORTED, CaseResult
from .text import full_detail, printable

_ELEMENT = {FAIL: "failure", ERROR: "error", TIMEOUT: "error", UNSUPPORTED: "skipped"}


def _case(suite: ET.Element, target: str, result: CaseResult) -> dict[str, int]:
    case = ET.SubElement(suite, "testcase", name=printable(result.name, one_line=True),
                         classname=printable(target, one_line=True), time=f"{result.seconds:.3f}")
    element = _ELEMENT.get(result.status)
    detail = full_detail(result)
    if element is not None:
        message = (detail.split("\n", 1)[0] if detail else result.status)
        child = ET.SubElement(case, element, message=printable(message, one_line=True), type=result.status)
        if detail:
            child.text = printable(detail)
    elif result.status == NOTE and detail:
        ET.SubElement(case, "system-out").text = printable(detail)
    return {"failures": element == "failure", "errors": element == "error", "skipped": element == "skipped"}


def _suite(root: ET.Element, outcome: TargetOutcome) -> None:
    name = printable(outcome.target, one_line=True)
    suite = ET.SubElement(root, "testsuite", name=name, time=f"{outcome.seconds:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if outcome.run is None:
        case = ET.SubElement(suite, "testcase", name="load", classname=name, time=f"{outcome.seconds:.3f}")
        message = printable(outcome.error or "cannot be loaded", one_line=True)
        error = ET.SubElement(case, "error", message=message, type="cannot load")
        error.text = printable(outcome.error or "")
        totals.update(tests=1, errors=1)
    else:
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="torch_version",
                      value=printable(outcome.run.torch_version, one_line=True))
        if outcome.run.seed is not None:  # `twingrad check --seed N` replays the run
            ET.SubElement(properties, "property", name="seed", value=str(outcome.run.seed))
        for result in outcome.run.results:
            totals["tests"] += 1
            for key, hit in _case(suite, name, result).items():
                totals[key] += hit
    for key, n in totals.items():
        suite.set(key, str(n))


def junit_xml(batch: BatchRun) -> str:
    """The XML document, declaration included."""
    root = ET.Element("testsuites", name="twingrad check", time=f"{batch.seconds:.3f}")
    for outcome in batch.outcomes:
        _suite(root, outcome)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in root)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
