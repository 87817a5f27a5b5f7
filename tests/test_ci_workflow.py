"""The GitHub Actions workflow a course copies: the file, the docs' copy, and a rehearsal of its steps.

GitHub reads the file as YAML; so does this test (PyYAML, as GitHub's own parser is not
at hand). The ``twingrad check`` line goes through twingrad's real argument parser, so a
renamed option breaks this test, not a course's CI.

The rehearsal builds twingrad's wheel and sdist (``python -m build``) from the tracked
files, makes a fresh venv with no repository on its path, and runs the workflow's own
``run`` steps there as GitHub would (``bash -e``, ``GITHUB_*`` variables), with two
stand-ins: ``TWINGRAD`` names the wheel just built (with the workflow's own extra) instead
of the course's tag, and the two ``sudo`` steps (graphviz, the namespace sysctl) are left to
the machine. The workflow installs no torch, and neither does the rehearsal: the check must
judge in a venv where ``import torch`` fails. numpy, rich and graphviz come from wherever pip
is set up to look (PyPI, a local wheelhouse, its cache), as ``build`` does.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from twingrad.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "github-workflow.yml"


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


def test_the_class_docs_show_the_workflow_file_verbatim() -> None:
    docs = (ROOT / "docs" / "class.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", docs, flags=re.S)
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


def test_twingrad_is_installed_with_the_check_extra_from_a_pinned_copy_and_no_torch() -> None:
    installs = [c for c in _commands() if c[:4] == ["python", "-m", "pip", "install"]]
    assert installs == [["python", "-m", "pip", "install", "$TWINGRAD"]]
    assert not [c for c in _commands() if any("torch" in word for word in c)]
    # Not PyPI (twingrad is not there): a tag of the course's copy of the repository.
    name, _, url = _workflow()["env"]["TWINGRAD"].partition(" @ ")
    assert name == "twingrad[check]"  # numpy alone: the check's expected numbers never need torch
    assert re.fullmatch(r"git\+https://github\.com/YOUR-COURSE/twingrad@v[0-9.]+", url), url
    # The wheel the comment offers instead asks for the same extra.
    [wheel] = [line.split("#", 1)[1].strip() for line in WORKFLOW.read_text().splitlines()
               if line.strip().startswith("#") and "/releases/download/" in line]
    assert wheel.partition(" @ ")[0] == name


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


@pytest.mark.parametrize("page", ["README.md", "docs/class.md"])
def test_every_twingrad_check_command_in_the_docs_parses(page: str) -> None:
    text = (ROOT / page).read_text()
    lines = [line.split("#")[0] for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
             for line in block.splitlines() if line.startswith("twingrad check")]
    assert lines
    for line in lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert args.command == "check", line


# -- the rehearsal: the wheel, a fresh venv, the workflow's steps ----------------------------

PLACEHOLDER = "YOUR-COURSE"


@dataclass
class Rehearsal:
    dist: Path  # the wheel and the sdist
    venv: Path
    repo: Path  # a course's repository: engine.py, and what the steps wrote
    logs: list[tuple[str, subprocess.CompletedProcess[str]]]
    env: dict[str, str]


def _ci_env(venv: Path, repo: Path) -> dict[str, str]:
    """A runner's environment: the venv's Python first on PATH (as setup-python's), no repository on it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}", "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(repo), "GITHUB_STEP_SUMMARY": str(repo.parent / "step-summary.md")}


def _stand_in(script: str) -> str | None:
    """A step's script as this machine runs it (None: left to the machine); see the module's docstring."""
    return None if script.startswith("sudo ") else script


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Rehearsal:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the rehearsal builds from the repository's tracked files: needs git and a checkout")
    base = tmp_path_factory.mktemp("ci")
    source, dist, venv, repo = base / "source", base / "dist", base / "venv", base / "repo"
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True)
    for name in filter(None, tracked.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = _ci_env(venv, repo)
    run = {"capture_output": True, "text": True, "env": env, "timeout": 900}
    tools = subprocess.run([python, "-m", "pip", "install", "--quiet", "build"], **run)
    assert tools.returncode == 0, tools.stderr
    built = subprocess.run([python, "-m", "build", "--outdir", str(dist), str(source)], **run)
    assert built.returncode == 0, built.stderr[-3000:]
    subprocess.run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "build", "pyproject_hooks"], **run)
    [wheel] = dist.glob("twingrad-*.whl")
    repo.mkdir()
    shutil.copy(ROOT / "tests" / "engines" / "classroom" / "lecture.py", repo / "engine.py")
    extra = _workflow()["env"]["TWINGRAD"].partition(" @ ")[0]  # twingrad[check]: what the course installs
    env["TWINGRAD"] = f"{extra} @ {wheel.as_uri()}"
    logs = []
    for step in _steps():
        script = _stand_in(step["run"]) if "run" in step else None
        if script is not None:
            done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-c", script], cwd=repo, **run)
            logs.append((step.get("name", script), done))
    return Rehearsal(dist, venv, repo, logs, env)


