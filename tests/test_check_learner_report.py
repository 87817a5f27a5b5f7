"""One engine's check as a learner reads it: what is wrong, where (in the backward rule), what to fix.

Also what a learner meets around it: a ULP figure across zero, ``--python NAME`` as the
shell finds it, and a worker that dies at start explained in its own words.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from twingrad.check.protocol import ProtocolError, Source, read_answer, request
from twingrad.check.reports.learner import learner_report
from twingrad.check.result import FAIL, NOTE, PASS, UNSUPPORTED, CaseResult, CheckRun, Mismatch, SourceLine
from twingrad.check.session import check_engine
from twingrad.check.target import locate, prepare
from twingrad.check.worker import resolve_python
from twingrad.parity.rendering import ulps_text
from twingrad.parity.tolerances import differences

ROOT = Path(__file__).parents[1]
TANH = "tests/engines/learners/tanh_one_minus_x2.py"  # tanh's derivative written 1 - x**2, x the input
PYENV = Path.home() / ".pyenv" / "versions"


def _check(*args: str, columns: int | None = 80, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    environment.pop("COLUMNS", None)
    if columns is not None:
        environment["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "twingrad.cli", "check", *args], capture_output=True,
                          text=True, cwd=ROOT, env=environment, timeout=300)


def _line_of(path: str, text: str) -> int:
    return next(n for n, line in enumerate((ROOT / path).read_text().splitlines(), 1) if line.strip() == text)


def test_a_wrong_tanh_at_80_columns_fits_a_screen_and_names_the_line_inside_its_backward() -> None:
    done = _check(f"{TANH}:Value")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) <= 60
    assert [line for line in lines if line != line.rstrip()] == []  # piped: no padding anywhere
    assert max(map(len, lines[:-1])) <= 80  # the summary stays one line, for scripts: the terminal folds it
    wrong = _line_of(TANH, "self.grad += (1 - self.data**2) * out.grad")
    place = f"{TANH}:{wrong}, in Value.tanh._backward"
    # The failures come first, the first of them with the op, the misconception and the place.
    assert lines[3].startswith("✗ FAIL lecture_neuron: ")
    block = " ".join(lines[3:12])
    assert "op: tanh" in block and "misconception: your tanh derivative equals 1 − x² (x the input)" in block
    assert f"at {place}:" in block
    assert "        self.grad += (1 - self.data**2) * out.grad" in lines  # the line itself, under its place
    assert f"{TANH}:{_line_of(TANH, 'def tanh(self):')}" not in done.stdout
    # The two other failures with that cause say so in a line each; passes are counted.
    assert "    also fails the same way: unary_tanh, mlp_tanh_squared_error" in lines
    assert lines.index("✓ 25 pass (--verbose lists them)") < lines.index("What to fix, in this order:")
    # It ends with what to fix: one cause, its place, and every case it breaks; then the summary.
    fix = " ".join(line.strip() for line in lines[lines.index("What to fix, in this order:") + 1:] if line)
    assert fix.startswith(f"1. tanh at {place}: your tanh derivative equals 1 − x² (x the input), not 1 − "
                          "tanh(x)² -- fails lecture_neuron, unary_tanh, mlp_tanh_squared_error read as: ")
    assert re.search(r"FAIL tests/engines/learners/tanh_one_minus_x2\.py:Value: 3 fail, 25 pass, 1 note, "
                     r"7 unsupported \(36 cases, seed \d+\)$", fix)


def test_the_json_report_keeps_its_content_with_the_line_inside_the_backward(tmp_path: Path) -> None:
    assert _check(f"{TANH}:Value", "--only", "unary_tanh", "--json", str(tmp_path / "r.json")).returncode == 1
    [case] = json.loads((tmp_path / "r.json").read_text())["cases"]
    line = _line_of(TANH, "self.grad += (1 - self.data**2) * out.grad")
    assert case["source"] == {"file": TANH, "line": line, "function": "Value.tanh._backward"}
    assert set(case) == {"name", "ops", "status", "detail", "mismatch", "source", "misconception"}


def test_pypi_micrograd_passes_and_its_report_is_short() -> None:
    done = _check("micrograd.engine:Value", columns=None)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert not any(line.startswith("✗") for line in lines) and "What to fix, in this order:" not in lines
    assert any(line.startswith("! NOTE backward_twice: ") for line in lines)
    assert lines[-1].startswith("OK micrograd.engine:Value: ") and " fail" not in lines[-1]
    assert len(lines) <= 15 and [line for line in lines if line != line.rstrip()] == []


def _result(name: str, status: str, detail: str = "", **known: object) -> CaseResult:
    return CaseResult(name, ("*",), status, detail, **known)  # type: ignore[arg-type]


def test_causes_are_listed_once_in_the_catalogues_order_and_details_wrap_by_words() -> None:
    mul = SourceLine("engine.py", 12, "Value.__mul__._backward")
    results = [
        _result("seed_graph", FAIL, "`x * y` gives d/dx = 1, expected 2", source=mul, culprit="mul",
                mismatch=Mismatch("a", "grad", 1.0, 2.0, "torch")),
        _result("lecture_neuron", "error", "the engine ended its worker: the process ended (exit code 1):\n"
                "Traceback (most recent call last):\nZeroDivisionError: float division by zero"),
        _result("diamond", FAIL, "`x * y` gives d/dx = 3, expected 4", source=mul, culprit="mul"),
        _result("unary_exp", UNSUPPORTED, "no .exp()"),
        _result("backward_twice", NOTE, "a convention, not a bug"),
        _result("reuse_a_plus_a", PASS, "agree"),
    ]
    run = CheckRun("engine.py:Value", "2.x", results)
    lines = [line.plain for line in learner_report(run, width=60)]
    assert max(map(len, lines)) <= 60 and all(line == line.rstrip() for line in lines)
    assert "    grad of a: 1, expected 2. `x * y` gives d/dx = 1," in lines  # wrapped by words
    assert "    also fails the same way: diamond" in lines  # no repetition of seed_graph's explanation
    assert "    Traceback (most recent call last):" in lines  # a worker's lines stay lines, not \x0a escapes
    fixes = lines[lines.index("What to fix, in this order:") + 1:]
    assert fixes[0].startswith("  1. mul at engine.py:12, in Value.__mul__._backward: ")
    fixed = " ".join(line.strip() for line in fixes)
    assert "`x * y` gives d/dx = 1, expected 2 -- fails seed_graph, diamond 2. the engine ended its " \
        "worker: the process ended (exit code 1): ZeroDivisionError: float division by zero -- fails " \
        "lecture_neuron" in fixed
    text = " ".join(line.strip() for line in lines)
    assert "- 1 unsupported (the engine has no such op; fine unless --require names it): unary_exp" in text
    verbose = [line.plain for line in learner_report(run, width=60, verbose=True)]
    assert "✓ reuse_a_plus_a: agree" in verbose and "- unary_exp: no .exp()" in verbose
    assert "    the same cause as seed_graph" in verbose  # diamond, on lines of its own


# -- where a backward rule is: asked by a probe, validated, shown only if it is the engine's ----------


def test_a_backward_place_is_optional_validated_and_shown_only_for_the_engines_own_files() -> None:
    program = {"name": "probe", "steps": [{"let": "x", "value": 0.7},
                                          {"let": "out", "apply": "tanh", "args": [{"ref": "x"}],
                                           "locate_backward": True}]}
    sent = request(1, "run", programs=[program])

    def answer(out: dict[str, object]) -> bytes:
        trace = {"name": "probe", "steps": [{"ok": True, "node": 0}, out], "observations": []}
        return json.dumps({"id": 1, "nonce": sent["nonce"], "type": "run", "traces": [trace]}).encode()

    place = {"file": "engine/e.py", "line": 9, "function": "Value.tanh._backward"}
    [trace] = read_answer(answer({"ok": True, "node": 1, "backward": place}), sent).traces  # type: ignore[union-attr]
    assert trace.steps[1].backward is not None and trace.steps[1].backward.line == 9
    [trace] = read_answer(answer({"ok": True, "node": 1}), sent).traces  # type: ignore[union-attr]
    assert trace.steps[1].backward is None  # an adapter that cannot tell leaves it out
    with pytest.raises(ProtocolError, match=r"traces\[0\]\.steps\[1\]\.backward: expected an integer"):
        read_answer(answer({"ok": True, "node": 1, "backward": {**place, "line": "nine"}}), sent)
    prepared = prepare(locate(f"{TANH}:Value"))
    assert prepared.owns("engine/tanh_one_minus_x2.py")
    for foreign in ("engine/../../etc/passwd", "/etc/passwd", "pyworker.py", "engine/no.py", "engine//x.py"):
        assert not prepared.owns(foreign), foreign
        assert prepared.code_at(Source(foreign, 1)) == ""  # never read
    line = _line_of(TANH, "def tanh(self):")
    assert prepared.code_at(Source("engine/tanh_one_minus_x2.py", line)) == "def tanh(self):"
    assert prepared.place(Source("engine/tanh_one_minus_x2.py", line, "tanh")).code == "def tanh(self):"
    assert prepared.code_at(Source("engine/tanh_one_minus_x2.py", 10_000)) == ""


def test_a_wrong_derivative_of_the_second_operand_is_shown_at_its_own_line(tmp_path: Path) -> None:
    """``other.grad += other.data * out.grad``: the line for y, not the first line of mul's rule."""
    source = (ROOT / TANH).read_text().replace("(1 - self.data**2)", "(1 - t**2)")
    wrong = "other.grad += other.data * out.grad"
    (tmp_path / "engine.py").write_text(source.replace("other.grad += self.data * out.grad", wrong))
    [seed] = check_engine(f"{tmp_path / 'engine.py'}:Value", only=["seed_graph"]).results
    assert seed.status == FAIL and seed.culprit == "mul" and "gives d/dy" in seed.detail
    assert seed.source is not None and seed.source.line == _line_of(str(tmp_path / "engine.py"), wrong)


