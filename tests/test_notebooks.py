"""The notebooks are committed with their outputs, and the nbval check of them bites.

`make test` re-runs every notebook with nbval and compares each checked output with
the stored one. These tests guard that arrangement: the notebooks are there, executed,
with pictures; cells excluded from the comparison are the drawings only, each followed
by a checked cell with the text behind it; and an edited number makes nbval fail.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
REQUIRED = (
    "01_seed_walkthrough",
    "02_neuron_and_tanh",
    "03_mlp_training",
    "04_check_your_engine",
    "05_benchmarks",
    "06_backward_is_a_graph",
)
# The one notebook that writes engine code: a learner's engine, for the checker to find its bug.
WRITES_AN_ENGINE = "04_check_your_engine"
IGNORE = "# NBVAL_IGNORE_OUTPUT"
NBVAL = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(NOTEBOOKS / "sanitize.cfg")]


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def mime_types(cell: nbformat.NotebookNode) -> set[str]:
    return {key for output in cell.get("outputs", []) for key in output.get("data", {})}


def ignored(cell: nbformat.NotebookNode) -> bool:
    return any(line.strip() == IGNORE for line in cell.source.splitlines())


@pytest.mark.parametrize("name", REQUIRED)
def test_each_notebook_is_committed_executed_and_clean(name: str) -> None:
    cells = code_cells(read(name))
    assert cells, f"{name} has no code"
    counts = [cell.execution_count for cell in cells]
    assert None not in counts, f"{name}: a code cell was never run (make notebooks)"
    assert counts == list(range(1, len(cells) + 1)), f"{name}: cells ran out of order: {counts}"
    for cell in cells:
        for output in cell.outputs:
            assert output.output_type != "error", f"{name}: a cell raised {output.get('ename')}"
            assert output.get("name") != "stderr", f"{name}: a cell wrote to stderr: {output.text[:200]}"
            # Stored as execute.py stores it: volatile text already masked (sanitize.cfg).
            text = output.get("text", "") + "".join(output.get("data", {}).get("text/plain", ""))
            assert not re.search(r"\b0x[0-9a-fA-F]{6,}\b", text), f"{name}: run `make notebooks`"
    assert any(cell.outputs for cell in cells)


def test_together_they_show_a_graph_and_a_plot() -> None:
    found = set().union(*(mime_types(cell) for name in REQUIRED for cell in code_cells(read(name))))
    assert "image/svg+xml" in found, "no graph drawing (SVG) in the notebooks"
    assert "image/png" in found, "no plot (PNG) in the notebooks"


@pytest.mark.parametrize("name", REQUIRED)
def test_only_drawings_and_timings_escape_the_comparison(name: str) -> None:
    """An ignored cell shows an SVG drawing (its layout depends on graphviz) or prints timings,
    says why, and a timing cell is followed by a checked cell with the numbers that do not vary."""
    cells = code_cells(read(name))
    for k, cell in enumerate(cells):
        if not ignored(cell):
            continue
        # The reason: a comment on the line after the marker.
        reason_text = " ".join(cell.source.split(IGNORE, 1)[1].splitlines()[:2])
        if "image/svg+xml" in mime_types(cell):
            assert mime_types(cell) == {"image/svg+xml", "text/plain"}, cell.source
            assert "graphviz" in reason_text, f"say why the output is not compared:\n{cell.source}"
        else:
            assert not mime_types(cell), f"ignored, yet neither a drawing nor timings:\n{cell.source}"
            assert "timing" in reason_text, f"say why the output is not compared:\n{cell.source}"
            assert k + 1 < len(cells) and not ignored(cells[k + 1]), "timings need a checked cell beside them"


@pytest.mark.parametrize("name", REQUIRED)
def test_nothing_is_fetched_from_the_network(name: str) -> None:
    source = "\n".join(cell.source for cell in code_cells(read(name)))
    for word in ("http://", "https://", "urllib", "requests", "download"):
        assert word not in source, f"{name} mentions {word!r}"


@pytest.mark.parametrize("name", REQUIRED)
def test_no_engine_code_in_the_notebooks(name: str) -> None:
    """Notebooks use the package; only the checker's notebook defines an engine (to be checked)."""
    source = "\n".join(cell.source for cell in code_cells(read(name)))
    assert "import twingrad" in source or "from twingrad" in source
    defines_engine = bool(re.search(r"^\s*class\s", source, re.M)) or "def backward" in source
    assert defines_engine == (name == WRITES_AN_ENGINE), f"{name}: engine code where none belongs"


def run_nbval(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-vv", "-p", "no:cacheprovider", str(path), *NBVAL],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


# (where, the stored text, what we write instead): the seed's "-6.0" in place of the nudge's
# result, and a torch gradient in the side-by-side HTML report.
EDITS = {
    "stdout": (
        "stdout",
        "L after    -7.286496 (engine)   -7.286496 (torch)",
        "L after    -6.000000 (engine)   -7.286496 (torch)",
    ),
    "html": ("text/html", '<td class="tg-side">-4.0</td>', '<td class="tg-side">-4.5</td>'),
}


def edit_first(notebook: nbformat.NotebookNode, where: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the first output of kind ``where`` that holds it, once."""
    for cell in code_cells(notebook):
        for output in cell.outputs:
            if where == "stdout" and output.get("name") == "stdout":
                text = output.text
            elif where in output.get("data", {}):
                text = output.data[where]
            else:
                continue
            if old in text:
                assert text.count(old) == 1, f"{old!r} is not unique in its output"
                if where == "stdout":
                    output.text = text.replace(old, new)
                else:
                    output.data[where] = text.replace(old, new)
                return
    raise AssertionError(f"{old!r} is no longer in a stored output: update this test with the notebook")


@pytest.mark.parametrize("case", sorted(EDITS))
def test_editing_a_committed_number_makes_nbval_fail(case: str, tmp_path: Path) -> None:
    where, old, new = EDITS[case]
    notebook = read("01_seed_walkthrough")
    edit_first(notebook, where, old, new)
    copy = tmp_path / "01_seed_walkthrough.ipynb"
    nbformat.write(notebook, copy)

    result = run_nbval(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed" in result.stdout and "Cell outputs differ" in result.stdout, result.stdout
    # It fails for the edit: the diff shows the stored (edited) text and the recomputed one.
    assert new in result.stdout and old in result.stdout, result.stdout


def test_the_live_timing_runs_torch_on_one_thread_as_the_benchmarks_do() -> None:
    # Without it, torch's thread pool on a shared 2-core machine turned the vectorised
    # step (well under a millisecond) into 40-56 ms in 4 of 9 re-runs.
    nb = nbformat.read(NOTEBOOKS / "05_benchmarks.ipynb", as_version=4)
    (timing,) = [c.source for c in nb.cells if "median_seconds(twin_step" in c.source]
    assert timing.index("torch.set_num_threads(1)") < timing.index("median_seconds(twin_step")