def test_the_wheel_and_the_sdist_carry_the_whole_checker(rehearsal: Rehearsal) -> None:
    [wheel] = rehearsal.dist.glob("twingrad-*.whl")
    [sdist] = rehearsal.dist.glob("twingrad-*.tar.gz")
    needed = ["twingrad/check/untrusted/pyworker.py",
              "twingrad/check/_sandbox_init.py", "twingrad/cli.py"]
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert all(name in in_wheel for name in needed), sorted(in_wheel)
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert all(f"src/{name}" in in_sdist for name in needed)


def test_the_workflow_steps_run_green_with_the_wheel_in_a_fresh_venv(rehearsal: Rehearsal) -> None:
    ran = [name for name, _ in rehearsal.logs]
    assert ran == ["Install twingrad", "Check the engine"]
    for name, done in rehearsal.logs:
        assert done.returncode == 0, f"{name}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    check = rehearsal.logs[-1][1].stdout
    assert check.splitlines()[-1].startswith("OK engine.py:Value: ")
    # What the upload step keeps is there, and the run's page got its summary.
    assert (rehearsal.repo / "twingrad.html").stat().st_size > 1000
    assert "<testsuite" in (rehearsal.repo / "twingrad.xml").read_text()
    assert (rehearsal.repo.parent / "step-summary.md").read_text().startswith("## twingrad check: OK")
    # The twingrad that ran is the wheel's, inside the venv, not this checkout's; numpy is there.
    which = "import numpy, twingrad; print(twingrad.__file__)"
    where = subprocess.run(["python", "-c", which], capture_output=True, text=True, env=rehearsal.env,
                           cwd=rehearsal.repo)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(rehearsal.venv)


def test_torch_is_not_importable_where_the_check_judged(rehearsal: Rehearsal) -> None:
    done = subprocess.run(["python", "-c", "import torch"], capture_output=True, text=True,
                          env=rehearsal.env, cwd=rehearsal.repo)
    assert done.returncode == 1 and "No module named 'torch'" in done.stderr, done.stderr


def test_the_installed_wheel_finds_the_lectures_bug(rehearsal: Rehearsal) -> None:
    lecture = rehearsal.repo / "lecture"  # wrong.py imports the lecture's engine and breaks it
    lecture.mkdir()
    for name in ("lecture.py", "wrong.py"):
        shutil.copy(ROOT / "tests" / "engines" / "classroom" / name, lecture / name)
    done = subprocess.run(["twingrad", "check", "lecture/wrong.py:Value", "--only", "reuse_a_plus_a"],
                          capture_output=True, text=True, env=rehearsal.env, cwd=rehearsal.repo, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "overwrites gradients (`=`)" in done.stdout


def test_the_placeholder_stops_the_install_step_with_a_clear_message(rehearsal: Rehearsal) -> None:
    [install] = [s["run"] for s in _steps() if s.get("run", "").find("$TWINGRAD") >= 0]
    guard = install.splitlines()[0]
    placeholder = _workflow()["env"]["TWINGRAD"]
    assert PLACEHOLDER in placeholder
    done = subprocess.run(["bash", "-e", "-c", guard], capture_output=True, text=True,
                          env={**rehearsal.env, "TWINGRAD": placeholder})
    assert done.returncode == 1
    assert done.stdout.startswith("::error::set TWINGRAD in this workflow to your course's copy of twingrad")