def test_a_probes_traffic_with_the_backward_place_follows_the_schema() -> None:
    from twingrad.check.programs import probe_program, spellings
    from twingrad.ops import op_named

    from .check_support import session_for

    schema = json.loads((ROOT / "docs" / "protocol.schema.json").read_text())
    answers = jsonschema.Draft202012Validator(schema)
    requests = jsonschema.Draft202012Validator({**{k: v for k, v in schema.items() if k != "oneOf"},
                                                "$ref": "#/$defs/request"})
    mul = op_named("mul")
    programs = [probe_program(mul, spelled, (0.7, 1.3), kinds, None).program
                for spelled, kinds in spellings(mul, 0.7, 1.3)]
    with session_for(f"{ROOT / TANH}:Value") as session:
        assert session.worker is not None
        session.worker.traffic = []
        requests.validate(request(7, "run", programs=programs))
        traces = session.run(programs)
        lines = session.worker.traffic
    for line in lines:
        answers.validate(json.loads(line))
    made = [trace.steps[[s.get("let") for s in program["steps"]].index("out")]
            for trace, program in zip(traces, programs)]
    own, others = (_line_of(TANH, "self.grad += other.data * out.grad"),
                   _line_of(TANH, "other.grad += self.data * out.grad"))
    # x * y; x * 1.3; 0.7 * y, where __rmul__ runs with y as self: the line of each Value's gradient
    assert [step.backward_inputs for step in made] == [(own, others), (own, None), (None, own)]
    assert {step.backward.function for step in made if step.backward} == {"Value.__mul__._backward"}


