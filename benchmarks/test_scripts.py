"""The scripts beside the suite run: ``benchmarks.alone``, ``gc_profile`` and ``sandbox_launch``."""

from __future__ import annotations

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


def test_sandbox_launch_compares_a_plain_start_with_a_sandboxed_one() -> None:
    lines = _run("benchmarks.sandbox_launch", "1").splitlines()
    assert lines[0].startswith("python -c pass, 1 launches each")
    assert [line.split(" wall")[0].strip() for line in lines[1:]] == ["plain Popen", "Sandbox"]
