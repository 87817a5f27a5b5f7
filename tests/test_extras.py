"""Without an extra, one line that names it: in a real virtual environment that has twingrad's
base dependencies (rich, graphviz) and neither torch nor numpy."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from twingrad import extras

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "docs" / "examples" / "my_engine.py"
# The base dependencies, and theirs: what `pip install twingrad` (no extra) brings.
BASE = ("rich", "graphviz", "pygments", "markdown_it", "mdurl")
INSTALL_TORCH = "pip install 'twingrad[torch]'"
BARE_ENV = {"PATH": "/usr/bin:/bin"}  # no PYTHONPATH: the venv sees only what its .pth file names


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a fresh venv that sees twingrad's source and its base dependencies only."""
    folder = tmp_path_factory.mktemp("bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")], check=True)
    python = folder / "venv" / "bin" / "python"
    deps = folder / "deps"
    deps.mkdir()
    for name in BASE:  # linked from this environment, so no index is needed
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        (deps / name).symlink_to(Path(spec.origin).parent)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert purelib != sysconfig.get_paths()["purelib"]
    Path(purelib, "twingrad-source.pth").write_text(f"{ROOT / 'src'}\n{deps}\n")
    for absent in ("torch", "numpy", "matplotlib"):
        probe = subprocess.run([str(python), "-c", f"import {absent}"], capture_output=True, env=BARE_ENV)
        assert probe.returncode != 0, f"{absent} is importable in the bare venv"
    return python


def _twingrad(python: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # What the `twingrad` console script runs: twingrad.cli.main.
    command = [str(python), "-c", "import sys, twingrad.cli; sys.exit(twingrad.cli.main())", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=120, env=BARE_ENV)


def test_check_without_numpy_is_one_line_and_exit_2(bare_python: Path) -> None:
    for args in ([f"{ENGINE.relative_to(ROOT)}:Value"], []):
        done = _twingrad(bare_python, "check", *args)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert done.stderr.splitlines() == [
            "twingrad check needs numpy, which is not installed: pip install 'twingrad[check]'"
        ]


def test_check_with_numpy_and_no_torch_judges_an_engine(bare_python: Path, tmp_path: Path) -> None:
    """The `check` extra is numpy alone: the expected numbers come from the op table, not torch."""
    with_numpy = tmp_path / "numpy-only"
    with_numpy.mkdir()
    spec = importlib.util.find_spec("numpy")
    assert spec is not None and spec.origin is not None
    for folder in Path(spec.origin).parents[1].glob("numpy*"):  # numpy and its bundled libraries
        if folder.is_dir() and not folder.name.endswith(".dist-info"):
            (with_numpy / folder.name).symlink_to(folder)
    env = {**BARE_ENV, "PYTHONPATH": str(with_numpy)}
    command = [str(bare_python), "-c", "import sys, twingrad.cli; sys.exit(twingrad.cli.main())",
               "check", f"{ENGINE.relative_to(ROOT)}:Value", "--seed", "1"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    probe = subprocess.run([str(bare_python), "-c", "import torch"], capture_output=True, env=env)
    assert probe.returncode != 0  # torch stays out of reach
    assert done.returncode == 1, done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("FAIL docs/examples/my_engine.py:Value: 8 fail")


def test_check_list_needs_no_torch(bare_python: Path) -> None:
    done = _twingrad(bare_python, "check", "--list")
    assert done.returncode == 0 and "seed_graph" in done.stdout and done.stderr == ""


def test_bench_chart_without_matplotlib_is_one_line_and_exit_2(bare_python: Path, tmp_path: Path) -> None:
    recorded = ROOT / "notebooks" / "data" / "bench-frozen.json"
    done = _twingrad(bare_python, "bench", str(recorded), "--chart", str(tmp_path / "bench.png"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "twingrad bench --chart needs matplotlib, which is not installed: pip install 'twingrad[bench]'"
    ]
    assert not (tmp_path / "bench.png").exists()


def test_demo_without_torch_runs_and_says_what_it_skipped(bare_python: Path, tmp_path: Path) -> None:
    done = _twingrad(bare_python, "demo", "--out", str(tmp_path / "demo.svg"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    skipped = f"The torch twin is skipped: it needs torch, which is not installed: {INSTALL_TORCH}"
    assert skipped in done.stdout


def test_a_parity_name_without_torch_raises_one_line_naming_the_extra(bare_python: Path) -> None:
    code = (
        "import twingrad.parity\n"  # the package itself loads: drawings use its renderings
        "try:\n    from twingrad.parity import compare\n"
        "except ModuleNotFoundError as error:\n    print(type(error).__name__, error.name, '|', error)\n"
    )
    done = subprocess.run([str(bare_python), "-c", code], capture_output=True, text=True, env=BARE_ENV)
    assert done.stdout.splitlines() == [
        "MissingExtraError numpy | twingrad.parity.compare needs numpy, which is not installed: "
        + INSTALL_TORCH
    ]


def test_the_missing_module_is_named_with_its_extra(monkeypatch) -> None:
    real = importlib.util.find_spec
    without_torch = lambda name, *a: None if name == "torch" else real(name, *a)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", without_torch)
    assert extras.missing("torch") == "torch" and extras.missing("bench") is None
    with pytest.raises(extras.MissingExtraError, match=r"^x needs torch, which is not installed: pip inst"):
        extras.require("torch", "x")
    other = ModuleNotFoundError("No module named 'yaml'", name="yaml")
    assert extras.as_missing_extra(other, "x") is None  # not an extra's: left as it is