@pytest.mark.parametrize("version", ["3.8.18", "3.13.0"])
def test_the_worker_finds_the_backward_line_under_old_and_new_pythons(version: str) -> None:
    python = PYENV / version / "bin" / "python"
    assert python.exists(), f"pyenv's Python {version} is part of this machine's set-up"
    run = check_engine(f"{ROOT / TANH}:Value", only=["unary_tanh"], python=str(python))
    [tanh] = run.results
    assert run.worker.version == version
    assert tanh.status == FAIL and tanh.culprit == "tanh" and tanh.source is not None
    assert (tanh.source.line, tanh.source.function) == (
        _line_of(TANH, "self.grad += (1 - self.data**2) * out.grad"), "Value.tanh._backward")


# -- ULP figures ---------------------------------------------------------------------------------


def test_a_ulp_distance_across_zero_says_the_sign_differs() -> None:
    _, _, ulps = differences(np.array([1.0, 1.0, 5e-324]), np.array([-1.0, 1.0 + 2**-52, -5e-324]))
    assert ulps_text(ulps[0]) == "9.2e+18"  # the count alone, as it runs through every float
    assert ulps_text(ulps[0], 1.0, -1.0) == "sign differs"
    assert ulps_text(ulps[1], 1.0, 1.0 + 2**-52, unit=True) == "1 ULP"
    assert ulps_text(ulps[2], 5e-324, -5e-324) == "sign differs"
    assert ulps_text(0.0, 0.0, -0.0) == "0"  # equal numbers: no distance, whatever the zero's sign


