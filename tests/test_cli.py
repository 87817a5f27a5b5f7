"""The ``twingrad`` command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from twingrad.cli import main


def test_demo_prints_the_seed_story_and_writes_the_svg(tmp_path, capsys) -> None:
    out = tmp_path / "demo.svg"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "L = -8" in text
    assert "a.grad = 6" in text and "f.grad = 4" in text
    assert "L: -8.000000 -> -7.286496" in text
    assert str(out.resolve()) in text
    assert "</svg>" in out.read_text()


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "twingrad"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("twingrad ")
