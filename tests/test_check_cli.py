"""``twingrad check`` as a learner runs it: exit statuses, one-line errors, the table and summary."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from twingrad.check.cases import CASES
from twingrad.cli import main

SCRIPT = Path(sys.executable).parent / "twingrad"
VARIANTS = Path(__file__).parent / "engines" / "variants.py"


def _twingrad(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_checking_twingrad_itself_exits_0_with_the_passes_counted_and_a_one_line_summary() -> None:
    result = _twingrad("check", "--only", "seed_graph,unary_*,backward_twice")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"OK twingrad\.engine:Value: 12 pass \(12 cases, seed \d+\)", lines[-1])
    assert "✓ 12 pass (--verbose lists them)" in lines and not any("seed_graph" in line for line in lines)
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    verbose = _twingrad("check", "--only", "seed_graph,unary_*", "--verbose").stdout.splitlines()
    assert any(line.startswith("✓ seed_graph: output, input gradients") for line in verbose)


def test_a_missing_attribute_exits_2_with_one_line_and_no_traceback() -> None:
    result = _twingrad("check", f"{VARIANTS}:Nope")
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"twingrad check: {VARIANTS} has no attribute 'Nope' (it defines: AddOverwrite, ")
    assert "TanhGrad" in line and ", Value" not in line  # its own classes, not the imported reference


@pytest.mark.parametrize("extra", [[], ["--protocol-only"]], ids=["check", "protocol-only"])
def test_a_worker_program_that_does_not_exist_exits_2_with_one_line(extra: list[str]) -> None:
    result = _twingrad("check", "--exec", "no-such-worker-program", *extra)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["twingrad check: --exec: no program no-such-worker-program on PATH"]


def _exit_code(args: list[str]) -> int | str | None:
    try:
        return main(args)
    except SystemExit as exc:  # argparse's own refusals
        return exc.code


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing/engine.py:Value"], "no such file: missing/engine.py"),
        (["engine.py"], "target 'engine.py' must be module:Name or path/to/file.py:Name"),
        (["--timeout", "0"], "timeout must be a number of seconds above 0 and at most 86400, not 0.0"),
        (["--rtol", "-1"], "--rtol must be a finite number >= 0"),
        (["--names", "colour=red"], "--names takes ROLE=NAME pairs"),
        (["--protocol-only"], "--protocol-only checks a worker given with --exec COMMAND"),
        (["--python", "/no/such/python"], "--python /no/such/python: no such program"),
        (["--json", "/"], "--json /: is a folder"),
        (["--require", "frobnicate"], "--require 'frobnicate' names no op or case"),
        (["--timeout", "soon"], "argument --timeout: invalid float value: 'soon'"),
        (["--only", "seed_graph,nope"], "no case matches 'nope'"),
        (["--only", " , "], "--only names no case"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_on_stderr(args: list[str], message: str, capsys) -> None:
    assert _exit_code(["check", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("twingrad") and message in line


def test_help_states_the_real_default_timeout_and_the_exit_statuses(capsys) -> None:
    from twingrad.check import DEFAULT_TIMEOUT

    assert _exit_code(["check", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {DEFAULT_TIMEOUT:g})" in text
    assert "exit status: 0 every supported case agrees with torch" in text


def test_list_names_every_case(capsys) -> None:
    assert main(["check", "--list"]) == 0
    out = capsys.readouterr().out
    for case in CASES:
        assert case.name in out
