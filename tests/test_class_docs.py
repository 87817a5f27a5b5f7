"""docs/class.md keeps its word: it shows the workflow files, and Classroom scores as it says.

The GitHub Classroom workflow (docs/classroom-autograding.yml) is read as YAML; each grader
step's command goes through twingrad's parser and then runs, as the grader would, on a
correct engine and on the lecture's `=` bug: the points the page quotes are what the exit
statuses give.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from twingrad.check.budget import DEFAULT_TARGET_TIMEOUT
from twingrad.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CLASS = DOCS / "class.md"
CLASSROOM = DOCS / "classroom-autograding.yml"
WORKFLOW = DOCS / "github-workflow.yml"
CORRECT = ROOT / "tests" / "engines" / "classroom" / "lecture.py"
RIGHT = "self.grad += out.grad\n            other.grad += out.grad"
WRONG = "self.grad = out.grad\n            other.grad = out.grad"  # __add__'s backward: `=` for `+=`
GRADER = "classroom-resources/autograding-command-grader"


def _steps(path: Path) -> list[dict[str, Any]]:
    [job] = yaml.safe_load(path.read_text())["jobs"].values()
    return job["steps"]


def _graders() -> list[dict[str, Any]]:
    return [s for s in _steps(CLASSROOM) if s.get("uses", "").startswith(GRADER)]


def test_the_page_shows_both_workflow_files_verbatim() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", CLASS.read_text(), flags=re.S)
    assert WORKFLOW.read_text() in blocks and CLASSROOM.read_text() in blocks


def test_classroom_installs_twingrad_exactly_as_the_workflow_does() -> None:
    def install(path: Path) -> tuple[str, str]:
        [step] = [s for s in _steps(path) if "$TWINGRAD" in s.get("run", "")]
        return step["run"], yaml.safe_load(path.read_text())["env"]["TWINGRAD"]

    assert install(CLASSROOM) == install(WORKFLOW)


def test_the_page_keeps_the_torch_variant_for_courses_that_run_the_parity_fixture() -> None:
    """The workflows install twingrad[check] (no torch); the page still shows the torch install, CPU first."""
    blocks = [[line.strip() for line in block.strip().splitlines()]
              for block in re.findall(r"```sh\n(.*?)```", CLASS.read_text(), flags=re.S)]
    [variant] = [block for block in blocks if any("twingrad[torch] @" in line for line in block)]
    extra, _, pinned = yaml.safe_load(WORKFLOW.read_text())["env"]["TWINGRAD"].partition(" @ ")
    assert extra == "twingrad[check]"
    assert variant == ["python -m pip install torch --index-url https://download.pytorch.org/whl/cpu",
                       f'python -m pip install "twingrad[torch] @ {pinned}"']


def test_every_grader_is_reported_and_outlasts_the_target_budget() -> None:
    graders = _graders()
    assert len(graders) == 3
    [reporter] = [s for s in _steps(CLASSROOM) if "autograding-grading-reporter" in s.get("uses", "")]
    ids = [g["id"] for g in graders]
    assert reporter["with"]["runners"].split(",") == ids
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{ steps.{i}.outputs.result }}}}" for i in ids}
    for grader in graders:
        assert grader["with"]["test-name"] == grader["name"]
        assert grader["with"]["timeout"] * 60 > DEFAULT_TARGET_TIMEOUT  # minutes: the check decides


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Each engine's points: the sum of max-score over the graders whose command exits 0."""
    source = CORRECT.read_text()
    assert source.count(RIGHT) == 1
    out = {}
    for name, engine in (("correct", source), ("wrong", source.replace(RIGHT, WRONG))):
        repo = tmp_path_factory.mktemp(name)
        (repo / "engine.py").write_text(engine)
        points = 0
        for grader in _graders():
            command = shlex.split(grader["with"]["command"])
            assert command[0] == "twingrad" and build_parser().parse_args(command[1:]).command == "check"
            done = subprocess.run([sys.executable, "-m", "twingrad.cli", *command[1:]], cwd=repo,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode in (0, 1), done.stderr  # a verdict, never a usage error
            points += grader["with"]["max-score"] if done.returncode == 0 else 0
        out[name] = points
    return out


def test_the_scores_the_page_quotes(scores: dict[str, int]) -> None:
    total = sum(g["with"]["max-score"] for g in _graders())
    text = " ".join(CLASS.read_text().split())
    assert f"scores {scores['wrong']} of {total} here" in text
    assert f"a correct one, {scores['correct']}." in text
    assert scores == {"correct": total, "wrong": 3}
