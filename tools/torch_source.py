"""Where `make install` should take torch from: prints the extra pip arguments (often none).

On Linux x86-64, PyPI's torch is a CUDA build that pulls several GB of ``nvidia-*``
packages; the CPU build lives on PyTorch's own index. Rather than always going there
(slow, and impossible offline where a CPU wheel is already at hand: a local wheelhouse,
a mirror), ask pip what it would install -- ``pip install --dry-run --report`` reads only
metadata -- and point it at the CPU index only if that would be a CUDA build. Elsewhere
(macOS, Windows, Linux on ARM) PyPI's wheel is already CPU-only.

Usage: ``python tools/torch_source.py 'torch==2.13.*'`` with the venv's Python. Stdlib only:
it runs before anything else is installed.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from typing import Any

CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def would_install(requirement: str) -> dict[str, Any] | None:
    """pip's installation report for ``requirement`` in this Python, or None if pip cannot say."""
    with tempfile.TemporaryDirectory() as folder:
        report = os.path.join(folder, "report.json")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", report, requirement],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if done.returncode != 0 or not os.path.exists(report):
            return None
        with open(report, encoding="utf-8") as f:
            return json.load(f)


def pip_arguments(system: str, report: dict[str, Any] | None) -> list[str]:
    """The extra arguments for ``pip install torch``, given the OS and pip's report (None: unknown)."""
    if system != "Linux":
        return []
    if report is None:  # an old pip or no answer: the CPU index is the safe choice on Linux
        return ["--index-url", CPU_INDEX]
    names = [item["metadata"]["name"].lower() for item in report.get("install", [])]
    if any(name.startswith("nvidia-") for name in names):
        return ["--index-url", CPU_INDEX]
    return []  # a CPU wheel at hand, ARM's CPU-only wheel, or torch already installed


def main(argv: list[str]) -> int:
    requirement = argv[1] if len(argv) > 1 else "torch"
    system = platform.system()
    arguments = pip_arguments(system, would_install(requirement) if system == "Linux" else None)
    if arguments:
        print(f"torch: PyPI's wheel here is a CUDA build; taking the CPU build from {CPU_INDEX}",
              file=sys.stderr)
    print(" ".join(arguments))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
