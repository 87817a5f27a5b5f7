"""Re-run the notebooks and store their outputs in place: ``make notebooks``.

Each notebook runs top to bottom in a fresh kernel of *this* Python (the one running
the script, so the venv's twingrad and torch), from this folder -- exactly as
``make test`` re-runs it with ``pytest --nbval --nbval-current-env`` to verify the
stored outputs. A notebook that raises is left untouched on disk.

Text that is volatile by nature (memory addresses, graphviz's version line: the patterns
of ``sanitize.cfg``) is stored masked, exactly as nbval masks it before comparing, so a
re-run changes a notebook only where a result changed.

    python notebooks/execute.py                  # every NN_*.ipynb here
    python notebooks/execute.py 02_neuron_and_tanh.ipynb
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import ipykernel.kernelspec
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from twingrad.files import write_atomic

HERE = Path(__file__).resolve().parent
CURRENT_ENV = "twingrad-current-env"
SANITIZE = HERE / "sanitize.cfg"


def sanitize_patterns(path: Path = SANITIZE) -> list[tuple[re.Pattern[str], str]]:
    """The ``regex:``/``replace:`` pairs of an nbval sanitize file, as nbval reads them."""
    pairs = re.findall(r"^regex: (.*)$\n^replace: (.*)$", path.read_text(), flags=re.MULTILINE)
    return [(re.compile(regex), replace) for regex, replace in pairs]


def mask(notebook: nbformat.NotebookNode, patterns: list[tuple[re.Pattern[str], str]]) -> None:
    """Apply ``patterns`` to every text output and text-like data of every code cell."""

    def clean(text: str | list[str]) -> str:
        text = "".join(text) if isinstance(text, list) else text
        for regex, replace in patterns:
            text = regex.sub(replace, text)
        return text

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = clean(output["text"])
            for key, value in output.get("data", {}).items():
                if key.startswith("text/") or key == "image/svg+xml":
                    output["data"][key] = clean(value)


class CurrentEnvSpecs(KernelSpecManager):
    """Kernel specs with one more: ipykernel on ``sys.executable``, whatever is installed.

    The ``python3`` spec a notebook names could point at any Python on the machine; the
    outputs stored here must come from the environment the tests run in.
    """

    def get_kernel_spec(self, kernel_name: str):  # type: ignore[no-untyped-def]
        if kernel_name == CURRENT_ENV:
            return self.kernel_spec_class(
                resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict()
            )
        return super().get_kernel_spec(kernel_name)


def execute(path: Path) -> float:
    """Run ``path`` and write it back with its new outputs; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        km=KernelManager(kernel_name=CURRENT_ENV, kernel_spec_manager=CurrentEnvSpecs()),
        timeout=300,
        kernel_name=CURRENT_ENV,
        record_timing=False,  # no timestamps in cell metadata: a re-run changes only what changed
        coalesce_streams=True,  # one output per stream, however the kernel happened to flush it
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    # The kernelspec stays the one readers' Jupyter knows, not the run-time alias.
    mask(notebook, sanitize_patterns())
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    write_atomic(path, nbformat.writes(notebook) + "\n")  # a failed write never leaves half a notebook
    return elapsed


def main(names: list[str]) -> int:
    paths = [HERE / name for name in names] if names else sorted(HERE.glob("[0-9]*.ipynb"))
    total = 0.0
    for path in paths:
        print(f"executing {path.name} ...", end=" ", flush=True)
        seconds = execute(path)
        total += seconds
        print(f"{seconds:.1f} s", flush=True)
    print(f"{len(paths)} notebook(s) in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
