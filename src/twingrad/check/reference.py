"""torch's side of every case -- output, input gradients, nudged output -- computed once, recorded.

The catalogue is fixed, so torch's answers for it are too: they are recorded in
``torch_reference.json`` beside this module (``make reference`` writes it; a test
recomputes every number with the installed torch and requires them bit for bit). With
the record in place a check never imports torch: a failure is explained with twingrad's
op table (`probes.TWIN`), so a passing engine is judged in a fraction of a second and a
failing one in about a second more.

The record is used only while it matches the catalogue (a digest of every case program
and input) and the installed torch's version, when torch is installed; otherwise torch
computes the numbers afresh in this process. The file ships inside the package: no engine
can write to it from its sandbox.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

from ..verdict import json_number
from .cases import CASES, CASES_BY_NAME
from .programs import NUDGE_STEP, compile_case

RECORD = Path(__file__).with_name("torch_reference.json")
Side = tuple[float, tuple[float, ...], float]  # output, input gradients, output after the nudge


def catalogue_digest() -> str:
    """What the recorded numbers are numbers of: every case's name, inputs and program."""
    parts = [[case.name, list(case.inputs), compile_case(case, True).program] for case in CASES]
    return hashlib.sha256(json.dumps([NUDGE_STEP, parts], sort_keys=True).encode()).hexdigest()


def installed_torch() -> str | None:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def _recorded() -> dict[str, Any] | None:
    try:
        record = json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return None
    if record.get("catalogue") != catalogue_digest() or record.get("torch_version") != installed_torch():
        return None
    return record


def torch_version() -> str:
    """The torch whose numbers the verdicts compare with."""
    record = _recorded()
    if record is not None:
        return str(record["torch_version"])
    import torch

    return str(torch.__version__)


@functools.cache
def torch_side(name: str) -> Side:
    """torch's numbers for a case: recorded, or computed now."""
    record = _recorded()
    if record is not None and name in record["cases"]:
        before, grads, after = record["cases"][name]
        return float(before), tuple(float(g) for g in grads), float(after)  # "nan", "inf" too
    return compute(name)


def compute(name: str) -> Side:
    """torch's numbers for a case, computed in float64 with the installed torch."""
    from ..parity.function import start_report

    case = CASES_BY_NAME[name]

    def by_name(**values: Any) -> Any:
        return case.fn(*values.values())  # the inputs keep the case's names in the reports

    report = start_report(by_name, case.input_names, case.inputs, True, NUDGE_STEP, case.name)
    assert report.torch_before is not None and report.torch_after is not None
    return report.torch_before, tuple(report.torch_grads), report.torch_after


def record() -> Path:
    """Compute every case with the installed torch and write the record (``make reference``)."""
    from ..files import write_atomic

    cases = {}
    for case in CASES:
        before, grads, after = compute(case.name)
        cases[case.name] = [json_number(before), [json_number(g) for g in grads], json_number(after)]
    document = {"torch_version": installed_torch(), "catalogue": catalogue_digest(), "cases": cases}
    return write_atomic(RECORD, json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    print(f"wrote {record()}")
