"""A notebook TARGET runs as a notebook does: its code cells in order, in one namespace.

The rule (docs/corpus.md, "Notebooks"): every statement up to the one that last defines the class
must run, and a failure there stops loading with a message naming the cell and what to do;
a later cell that raises, or runs past `CELL_SECONDS`, is skipped from there on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twingrad.check import check_engine
from twingrad.check.target import TargetError
from twingrad.check.untrusted.pyworker import CELL_SECONDS

LECTURE = (Path(__file__).parent / "engines" / "learners" / "lecture.py").read_text()
QUICK = ["seed_graph", "lecture_neuron", "reuse_a_plus_a", "numbers_on_the_right"]


def notebook(path: Path, *cells: str) -> Path:
    """A notebook file: a markdown cell (cell 1), then ``cells`` (cells 2, 3, ...)."""
    listed = [{"cell_type": "markdown", "metadata": {}, "source": ["# my engine\n"]}] + [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source.splitlines(keepends=True),
        }
        for source in cells
    ]
    path.write_text(json.dumps({"cells": listed, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_cell_that_makes_values_and_uses_them_loads_and_the_engine_passes(tmp_path: Path) -> None:
    lecture = notebook(tmp_path / "lecture.ipynb", LECTURE, "a = Value(2.0)\nb = Value(3.0)\nc = a * b\nc")
    run = check_engine(f"{lecture}:Value")
    assert run.exit_code == 0 and run.summary["fail"] == 0 and run.summary["error"] == 0
    assert run.result("mlp_tanh_squared_error").status == "pass"


def test_what_earlier_cells_define_the_class_may_use(tmp_path: Path) -> None:
    """A constant made by a call before the class (dropped by a definitions-only reading)."""
    engine = LECTURE.replace("math.tanh(", "TANH(")
    assert engine != LECTURE
    lecture = notebook(tmp_path / "helpers.ipynb", "import math\nTANH = getattr(math, 'tanh')", engine)
    assert check_engine(f"{lecture}:Value", only=QUICK).ok


def test_a_failing_cell_before_the_class_is_named_with_what_to_do(tmp_path: Path) -> None:
    lecture = notebook(tmp_path / "early.ipynb", "import math\nscale = undefined_name * 2", LECTURE)
    with pytest.raises(TargetError) as caught:
        check_engine(f"{lecture}:Value", only=QUICK)
    message = str(caught.value)
    assert "NameError: name 'undefined_name' is not defined" in message
    assert "cell 2 runs before the class Value is complete (cell 3)" in message
    assert "# twingrad: skip" in message
    assert "early.ipynb:2" in message  # the line in the notebook's cell, not the generated module's


def test_cells_after_the_class_that_fail_or_overrun_are_skipped_and_later_patches_apply(
    tmp_path: Path,
) -> None:
    """The engine's tanh is wrong until the last cell patches it; the cells between raise and loop."""
    broken = LECTURE.replace("(1 - t**2) * out.grad", "(1 - t) * out.grad")
    assert broken != LECTURE
    patch = (
        "def tanh(self):\n"
        "    t = math.tanh(self.data)\n"
        "    out = Value(t, (self,), 'tanh')\n"
        "    def _backward():\n"
        "        self.grad += (1 - t**2) * out.grad\n"
        "    out._backward = _backward\n"
        "    return out\n"
        "Value.tanh = tanh\n"
    )
    demo = "x = Value(1.0)\nraise RuntimeError('a demo error')\nx.data = 5"
    cells = [broken, demo, "while True:\n    pass"]
    unpatched = notebook(tmp_path / "unpatched.ipynb", *cells)
    assert check_engine(f"{unpatched}:Value", only=["unary_tanh"]).result("unary_tanh").status == "fail"
    patched = notebook(tmp_path / "patched.ipynb", *cells, patch)
    run = check_engine(f"{patched}:Value", only=["unary_tanh"], timeout=CELL_SECONDS * 4)
    assert run.result("unary_tanh").status == "pass"


def test_what_follows_the_class_in_its_own_cell_may_fail(tmp_path: Path) -> None:
    """A cell that defines the class, then demonstrates it (or calls the checker, which the
    worker has not): the statements after the class are uses, skipped when they raise."""
    cell = LECTURE + "\nfrom twingrad.check import check_engine\nrun = check_engine(Value)\nprint(run)\n"
    lecture = notebook(tmp_path / "one_cell.ipynb", cell)
    assert check_engine(f"{lecture}:Value", only=QUICK).ok
