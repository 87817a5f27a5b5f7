"""The scripts beside the suite run: alone, gc_profile, batch, check_one and sandbox_launch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_alone_times_twingrad_without_torch() -> None:
    out = _run("benchmarks.alone", "1")
    assert out.startswith("moons step, twingrad alone (no torch or micrograd imported")


def test_gc_profile_reports_every_engine_under_both_policies() -> None:
    lines = _run("benchmarks.gc_profile", "seed", "1").splitlines()
    assert lines[0] == "seed, mean of 1 runs per engine"
    assert [line.split(" GC,")[0] for line in lines if " GC, " in line] == ["frozen", "default"]
    assert sum(line.lstrip().startswith("micrograd") for line in lines) == 2


def test_batch_times_a_class_of_submissions_against_one_and_a_class_with_a_stuck_student() -> None:
    # One correct, one wrong (then one stuck), one round, short timeouts: the shape, not the figure.
    first, second = _run("benchmarks.batch", "2", "1", "--timeout", "0.5").splitlines()
    assert first.startswith("twingrad check on 2 submissions (1 correct, 1 wrong) with -j 2: ")
    assert re.search(r"last line: FAIL 2 targets: 1 OK, 1 FAIL \(seed \d+\)$", first), first
    assert second.startswith("twingrad check on 2 submissions (1 correct, 1 whose backward() never returns) "
                             "with -j 2, --timeout 0.5: ")
    assert re.search(r"last line: FAIL 2 targets: 1 OK, 1 FAIL \(seed \d+\)$", second), second


def test_sandbox_launch_compares_a_plain_start_with_a_sandboxed_one() -> None:
    lines = _run("benchmarks.sandbox_launch", "1").splitlines()
    assert lines[0].startswith("python -c pass, 1 launches each")
    assert [line.split(" wall")[0].strip() for line in lines[1:]] == ["plain Popen", "Sandbox"]


def test_check_one_times_the_whole_command_on_micrograd() -> None:
    out = _run("benchmarks.check_one", "1")  # one round: the shape, not the figure
    assert out.startswith("twingrad check micrograd.engine:Value: ")
    last = r"OK micrograd\.engine:Value: 21 pass, 1 note, 14 unsupported \(36 cases, seed \d+\)$"
    assert re.search(last, out.rstrip()), out
