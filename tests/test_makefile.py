"""The Makefile's two levels: `make demo` installs only what the demo needs, `make test` the
development stack on top, and both install steps end by saying how to run twingrad.

`make -n` prints the commands a target would run without running them, against a .venv
that does not exist, so every install step shows."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _would_run(target: str, tmp_path: Path) -> list[str]:
    venv = tmp_path / "venv"
    done = subprocess.run(
        # --no-print-directory: under `make test` a recursive make would add its own lines
        ["make", "-n", "--no-print-directory", target, f"VENV={venv}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return done.stdout.splitlines()


def _pip_installs(lines: list[str]) -> list[str]:
    return [line.split("install --quiet", 1)[1].strip() for line in lines if "-m pip install" in line]


def test_demo_installs_torch_and_the_package_with_its_torch_extra_only(tmp_path: Path) -> None:
    lines = _would_run("demo", tmp_path)
    assert _pip_installs(lines) == ['"torch==2.13.*" \\', '-e ".[torch]"']
    text = "\n".join(lines)
    assert "tools/torch_source.py" in text  # the CPU build, as before
    assert "graphviz" in text  # dot draws the demo's graph
    assert not any(word in text for word in ("[dev]", "chromium", "nodejs"))
    assert lines[-2].endswith("/bin/twingrad demo")


def test_test_adds_the_development_stack_on_the_demos_level(tmp_path: Path) -> None:
    lines = _would_run("test", tmp_path)
    assert _pip_installs(lines) == ['"torch==2.13.*" \\', '-e ".[torch]"', '-e ".[dev]"']
    text = "\n".join(lines)
    assert "chromium" in text and "nodejs" in text and "graphviz" in text
    assert "pytest tests benchmarks notebooks" in text


def test_demo_and_install_end_by_saying_how_to_run_twingrad(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    for target in ("demo", "install"):
        last = _would_run(target, tmp_path)[-1]
        shown = subprocess.run(["bash", "-c", last], capture_output=True, text=True, check=True).stdout
        assert f"source {venv}/bin/activate" in shown and f"{venv}/bin/twingrad" in shown, target
