"""Trust, second round: a submission sees only itself, and the parent reads only its own copy of it.

Every attack here is one a student after a grade without a working engine would try: read
the answer key or a correct engine somewhere on the host, import a classmate's file, use
up the process limit the other workers share, make the parent (root) read a file of its
choosing through a syntax error or a symbolic link. Each test shows the attack comes to
nothing. The first round's attacks are in `test_check_trust.py`; the sandbox's own
guarantees in `test_sandbox.py`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from twingrad.check import TargetError, check_engine
from twingrad.check.batch import BatchRun, TargetOutcome, run_batch
from twingrad.check.reports import github
from twingrad.check.result import CaseResult, CheckRun, SourceLine
from twingrad.check.submitted import SubmissionFileError, read_bounded
from twingrad.check.target import locate, prepare

ENGINES = Path(__file__).parent / "engines"
REFERENCE = (ENGINES / "reference.py").read_text()  # a correct engine
QUICK = ["seed_graph", "reuse_a_plus_a", "unary_tanh"]
WRONG_TANH = """
Value.local = {**Value.local, "tanh": lambda x, out: 1 - out}  # the bug: the square forgotten
"""


def cli(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``twingrad check ARGS`` in a fresh process whose stdin stays open (a pipe nobody writes to)
    and whose memory is bounded: a parent that read /dev/zero or its stdin would fail, not hang."""

    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    return subprocess.run(
        [sys.executable, "-m", "twingrad.cli", "check", *args], cwd=cwd, stdin=subprocess.PIPE,
        capture_output=True, text=True, timeout=120, preexec_fn=bounded,
        env={**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def loaded_message(target: str, **options) -> str:
    """What the engine said by raising at import (its findings), from the one-line load error."""
    with pytest.raises(TargetError) as caught:
        check_engine(target, only=QUICK, timeout=60, **options)
    return str(caught.value)


def findings(message: str) -> dict:
    return json.loads(message.split("FOUND ", 1)[1].rsplit("}", 1)[0] + "}")


# -- nothing of twingrad's, and no correct engine, in reach ------------------------------------------------

SEARCH = """
import json, os
found = {"engine.py": [], "torch_reference.json": [], "twingrad": [], "mine": [], "imports": []}
for folder, subfolders, files in os.walk("/"):
    if folder == "/proc":
        subfolders[:] = []
    for name in files:
        if name in ("engine.py", "torch_reference.json"):
            found[name].append(os.path.join(folder, name))
        if name == "student.py":
            found["mine"].append(name)
    found["twingrad"] += [os.path.join(folder, d) for d in subfolders if d == "twingrad"]
for module in ("twingrad", "micrograd", "torch", "numpy"):
    try:
        __import__(module)
        found["imports"].append(module)
    except ImportError:
        pass
"""


def test_an_engine_searching_the_host_finds_no_engine_no_answer_key_and_nothing_of_twingrad(
        tmp_path: Path) -> None:
    (tmp_path / "student.py").write_text(SEARCH + "raise RuntimeError('FOUND ' + json.dumps(found))\n")
    seen = findings(loaded_message(f"{tmp_path / 'student.py'}:Value"))
    assert seen["mine"] == ["student.py"]  # the walk does reach the sandbox's files: its own copy
    assert seen == {"engine.py": [], "torch_reference.json": [], "twingrad": [], "mine": ["student.py"],
                    "imports": []}


def test_an_exec_adapter_finds_no_answer_key_either(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter.py"
    adapter.write_text(SEARCH + "import sys\nprint('FOUND ' + json.dumps(found), file=sys.stderr)\n"
                       "sys.exit(3)\n")
    message = loaded_message("", command=f"{sys.executable} {adapter}")
    assert "exit code 3" in message
    assert findings(message) == {"engine.py": [], "torch_reference.json": [], "twingrad": [], "mine": [],
                                 "imports": []}


def test_checking_twingrads_own_engine_copies_its_modules_and_not_the_checker() -> None:
    prepared = prepare(locate("twingrad.engine:Value"))
    assert sorted(prepared.copy_in) == ["modules/twingrad/__init__.py", "modules/twingrad/engine.py",
                                        "modules/twingrad/ops.py"]


# -- a submission sees only itself ---------------------------------------------------------------------

CHEAT_BY_IMPORT = REFERENCE + WRONG_TANH + """
try:  # the classmate's correct engine, in the same folder
    from right import Value
except ImportError:
    pass
"""


def test_in_a_flat_folder_the_wrong_submission_cannot_import_the_right_one(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "right.py").write_text(REFERENCE)
    (subs / "wrong.py").write_text(CHEAT_BY_IMPORT)
    wrong, right = f"{subs / 'wrong.py'}:Value", f"{subs / 'right.py'}:Value"
    batch = run_batch([right, wrong], jobs=2, only=QUICK, timeout=30)
    verdicts = {o.target: o for o in batch.outcomes}
    assert verdicts[right].verdict == "OK", verdicts[right]
    assert verdicts[wrong].verdict == "FAIL", verdicts[wrong]
    assert verdicts[wrong].run is not None and verdicts[wrong].run.result("unary_tanh").status == "fail"
    # The copy rule itself: a file and what it imports, never a classmate's file, never the folder.
    assert list(prepare(locate(wrong), classmates=[subs / "right.py"]).copy_in) == ["engine/wrong.py"]
    (subs / "helpers.py").write_text("SCALE = 1.0\n")
    (subs / "alone.py").write_text(REFERENCE + "\nimport helpers\n")
    assert sorted(prepare(locate(f"{subs / 'alone.py'}:Value")).copy_in) == ["engine/alone.py",
                                                                            "engine/helpers.py"]


HOG = REFERENCE + """
import os, time
children = 0
while True:  # sleeping children up to the process limit; the worker itself stays alive
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    children += 1
time.sleep(6)  # while the others load, every process this uid may have is taken
raise RuntimeError(f"hogged {children} processes")
"""

# A correct engine that starts one helper process while loading, once the hog is full.
WITH_A_HELPER = REFERENCE + """
import subprocess, sys, time
time.sleep(2)
subprocess.run([sys.executable, "-c", "pass"], check=True)
"""


def test_a_process_hog_in_a_batch_of_three_leaves_the_other_two_passing(tmp_path: Path) -> None:
    """With one uid for every worker (nobody, as before), the hog's children use up the limit that
    uid shares, and the two others fail to load (checked by drawing `nobody` for every worker)."""
    targets = []
    for name, source in (("hog", HOG), ("ada", WITH_A_HELPER), ("bob", WITH_A_HELPER)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "engine.py").write_text(source)
        targets.append(f"{tmp_path / name / 'engine.py'}:Value")
    batch = run_batch(targets, jobs=3, only=QUICK, timeout=30)
    hog, ada, bob = batch.outcomes
    assert hog.error is not None and "hogged" in hog.error, hog
    assert int(hog.error.split("hogged ")[1].split()[0]) >= 50  # it did take (nearly) all 64
    assert (ada.verdict, bob.verdict) == ("OK", "OK"), (ada, bob)


# -- files copied as files --------------------------------------------------------------------------------


def test_links_to_a_file_outside_and_to_proc_self_environ_leak_neither(tmp_path: Path) -> None:
    secret = f"hunter2-{uuid.uuid4().hex}"
    outside = tmp_path / "teacher" / "grades.py"
    outside.parent.mkdir()
    outside.write_text(f"SECRET = {secret!r}\n")
    for link, points_to in (("notes.py", outside), ("cfg.py", Path("/proc/self/environ"))):
        student = tmp_path / f"student_{link}"
        student.mkdir()
        (student / link).symlink_to(points_to)
        module = link.removesuffix(".py")
        leak = f"\nimport {module}\nraise RuntimeError(str(vars({module})))\n"
        (student / "engine.py").write_text(REFERENCE + leak)
        done = cli(["engine.py:Value"], student, env={"TWINGRAD_TEST_SECRET": secret})
        assert done.returncode == 2, done
        assert secret not in done.stdout + done.stderr
        assert done.stderr.count("\n") == 1 and "symbolic link" in done.stderr, done.stderr
    # The same for an --exec folder, which is copied whole.
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "run.py").write_text("import sys; print(open('leak').read(), file=sys.stderr)\n")
    (tmp_path / "adapter" / "leak").symlink_to("/proc/self/environ")
    done = cli(["--exec", f"{sys.executable} adapter/run.py"], tmp_path, env={"TWINGRAD_TEST_SECRET": secret})
    assert done.returncode == 2 and secret not in done.stdout + done.stderr, done
    assert "symbolic link" in done.stderr
    # A named file that is itself a link: its own folder is copied (and the link refused), never
    # the folder it leads to (the teacher's).
    (tmp_path / "adapter2").mkdir()
    (tmp_path / "adapter2" / "run.py").symlink_to(outside)
    done = cli(["--exec", f"{sys.executable} adapter2/run.py"], tmp_path)
    assert done.returncode == 2 and secret not in done.stdout + done.stderr, done
    assert "symbolic link" in done.stderr


def test_a_link_inside_the_submission_is_followed_and_a_fifo_is_never_read(tmp_path: Path) -> None:
    (tmp_path / "real_helpers.py").write_text("SCALE = 1.0\n")
    (tmp_path / "helpers.py").symlink_to("real_helpers.py")  # inside the folder: the same file
    (tmp_path / "engine.py").write_text(REFERENCE + "\nimport helpers\n")
    assert check_engine(f"{tmp_path / 'engine.py'}:Value", only=QUICK).exit_code == 0
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "piped.py").write_text(REFERENCE + "\nimport pipe\n")
    done = cli(["piped.py:Value"], tmp_path)  # would block forever on opening a FIFO to read it
    assert done.returncode == 2 and "is not a regular file" in done.stderr, done
    with pytest.raises(SubmissionFileError, match="not a regular file"):
        read_bounded(Path("/dev/zero"))


# -- the parent never opens a path that came from the worker -----------------------------------------------


@pytest.mark.parametrize("named", ["/dev/zero", "/proc/self/fd/0"])
def test_a_syntax_error_naming_a_device_or_the_parents_stdin_ends_in_one_line(
        tmp_path: Path, named: str) -> None:
    (tmp_path / "engine.py").write_text(
        REFERENCE + f"\nraise SyntaxError('invalid syntax', ({named!r}, 1, 1, 'x = ('))\n"
    )
    done = cli(["engine.py:Value"], tmp_path)
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and "does not parse" in done.stderr, done.stderr


def test_lines_of_a_submission_come_from_the_parents_copy_by_name_and_bounded(tmp_path: Path) -> None:
    (tmp_path / "engine.py").write_text(REFERENCE + "\nimport helpers\n")
    (tmp_path / "helpers.py").write_text("A = 1\nB = 2\n")
    prepared = prepare(locate(f"{tmp_path / 'engine.py'}:Value"))
    assert prepared.lines("engine/helpers.py", 2) == ["B = 2"]
    assert prepared.lines("engine/helpers.py", 1, 2) == ["A = 1", "B = 2"]
    for made_up in ("/etc/passwd", "/dev/zero", "engine/../../etc/passwd", "engine/other.py", "helpers.py"):
        assert prepared.lines(made_up, 1) == []
        assert prepared.shown(made_up).startswith("<sandbox>/")
    assert prepared.shown("engine/helpers.py").endswith("helpers.py")
    assert not prepared.shown("engine/helpers.py").startswith("<")
    (tmp_path / "helpers.py").write_text("x = 1\n" * (2 << 20))  # 12 MiB: more than any source
    assert prepared.lines("engine/helpers.py", 1) == []


# -- engine text in reports ----------------------------------------------------------------------------------


def test_engine_text_in_a_load_error_is_printed_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "engine.py").write_text("raise RuntimeError(':x: [bold]boom[/bold] :smile:')\n")
    done = cli(["engine.py:Value"], tmp_path)
    assert done.returncode == 2
    assert ":x: [bold]boom[/bold] :smile:" in done.stderr, done.stderr


