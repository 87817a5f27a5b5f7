"""tools/torch_source.py: the CPU index only where pip would otherwise fetch a CUDA build."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "tools" / "torch_source.py"
spec = importlib.util.spec_from_file_location("torch_source", PATH)
assert spec is not None and spec.loader is not None
torch_source = importlib.util.module_from_spec(spec)
spec.loader.exec_module(torch_source)
CPU = ["--index-url", "https://download.pytorch.org/whl/cpu"]


def _report(*names: str) -> dict:
    return {"install": [{"metadata": {"name": name, "version": "1"}} for name in names]}


@pytest.mark.parametrize(
    ("system", "report", "expected"),
    [
        ("Linux", _report("torch", "nvidia-cublas-cu12", "sympy"), CPU),  # PyPI on x86-64: CUDA
        ("Linux", _report("torch", "sympy"), []),  # a local +cpu wheel, or ARM's CPU-only one
        ("Linux", _report(), []),  # torch already installed
        ("Linux", None, CPU),  # pip could not say (old pip, no answer): the safe side
        ("Darwin", None, []),
        ("Windows", _report("torch"), []),
    ],
)
def test_pip_arguments(system: str, report: dict | None, expected: list[str]) -> None:
    assert torch_source.pip_arguments(system, report) == expected
