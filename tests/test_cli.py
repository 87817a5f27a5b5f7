"""The ``twingrad`` command line."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from twingrad import op_named
from twingrad.cli import main


def test_demo_prints_the_seed_story_checks_torch_and_writes_the_svg(tmp_path, capsys) -> None:
    out = tmp_path / "demo.svg"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "L = -8" in text
    assert "a.grad = 6" in text and "f.grad = 4" in text
    assert "the torch twin (float64, node by node): agrees" in text
    assert "all 7 nodes agree (data and grad" in text
    assert "L: -8.000000 -> -7.286496" in text
    assert "torch: -8.000000 -> -7.286496 (agrees at every node after the nudge)" in text
    assert str(out.resolve()) in text
    svg = out.read_text()
    assert "</svg>" in svg and "torch &#45;7.2865" in svg  # torch's L beside the engine's


def test_demo_fails_when_the_engine_disagrees_with_torch(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(op_named("mul"), "grad", lambda g, out, a, b: (g * b, g * b))  # d/db wrong
    assert main(["demo", "--out", str(tmp_path / "demo.svg")]) == 1
    text = capsys.readouterr().out
    assert "DISAGREES" in text and "suspect the derivative of mul" in text


def test_demo_without_torch_tells_how_to_get_the_check(tmp_path, capsys, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    assert main(["demo", "--out", str(tmp_path / "demo.svg")]) == 0
    text = capsys.readouterr().out
    skipped = "The torch twin is skipped: it needs torch, which is not installed: "
    assert skipped + "pip install 'twingrad[torch]'" in text
    assert "L: -8.000000 -> -7.286496" in text and "torch:" not in text


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "twingrad"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("twingrad ")


def test_demo_ends_with_the_next_step_naming_the_example_where_it_is(tmp_path, capsys, monkeypatch) -> None:
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)  # where the README runs it: the example engine is at hand
    assert main(["demo", "--out", str(tmp_path / "demo.svg")]) == 0
    last = capsys.readouterr().out.rstrip().splitlines()[-2:]
    assert last[0].startswith("Next: twingrad check FILE.py:Value checks a Value class")
    assert last[1].split()[:3] == ["twingrad", "check", "docs/examples/my_engine.py:Value"]
    assert (root / "docs" / "examples" / "my_engine.py").is_file()
    monkeypatch.chdir(tmp_path)  # elsewhere (an installed twingrad): no example to name
    assert main(["demo", "--out", str(tmp_path / "demo.svg")]) == 0
    assert capsys.readouterr().out.rstrip().splitlines()[-1].startswith("Next: twingrad check FILE.py:Value")
