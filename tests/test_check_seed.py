"""Inputs no one knows before the run: cheats that need them fail, and a seed replays a run exactly.

The cheats (tests/engines/cheats) have no chain rule. Two of them answer from numbers of an
earlier run -- an answer key in the shape twingrad once shipped, and a table keyed by the
ops and the inputs' labels and values -- built here from a correct run at one seed. Each
passes a replay of that very seed (so the cheat is real) and fails a fresh one.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from twingrad.check.cases import CASES
from twingrad.check.inputs import SEED_LIMIT, draw_cases
from twingrad.check.reference import reference
from twingrad.cli import main

CHEATS = Path(__file__).parent / "engines" / "cheats"
VARIANTS = Path(__file__).parent / "engines" / "variants.py"
RECORDED = 20251204  # the seed of the run the cheats learned from


def _check(tmp_path: Path, target: str, *args: str) -> tuple[int, dict]:
    out = tmp_path / "report.json"
    code = main(["check", target, "--json", str(out), *args])
    return code, json.loads(out.read_text())


def _folder(tmp_path: Path, cheat: str) -> Path:
    folder = tmp_path / "engine"
    folder.mkdir()
    for name in ("forward.py", f"{cheat}.py"):
        shutil.copy(CHEATS / name, folder / name)
    return folder


def _forward() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cheats_forward", CHEATS / "forward.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _fresh(report: dict) -> int:
    """A seed other than the recorded one (a fresh run may, once in 4e9, draw the same)."""
    return (report["seed"] + 1) % SEED_LIMIT if report["seed"] == RECORDED else report["seed"]


def _drawn_cases_fail(report: dict) -> None:
    """Every case whose gradients at the fresh seed differ from the recorded run's failed (a + a's
    are 2 at any a: a table of them is right anywhere)."""
    statuses = {case["name"]: case["status"] for case in report["cases"]}
    then, now = (draw_cases(CASES, seed) for seed in (RECORDED, report["seed"]))
    moved = [a.name for a, b in zip(then, now) if reference(a).numbers.grads != reference(b).numbers.grads]
    assert len(moved) > 25
    assert all(statuses[name] == "fail" for name in moved), statuses


def test_an_answer_key_from_an_earlier_run_passes_only_that_run(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "answer_key")
    key = {}
    for case in draw_cases(CASES, RECORDED):  # the numbers a correct run at RECORDED compares with
        expected = reference(case)
        key[case.name] = [expected.numbers.output, list(expected.numbers.grads), expected.after]
    (folder / "key.py").write_text(f"KEY = {key!r}\n".replace("nan", "float('nan')"))
    target = f"{folder / 'answer_key.py'}:Value"
    code, replayed = _check(tmp_path, target, "--seed", str(RECORDED))
    assert code == 0, replayed["summary"]  # the cheat works where the inputs are known ...
    code, fresh = _check(tmp_path, target)
    assert code == 1 and fresh["seed"] != RECORDED  # ... and a run with a fresh seed catches it
    _drawn_cases_fail(fresh)


def test_a_table_of_gradients_keyed_by_ops_labels_and_values_passes_only_the_run_it_copied(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path, "table_cheat")
    forward = _forward()
    table = {}
    for case in draw_cases(CASES, RECORDED):
        leaves = [forward.Forward(x, label=name) for name, x in zip(case.input_names, case.inputs)]
        grads = reference(case).numbers.grads
        table[forward.table_key(case.fn(*leaves))] = dict(zip(case.input_names, grads))
    (folder / "table.py").write_text(f"TABLE = {table!r}\n")
    target = f"{folder / 'table_cheat.py'}:Value"
    code, replayed = _check(tmp_path, target, "--seed", str(RECORDED))
    assert code == 0, replayed["summary"]
    code, fresh = _check(tmp_path, target, "--seed", str(_fresh(replayed)))
    assert code == 1
    _drawn_cases_fail(fresh)


def test_an_engine_without_a_chain_rule_fails_on_every_case_deeper_than_one_op(tmp_path: Path) -> None:
    code, report = _check(tmp_path, f"{CHEATS / 'no_chain_rule.py'}:Value")
    assert code == 1
    statuses = {case["name"]: case["status"] for case in report["cases"]}
    for name in ("seed_graph", "lecture_neuron", "deep_chain", "drawn_graph", "mlp_tanh_squared_error",
                 "unary_tanh", "softmax_nll"):
        assert statuses[name] == "fail", (name, report["cases"])


def test_two_runs_draw_different_inputs_and_a_seed_replays_a_run_exactly(tmp_path: Path) -> None:
    target = f"{VARIANTS}:MulGrad"  # wrong everywhere: every detail quotes the numbers it met
    first = _check(tmp_path, target)[1]
    second = _check(tmp_path, target)[1]
    assert first["seed"] != second["seed"]
    one, two = ({c["name"]: c for c in run["cases"]} for run in (first, second))
    assert one["seed_graph"] == two["seed_graph"]  # the lecture's numbers are the same every run
    differ = [name for name in one if one[name]["mismatch"] != two[name]["mismatch"]]
    assert {"deep_chain", "unary_exp", "drawn_graph", "mlp_tanh_squared_error"} <= set(differ)
    code, replayed = _check(tmp_path, target, "--seed", str(first["seed"]))
    assert code == 1 and replayed == first  # the JSON holds no timing: all of it is the same


def test_the_seed_is_in_every_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit, html = tmp_path / "report.xml", tmp_path / "report.html"
    code, report = _check(tmp_path, f"{VARIANTS}:TanhGrad", "--only", "seed_graph,unary_tanh", "--seed", "42",
                          "--junit-xml", str(junit), "--html", str(html))
    assert code == 1 and report["seed"] == 42
    assert capsys.readouterr().out.rstrip().endswith("(2 cases, seed 42)")
    properties = ET.parse(junit).getroot().find("testsuite/properties")
    assert properties is not None
    assert {p.get("name"): p.get("value") for p in properties}["seed"] == "42"
    assert "seed 42" in html.read_text()


@pytest.mark.parametrize("seed", ["-1", str(SEED_LIMIT)])
def test_a_seed_out_of_range_is_a_one_line_error(seed: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--only", "seed_graph", "--seed", seed]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--seed {seed}: a seed is a whole number from 0 to" in err


def test_every_target_of_a_batch_is_checked_at_the_same_inputs(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "batch.json"
    targets = [f"{VARIANTS}:TanhGrad", f"{VARIANTS}:ExpGrad"]
    code = main(["check", *targets, "--only", "unary_*", "--json", str(out)])
    assert code == 1
    runs = [target["run"] for target in json.loads(out.read_text())["targets"]]
    assert len({run["seed"] for run in runs}) == 1  # one seed for the class: the same inputs, fair
    assert capsys.readouterr().out.rstrip().endswith(f"(seed {runs[0]['seed']})")  # --seed replays the class


def test_an_engine_that_estimates_gradients_by_finite_differences_fails(tmp_path: Path) -> None:
    """Central differences refined by Richardson extrapolation come within 1e-9 or so: many cases pass,
    but the default tolerance (1e-10) is below what any difference quotient reaches everywhere."""
    code, report = _check(tmp_path, f"{CHEATS / 'finite_differences.py'}:Value")
    assert code == 1
    assert report["summary"]["fail"] >= 3 and not report["summary"]["error"], report["summary"]
