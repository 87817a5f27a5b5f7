"""`twingrad check` on real engines: every classic bug caught and named, no false alarm elsewhere.

The engines are in ``tests/engines``: a correct reference in the lecture's style and
variants that each change one thing. All runs go through the command (`main`); each
engine gets a worker of its own, as in real use.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import pytest

from twingrad.check.cases import CASES
from twingrad.cli import main

ENGINES = Path(__file__).parent / "engines"
VARIANTS = ENGINES / "variants.py"


@pytest.fixture
def twingrad_check(tmp_path: Path):
    """Run ``twingrad check TARGET [args]`` in this process; return (exit code, JSON report)."""

    def run(target: str | None, *args: str) -> tuple[int, dict]:
        out = tmp_path / "report.json"
        code = main(["check", *([target] if target else []), "--json", str(out), *args])
        return code, json.loads(out.read_text(), parse_constant=_not_json)

    return run


def _not_json(token: str) -> None:
    raise ValueError(f"{token} is not JSON")  # Python writes and reads NaN; other readers do not


def _case(report: dict, name: str) -> dict:
    return next(c for c in report["cases"] if c["name"] == name)


# (engine, a case that must fail, words the verdict must contain to name the op and the bug)
BUGS = [
    ("TanhGrad", "unary_tanh", ["tanh is wrong on its own", "`x.tanh()` gives d/dx"]),
    ("ExpGrad", "unary_exp", ["exp is wrong on its own", "`x.exp()` gives d/dx"]),
    ("LogGrad", "unary_log", ["log is wrong on its own", "`x.log()` gives d/dx"]),
    ("PowGrad", "integer_powers", ["pow is wrong on its own", "`x ** 2.0` gives d/dx"]),
    ("SigmoidGrad", "unary_sigmoid", ["sigmoid is wrong on its own", "`x.sigmoid()` gives d/dx"]),
    ("ReluGrad", "unary_relu", ["relu is wrong on its own", "`x.relu()` gives d/dx"]),
    ("MulGrad", "seed_graph", ["mul is wrong on its own", "`x * y` gives d/dx"]),
    ("Overwrite", "reuse_a_plus_a", ["a is used 2 times (n1 = a + a)", "is only 1 of their 2 shares"]),
    ("AddOverwrite", "reuse_a_plus_a", ["a is used 2 times (n1 = a + a)", "overwrites gradients (`=`)"]),
    ("TanhOverwrite", "unary_tanh", ["y is used 2 times (n4 = y.tanh(), n5 = n4 * y)", "overwrites"]),
    ("WrongOrder", "reuse_three_consumers", ["n2 = a * b passed back", "the order backward visits"]),
    ("RsubSign", "number_minus_value", ["`0.7 - y` gives 0.6", ", expected -0.6"]),
    ("RdivOrder", "number_over_value", ["`0.7 / y` gives 1.857", ", expected 0.538"]),
    ("Float32", "unary_tanh", ["keeps ", "every value the engine holds is a float32"]),
]


@pytest.mark.parametrize(("engine", "case", "words"), BUGS, ids=[b[0] for b in BUGS])
def test_each_bug_class_fails_the_run_and_the_verdict_names_the_op(twingrad_check, engine: str, case: str,
                                                                   words: list[str]) -> None:
    code, report = twingrad_check(f"{VARIANTS}:{engine}")
    assert code == 1
    verdict = _case(report, case)
    assert verdict["status"] == "fail", verdict
    for word in words:
        assert word in verdict["detail"]
    if engine == "Float32":  # the stored number is the drawn input rounded to float32
        mismatch = verdict["mismatch"]
        assert f"keeps {mismatch['engine']!r}" in verdict["detail"]
        assert mismatch["engine"] == struct.unpack("f", struct.pack("f", mismatch["expected"]))[0]
    # A bug is a failure, never an error, timeout or crash of the harness.
    assert not report["summary"]["error"] and not report["summary"]["timeout"]


def test_an_operator_returning_a_plain_number_is_an_error_at_that_very_operation(twingrad_check) -> None:
    code, report = twingrad_check(f"{VARIANTS}:RmulFloat", "--only", "number_times_value")
    assert code == 1
    verdict = _case(report, "number_times_value")
    assert verdict["status"] == "error"
    assert re.match(r"`3 \* x` returned a float \(-?\d+\.\d+(e-?\d+)?\)", verdict["detail"])
    assert "the graph is cut there" in verdict["detail"]
    assert verdict["source"]["function"] == "__rmul__" and verdict["source"]["file"].endswith("variants.py")


def test_the_first_disagreeing_node_is_found_not_only_the_leaf(twingrad_check) -> None:
    _, report = twingrad_check(f"{VARIANTS}:TanhGrad", "--only", "lecture_neuron")
    mismatch = _case(report, "lecture_neuron")["mismatch"]
    # The tanh's input n = x1*w1 + x2*w2 + b is the first node whose gradient is wrong; its
    # expected number comes from the op table's replay of the engine's graph.
    assert mismatch == {"where": "n8 = n6 + b", "quantity": "grad", "engine": pytest.approx(1 - 0.5**0.5),
                        "expected": pytest.approx(0.5), "by": "twingrad"}


def test_a_data_divergence_names_the_op_that_computed_it(twingrad_check) -> None:
    _, report = twingrad_check(f"{VARIANTS}:Float32", "--only", "softmax_nll")
    verdict = _case(report, "softmax_nll")
    assert verdict["mismatch"]["quantity"] == "data"
    assert "float32" in verdict["detail"]


CORRECT = ["SetChildren", "ListChildren", "RecursiveOrder", "Chatty"]


@pytest.mark.parametrize("engine", CORRECT)
def test_correct_engines_written_differently_pass(twingrad_check, engine: str) -> None:
    code, report = twingrad_check(f"{VARIANTS}:{engine}")
    assert code == 0
    summary = report["summary"]
    assert summary["fail"] == summary["error"] == summary["timeout"] == 0
    assert summary["pass"] >= 25
    assert _case(report, "backward_twice")["status"] == "note"  # micrograd's convention, kept by them


def test_an_unrelated_correct_engine_passes_with_its_own_convention_noted(twingrad_check) -> None:
    code, report = twingrad_check(f"{ENGINES}/alt_engine.py:Num")
    assert code == 0
    twice = _case(report, "backward_twice")
    assert twice["status"] == "note"
    assert "starts from zero gradients every time" in twice["detail"]
    assert twice["mismatch"] == {"where": "a", "quantity": "grad", "engine": 4.0, "expected": 8.0,
                                 "by": "twingrad"}


def test_pypi_micrograd_has_no_failures_and_its_missing_ops_are_unsupported(twingrad_check) -> None:
    code, report = twingrad_check("micrograd.engine:Value")
    assert code == 0
    statuses = {c["name"]: c["status"] for c in report["cases"]}
    assert {s for s in statuses.values()} == {"pass", "unsupported", "note"}
    for name in ("unary_tanh", "unary_exp", "unary_log", "lecture_neuron", "softmax_nll",
                 "value_to_the_value", "number_to_the_value"):
        assert statuses[name] == "unsupported"
    for name in ("seed_graph", "reuse_a_plus_a", "stacked_diamonds", "deep_chain", "sum_of_a_list",
                 "number_minus_value", "integer_powers", "unary_relu", "mlp_relu_hinge", "nudge_step"):
        assert statuses[name] == "pass"
    assert _case(report, "unary_tanh")["detail"] == "no .tanh()"
    twice = _case(report, "backward_twice")
    assert twice["status"] == "note"
    # The example: a*a + 1 at 2, backward twice: micrograd 12, torch 8.
    assert twice["mismatch"] == {"where": "a", "quantity": "grad", "engine": 12.0, "expected": 8.0,
                                 "by": "twingrad"}


def test_twingrad_itself_passes_every_case(twingrad_check) -> None:
    code, report = twingrad_check(None)
    assert code == 0
    assert report["target"] == "twingrad.engine:Value"
    assert report["summary"]["pass"] == len(CASES) == len(report["cases"])


def test_json_follows_the_schema(twingrad_check) -> None:
    import torch

    _, report = twingrad_check(f"{VARIANTS}:TanhGrad", "--only", "seed_graph,unary_tanh,value_to_the_value")
    assert set(report) == {"target", "torch_version", "seed", "reading", "cases", "summary"}
    assert report["torch_version"] == torch.__version__
    assert report["summary"] == {"fail": 1, "error": 0, "timeout": 0, "pass": 1, "note": 0, "unsupported": 1}
    for case in report["cases"]:
        assert set(case) == {"name", "ops", "status", "detail", "mismatch", "source", "misconception"}
        assert case["status"] in {"pass", "fail", "error", "timeout", "unsupported", "note"}
        if case["mismatch"] is not None:
            assert set(case["mismatch"]) == {"where", "quantity", "engine", "expected", "by"}
            assert case["mismatch"]["by"] in {"torch", "twingrad"}
            assert case["mismatch"]["quantity"] in {"data", "grad"}
    assert _case(report, "unary_tanh")["ops"] == ["tanh", "*", "+"]


def test_a_nan_in_a_verdict_is_still_valid_json(twingrad_check) -> None:
    code, report = twingrad_check(f"{VARIANTS}:NanLogGrad", "--only", "unary_log")
    assert code == 1
    verdict = _case(report, "unary_log")
    assert verdict["mismatch"]["engine"] == "nan"
    assert re.search(r"d/dx = nan, expected \d\.?\d*(e-\d+)? \(at x=", verdict["detail"])


def test_svg_draws_the_failing_case_with_the_expected_values_beside_the_engine_and_the_culprit_in_red(
    twingrad_check, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = twingrad_check(f"{VARIANTS}:TanhGrad", "--only", "seed_graph,lecture_neuron", "--svg",
                             str(tmp_path / "svg"))
    assert code == 1
    files = sorted(p.name for p in (tmp_path / "svg").iterdir())
    assert files == ["lecture_neuron.svg"]  # only failing cases are drawn
    svg = (tmp_path / "svg" / "lecture_neuron.svg").read_text()
    assert "twingrad 0.5000" in svg and 'stroke="red"' in svg  # the op table's replay, labelled so
    assert f"drawn: {tmp_path / 'svg' / 'lecture_neuron.svg'}" in capsys.readouterr().out