# -- --python NAME, and a worker that dies as it starts ------------------------------------------------


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_python_is_found_on_path_and_a_launcher_script_is_asked_for_its_interpreter(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    real = os.path.realpath(sys.executable)
    _script(tmp_path, "learnerpython", f'exec "{real}" "$@"')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert os.path.realpath(resolve_python("learnerpython")) == real
    with pytest.raises(ValueError, match="--python no-such-python: no such program on PATH"):
        resolve_python("no-such-python")


def test_a_pyenv_shim_resolves_to_the_interpreter_it_would_run(monkeypatch) -> None:
    python = PYENV / "3.12.1" / "bin" / "python3.12"
    assert python.exists(), "pyenv's Python 3.12.1 is part of this machine's set-up"
    monkeypatch.setenv("PYENV_VERSION", "3.12.1")
    assert resolve_python("python3.12") == str(python)
    run = check_engine(f"{ROOT / TANH}:Value", only=["seed_graph"], python="python3.12")
    assert run.worker.version == "3.12.1" and run.ok


def test_a_launcher_that_refuses_shows_its_message_over_several_lines(tmp_path: Path) -> None:
    shim = _script(tmp_path, "python3.99", "echo 'pyenv: python3.99: command not found' >&2\necho >&2\n"
                   "echo 'The `python3.99` command exists in these Python versions:' >&2\n"
                   "echo '  3.99.0' >&2\nexit 127")
    done = _check("--python", str(shim), f"{TANH}:Value")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"twingrad check: --python {shim}: {shim} runs no Python (exit code 127):",
        "    pyenv: python3.99: command not found",
        "",
        "    The `python3.99` command exists in these Python versions:",
        "      3.99.0",
    ]


def test_a_worker_that_dies_at_start_shows_the_last_twenty_lines_of_its_stderr(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter.py"
    adapter.write_text("import sys\nfor k in range(50):\n    print(f'line {k}', file=sys.stderr)\n"
                       "print('ValueError: \\x1b[31mno engine here', file=sys.stderr)\nsys.exit(3)\n")
    done = _check("--exec", f"{sys.executable} {adapter}")
    assert done.returncode == 2 and done.stdout == ""
    first, *quoted = done.stderr.splitlines()
    assert first.startswith("twingrad check: the worker (") and first.endswith(
        "ended as it started: the process ended (exit code 3):")
    assert quoted == [f"    line {k}" for k in range(31, 50)] + ["    ValueError: \\x1b[31mno engine here"]