def test_annotations_point_only_at_the_submissions_files_and_the_summary_links_nothing() -> None:
    made_up = CaseResult("unary_tanh", ("tanh",), "fail", "see https://evil.example and www.evil.example",
                         source=SourceLine("<sandbox>/work/subs/classmate.py", 3, "tanh"))
    own = CaseResult("seed_graph", ("mul",), "fail", "wrong", source=SourceLine("subs/eve.py", 7, "__mul__"))
    run = CheckRun("subs/eve.py:Value", "2", [made_up, own])
    batch = BatchRun([TargetOutcome("subs/eve.py:Value", run=run)])
    lines = github.annotations(batch)
    assert any("file=subs/eve.py,line=7" in line for line in lines)
    assert not any("classmate" in line.split("::")[1] for line in lines)  # never as the file property
    summary = github.step_summary(batch)
    assert "https://" not in summary and "www." not in summary and "www\\." not in summary
    assert "evil" in summary  # the words stay; only the link is gone


def test_the_cheat_by_import_works_where_the_classmate_is_copied(tmp_path: Path) -> None:
    """The control for the flat-folder test: checked alone, a file's imports are copied with it, so
    the same cheat does reach right.py -- only a batch knows which files are other submissions."""
    (tmp_path / "right.py").write_text(REFERENCE)
    (tmp_path / "wrong.py").write_text(CHEAT_BY_IMPORT)
    assert check_engine(f"{tmp_path / 'wrong.py'}:Value", only=QUICK).exit_code == 0
    (tmp_path / "right.py").unlink()
    run = check_engine(f"{tmp_path / 'wrong.py'}:Value", only=QUICK)
    assert run.exit_code == 1 and run.result("unary_tanh").status == "fail"


def test_a_notebook_that_imports_plotting_packages_still_loads_without_them(tmp_path: Path) -> None:
    """The worker has no installed packages; a lecture notebook's `import numpy` for its plots is
    left out of the engine, not a load error (a class that used it would fail where it does)."""
    imports = "import math\nimport numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline"
    cells = [imports, REFERENCE, "xs = np.arange(-5, 5, 0.25)\nplt.plot(xs, np.tanh(xs))"]
    notebook = {"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                           "execution_count": None} for c in cells],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "lecture.ipynb").write_text(json.dumps(notebook))
    run = check_engine(f"{tmp_path / 'lecture.ipynb'}:Value", only=QUICK)
    assert run.exit_code == 0, [r.detail for r in run.results]
