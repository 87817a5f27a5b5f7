"""``python -m benchmarks.alone`` really runs without torch or micrograd in the process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_alone_times_twingrad_without_torch() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.alone", "1"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("moons step, twingrad alone (no torch or micrograd imported")
