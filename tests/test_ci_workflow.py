"""The GitHub Actions workflow docs/class.md offers: the file, the page's copy and the commands it runs.

GitHub reads the file as YAML; so does this test (PyYAML, as GitHub's own parser is not
at hand). The ``twingrad check`` line goes through twingrad's real argument parser, so a
renamed option breaks this test, not a course's CI.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from twingrad.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "github-workflow.yml"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _workflow() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _steps() -> list[dict[str, Any]]:
    [job] = _workflow()["jobs"].values()
    return job["steps"]


def _commands() -> list[list[str]]:
    """Every shell command the workflow runs, split as the shell would (``&&`` separates)."""
    commands = []
    for step in _steps():
        for line in step.get("run", "").splitlines():
            for part in line.split("&&"):
                if part.strip():
                    commands.append(shlex.split(part))
    return commands


def test_the_class_page_shows_the_workflow_file_verbatim() -> None:
    page = (ROOT / "docs" / "class.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, flags=re.S)
    assert WORKFLOW.read_text() in blocks


def test_the_workflow_is_valid_yaml_with_a_job_github_can_run() -> None:
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "pull_request"}
    [job] = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    uses = [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-artifact"]
    assert all(set(step) <= {"name", "uses", "with", "run", "if", "env"} for step in job["steps"])


def test_torch_comes_from_the_cpu_index_before_twingrad_is_installed() -> None:
    installs = [c for c in _commands() if c[:4] == ["python", "-m", "pip", "install"]]
    torch, twingrad = installs[0], installs[1]
    assert "torch" in torch and torch[torch.index("--index-url") + 1] == CPU_INDEX
    assert twingrad[4:] == ["twingrad"]  # torch already satisfied: pip keeps the CPU build


def test_the_check_command_is_one_twingrad_accepts_and_its_reports_are_kept() -> None:
    [check] = [c for c in _commands() if c[0] == "twingrad"]
    args = build_parser().parse_args(check[1:])
    assert args.command == "check" and args.target == ["engine.py:Value"]
    kept = _steps()[-1]
    assert kept["if"] == "always()"  # a failing check is when the report matters
    assert set(kept["with"]["path"].split()) == {args.html, args.junit_xml}


def test_the_course_command_in_the_comment_parses_too() -> None:
    [line] = [line for line in WORKFLOW.read_text().splitlines() if "A course:" in line]
    command = shlex.split(line.split("A course:", 1)[1].split("(")[0])
    args = build_parser().parse_args(command[1:])
    assert args.target == ["submissions/*/engine.py:Value"] and args.jobs == 2


def test_every_twingrad_check_command_on_the_class_page_parses() -> None:
    page = (ROOT / "docs" / "class.md").read_text()
    lines = [line.split("#")[0] for block in re.findall(r"```sh\n(.*?)```", page, flags=re.S)
             for line in block.splitlines() if line.startswith("twingrad check")]
    assert any("-j 2" in line and "--junit-xml" in line for line in lines)
    for line in lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert args.command == "check", line
