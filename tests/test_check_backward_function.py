"""A backward pass written as a function at module level, ``backward(loss)``, not a method.

Found alone in the class's module under the usual names; named with ``--names
backward=module:function`` (or ``backward = "module:function"`` in ``[tool.twingrad.check]``)
where it has a name of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twingrad.check import check_engine
from twingrad.check.target import TargetError
from twingrad.cli import main

LEARNERS = Path(__file__).parent / "engines" / "learners"
SOURCE = (LEARNERS / "backward_function.py").read_text()
CASES = ["seed_graph", "unary_tanh"]


def _verdicts(run) -> dict[str, str]:
    return {r.name: r.status for r in run.results}


def test_a_module_level_backward_is_found_and_the_engine_checked() -> None:
    run = check_engine(f"{LEARNERS}/backward_function.py:Value", only=CASES)
    assert _verdicts(run) == {"seed_graph": "pass", "unary_tanh": "fail"}
    assert "1 − x² (x the input)" in run.result("unary_tanh").detail
    assert "backward via backward_function:backward()" in run.reading


def test_a_backward_function_of_its_own_name_is_named_on_the_command_line_or_in_pyproject(
    tmp_path: Path, capsys
) -> None:
    renamed = SOURCE.replace("def backward(loss):", "def run_backprop(loss):")
    (tmp_path / "engine.py").write_text(renamed)
    with pytest.raises(TargetError, match="nor does its module define a function of those names"):
        check_engine(f"{tmp_path / 'engine.py'}:Value", only=CASES)
    run = check_engine(
        f"{tmp_path / 'engine.py'}:Value", only=CASES, spellings={"backward": "engine:run_backprop"}
    )
    assert _verdicts(run) == {"seed_graph": "pass", "unary_tanh": "fail"}
    assert (
        main(
            [
                "check",
                f"{tmp_path / 'engine.py'}:Value",
                "--only",
                "seed_graph",
                "--names",
                "backward=engine:run_backprop",
            ]
        )
        == 0
    )
    assert main(["check", f"{tmp_path / 'engine.py'}:Value", "--names", "backward=engine:"]) == 2
    assert "backward=module:function" in capsys.readouterr().err
    (tmp_path / "pyproject.toml").write_text('[tool.twingrad.check]\nbackward = "engine:run_backprop"\n')
    assert check_engine(f"{tmp_path / 'engine.py'}:Value", only=["seed_graph"]).ok
    (tmp_path / "pyproject.toml").write_text('[tool.twingrad.check]\nbackward = "engine:nothing_here"\n')
    with pytest.raises(TargetError, match="module engine has no function nothing_here"):
        check_engine(f"{tmp_path / 'engine.py'}:Value", only=["seed_graph"])
