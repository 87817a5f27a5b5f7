"""The check cannot be talked into an OK: hostile engines, each with a real bug, still fail.

Every engine here is the reference engine with a wrong tanh derivative (``1 - out``)
plus one attack on the checker, written into a folder of its own. Whatever the attack
does, the verdict is computed in the parent: the run exits 1 and names tanh. The
sandbox's own guarantees (files, processes, network, memory) are tested in
`test_sandbox.py`; here they are tested end to end, through an engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from twingrad.check import TargetError, check_engine
from twingrad.check.session import spec_of
from twingrad.cli import main

ENGINES = Path(__file__).parent / "engines"
TWINGRAD = Path(sys.executable).with_name("twingrad")
QUICK = ["seed_graph", "reuse_a_plus_a", "unary_tanh"]
WRONG_TANH = """
class Wrong(Value):
    local = {**Value.local, "tanh": lambda x, out: 1 - out}  # the real bug: the square forgotten
"""


def _engine(folder: Path, attack: str, name: str = "Hostile", base: str = "Wrong") -> str:
    """A TARGET for reference.py + the wrong tanh + ``attack`` (a class body or module code)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reference.py").write_text((ENGINES / "reference.py").read_text())
    source = "from reference import Value\n" + WRONG_TANH + textwrap.dedent(attack)
    if f"class {name}" not in source:
        source += f"\n\nclass {name}({base}):\n    pass\n"
    (folder / "engine.py").write_text(source)
    return f"{folder / 'engine.py'}:{name}"


def _tanh_named(run) -> None:
    assert run.exit_code == 1
    verdict = run.result("unary_tanh")
    assert verdict.status == "fail", verdict
    assert "tanh is wrong on its own" in verdict.detail or "`x.tanh()` gives d/dx" in verdict.detail


def test_patching_twingrad_and_torch_at_import_changes_nothing(tmp_path: Path) -> None:
    target = _engine(
        tmp_path,
        """
        try:  # loosen the judge's tolerances, and give torch the same wrong derivative
            import twingrad.parity.tolerances as tolerances
            tolerances.DEFAULT_RTOL = 1e9
        except Exception:
            pass
        try:
            import torch
            torch.Tensor.tanh = lambda self: self
        except Exception:
            pass
    """,
    )
    _tanh_named(check_engine(target, only=QUICK))


def test_answers_forged_on_every_descriptor_at_import_are_discarded(tmp_path: Path) -> None:
    forged = json.dumps({"id": 1, "nonce": "0" * 24, "type": "run", "traces": []})
    target = _engine(
        tmp_path,
        f"""
        import os
        for fd in range(3, 64):  # the protocol pipe is one of these (found through /proc/self/fd)
            try:
                os.write(fd, {forged!r}.encode() + b"\\n")
            except OSError:
                pass
        for fd in (1, 2):
            os.write(fd, {forged!r}.encode() + b"\\n")
    """,
    )
    _tanh_named(check_engine(target, only=QUICK))


def test_a_backward_that_searches_the_stack_for_the_reference_finds_none(tmp_path: Path) -> None:
    target = _engine(
        tmp_path,
        """
        import sys

        class Hostile(Wrong):
            def backward(self):
                super().backward()
                frame = sys._getframe()
                while frame is not None:  # copy any 'torch'/'reference' gradient it can find
                    for key, value in list(frame.f_locals.items()):
                        if "torch" in key or "reference" in key:
                            self.grad = value
                    frame = frame.f_back
    """,
    )
    _tanh_named(check_engine(target, only=QUICK))


def test_exceptions_raised_from_a_label_setter_are_not_verdicts(tmp_path: Path) -> None:
    target = _engine(
        tmp_path,
        """
        class Hostile(Wrong):
            @property
            def label(self):
                return ""

            @label.setter
            def label(self, value):
                raise SystemExit(0)  # or anything the checker might mistake for its own signal
    """,
    )
    _tanh_named(check_engine(target, only=QUICK))


def test_a_torch_module_in_the_working_folder_is_never_imported(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    here = tmp_path / "cwd"
    here.mkdir()
    (here / "torch.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(0)\n")
    target = _engine(tmp_path / "engine", "")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [str(TWINGRAD), "check", target, "--only", ",".join(QUICK), "--json", str(report)],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    tanh = next(c for c in json.loads(report.read_text())["cases"] if c["name"] == "unary_tanh")
    assert tanh["status"] == "fail" and "tanh is wrong on its own" in tanh["detail"]
    assert not marker.exists()


def test_an_engine_without_any_operator_is_not_ok(tmp_path: Path) -> None:
    (tmp_path / "bare.py").write_text(
        textwrap.dedent("""
        class Value:
            def __init__(self, data):
                self.data = data
                self.grad = 0.0

            def backward(self):
                self.grad = 1.0
    """)
    )
    run = check_engine(f"{tmp_path / 'bare.py'}:Value")
    assert run.summary["unsupported"] == len(run.results)
    assert not run.ok and run.exit_code == 1
    assert run.summary_line().startswith("FAIL")


def test_required_ops_that_are_unsupported_fail_the_run() -> None:
    run = check_engine(
        "micrograd.engine:Value", only=["seed_graph", "unary_tanh", "unary_exp"], require=["tanh"]
    )
    assert run.result("unary_tanh").status == "fail"
    assert "required (--require)" in run.result("unary_tanh").detail
    assert run.result("unary_exp").status == "unsupported"
    assert run.exit_code == 1
    with pytest.raises(KeyError):
        check_engine("micrograd.engine:Value", require=["no_such_op"])


def test_control_characters_from_the_engine_never_reach_the_terminal(tmp_path: Path, capsys) -> None:
    target = _engine(
        tmp_path,
        """
        class Hostile(Wrong):
            def exp(self):
                raise ValueError("\\x1b[2J\\x1b[32mOK all cases pass\\x1b[0m\\r")
    """,
    )
    code = main(["check", target, "--only", "unary_exp,unary_tanh"])
    out = capsys.readouterr().out
    assert code == 1
    assert "\x1b" not in out and "\r" not in out
    assert "\\x1b[2J" in out  # shown, escaped


def test_a_hanging_backward_times_out_and_the_run_completes(tmp_path: Path) -> None:
    began = time.perf_counter()
    run = check_engine(f"{ENGINES / 'variants.py'}:Hang", only=QUICK, timeout=0.5)
    assert [r.status for r in run.results] == ["timeout"] * 3
    assert run.result("seed_graph").detail == "no answer within 0.5 s (in backward())"
    assert run.exit_code == 1
    assert time.perf_counter() - began < 3 * (0.5 + 5)  # a timeout costs the timeout and a light restart


def test_an_engine_that_kills_its_worker_is_an_error_per_case() -> None:
    run = check_engine(f"{ENGINES / 'variants.py'}:Crash", only=QUICK)
    assert [r.status for r in run.results] == ["error"] * 3
    assert "the engine ended its worker: the process ended (exit code 3)" in run.results[0].detail


def test_an_op_returning_none_is_an_error_at_that_op(tmp_path: Path) -> None:
    run = check_engine(f"{ENGINES / 'variants.py'}:NoneTanh", only=["seed_graph", "unary_tanh"])
    assert run.result("seed_graph").status == "pass"
    tanh = run.result("unary_tanh")
    assert tanh.status == "error"
    assert tanh.detail.startswith("`x.tanh()` returned a NoneType (None), not a Value")
    assert tanh.source is not None and tanh.source.function == "tanh"


def test_prints_of_the_engine_do_not_disturb_the_protocol() -> None:
    assert check_engine(f"{ENGINES / 'variants.py'}:Chatty", only=QUICK).ok


def test_a_stderr_flood_is_that_cases_error_and_the_run_goes_on(tmp_path: Path) -> None:
    target = _engine(
        tmp_path,
        """
        import sys

        class Hostile(Wrong):
            def exp(self):
                chunk = "x" * (1 << 20)
                for _ in range(64):  # 64 MiB of output, far past what the checker keeps
                    sys.stderr.write(chunk)
                return super().exp()
    """,
    )
    run = check_engine(target, only=["seed_graph", "unary_exp", "unary_tanh"])
    assert run.result("unary_exp").status == "error"
    assert "printed more than" in run.result("unary_exp").detail
    assert run.result("seed_graph").status == "pass"
    _tanh_named(run)


def test_a_module_whose_import_never_ends_cannot_be_loaded(tmp_path: Path) -> None:
    engine = tmp_path / "busy.py"
    engine.write_text("while True:\n    pass\n")
    with pytest.raises(TargetError, match=r"did not finish within 0\.5 s \(raise --timeout"):
        check_engine(f"{engine}:Value", timeout=0.5)


@pytest.mark.parametrize("timeout", ["inf", "nan", "0", "-1", "1e300"])
def test_timeouts_the_check_cannot_honour_exit_2(timeout: str, capsys) -> None:
    assert main(["check", "--timeout", timeout, "--only", "seed_graph"]) == 2
    assert "timeout must be a number of seconds" in capsys.readouterr().err


def test_an_importable_class_is_loaded_by_name_in_the_worker() -> None:
    from micrograd.engine import Value

    assert spec_of(Value) == "micrograd.engine:Value"
    assert check_engine(Value, only=["seed_graph"]).ok


def test_a_notebook_class_is_sent_as_the_definitions_of_the_cells_run_so_far() -> None:
    """IPython caches each cell's source for its tracebacks; the class's cells, and later cells
    that patch it, go to the worker as source -- their definitions only, so a cell that calls
    `check_engine` or trains is not run there, and nothing of the class runs in this process."""
    import linecache

    cells = [
        "import math\n%matplotlib inline",
        (ENGINES / "reference.py").read_text(),
        "class Mine(Value):\n    def accumulate(self, g):\n        self.grad = g  # = where += belongs\n",
        "run = check_engine(Mine)\nfor step in range(10**9):\n    pass  # a training loop: never replayed",
        "def fixed(self, g):\n    self.grad += g\n\nMine.accumulate = fixed\nfixed_run = check_engine(Mine)",
    ]
    namespace: dict = {"__name__": "__main__"}
    names = []
    for k, cell in enumerate(cells):
        name = f"<ipython-input-{k + 1}-{abs(hash(cell)) % 10**8:08d}>"
        linecache.cache[name] = (len(cell), None, cell.splitlines(keepends=True), name)
        names.append(name)
        if k in (1, 2):  # this process defines the class, as the kernel did; the rest is the worker's
            exec(compile(cell, name, "exec"), namespace)
    mine = namespace["Mine"]
    try:
        assert mine.__module__ == "__main__" and spec_of(mine) is None
        del linecache.cache[names[-1]]  # before the fix was run
        run = check_engine(mine, only=["seed_graph", "reuse_a_plus_a"], draw=True)
        assert run.exit_code == 1
        verdict = run.result("reuse_a_plus_a")
        assert verdict.status == "fail" and "is only 1 of their 2 shares" in verdict.detail
        assert verdict.svg is not None and 'stroke="red"' in verdict.svg
        assert run.result("seed_graph").svg is None  # passing cases are not drawn
        linecache.cache[names[-1]] = (len(cells[-1]), None, cells[-1].splitlines(keepends=True), names[-1])
        assert check_engine(mine, only=["seed_graph", "reuse_a_plus_a"]).ok  # the fix cell is replayed
    finally:
        for name in names:
            linecache.cache.pop(name, None)


def test_an_engine_that_hides_its_graph_is_still_checked_by_its_numbers(tmp_path: Path) -> None:
    (tmp_path / "reference.py").write_text((ENGINES / "reference.py").read_text())
    (tmp_path / "opaque.py").write_text(
        textwrap.dedent("""
        from reference import Value

        class Opaque(Value):
            edges = "_kids"  # an attribute no checker guesses, holding a node's inputs privately
            def accumulate(self, g):
                self.grad = g
    """)
    )
    run = check_engine(
        f"{tmp_path / 'opaque.py'}:Opaque",
        only=["seed_graph", "reuse_a_plus_a"],
        spellings={"inputs": "nothing_here"},
    )
    assert run.result("seed_graph").status == "pass"
    verdict = run.result("reuse_a_plus_a")
    assert verdict.status == "fail"
    assert verdict.mismatch is not None
    # The graph cannot be walked, so the case's own numbers are shown: torch's, recorded.
    assert (verdict.mismatch.engine, verdict.mismatch.expected, verdict.mismatch.by) == (1.0, 2.0, "twingrad")


def test_the_worker_runs_in_a_scratch_folder_with_a_scrubbed_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWINGRAD_TEST_SECRET", "hunter2")
    monkeypatch.chdir(tmp_path)
    target = _engine(
        tmp_path / "engine",
        f"""
        import os, sys
        if os.environ.get("TWINGRAD_TEST_SECRET") or os.getcwd() == {str(tmp_path)!r} or "" in sys.path:
            raise RuntimeError("the worker sees the caller's environment or folder")
    """,
    )
    _tanh_named(check_engine(target, only=["unary_tanh"]))


def test_an_engine_that_ends_its_worker_between_cases_costs_one_case_only(tmp_path: Path) -> None:
    target = _engine(
        tmp_path,
        """
        import os, threading

        class Hostile(Wrong):
            def backward(self):
                super().backward()
                threading.Timer(0.05, os._exit, (0,)).start()  # gone after its answer
    """,
    )
    run = check_engine(target, only=QUICK)
    assert [r.status for r in run.results].count("error") <= 2
    _tanh_named_or_ended(run)


def _tanh_named_or_ended(run) -> None:
    assert run.exit_code == 1
    for result in run.results:
        assert result.status in ("pass", "fail", "error"), result
        if result.status == "error":
            assert "the engine ended its worker" in result.detail


def test_files_the_engine_writes_or_deletes_outside_its_scratch_folder_are_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    project_file = Path(__file__).resolve()  # a file of the project: the engine tries to delete it
    before = project_file.read_bytes()
    target = _engine(
        tmp_path / "engine",
        f"""
        import os
        for path in ({str(here / "pwned")!r}, {str(project_file.parent / "pwned.py")!r}):
            try:
                with open(path, "w") as handle:
                    handle.write("owned")
            except OSError:
                pass
        try:
            os.remove({str(project_file)!r})
        except OSError:
            pass
    """,
    )
    _tanh_named(check_engine(target, only=QUICK))
    assert not (here / "pwned").exists() and not (project_file.parent / "pwned.py").exists()
    assert project_file.read_bytes() == before


def test_no_process_the_engine_starts_outlives_the_check(tmp_path: Path) -> None:
    marker = "60.4242"  # a sleep no one else runs: found by its command line
    target = _engine(
        tmp_path,
        f"""
        import subprocess
        subprocess.Popen(["sleep", {marker!r}], start_new_session=True)  # a daemon, detached
        subprocess.Popen(["sh", "-c", "sleep {marker} & sleep {marker}"], start_new_session=True)
    """,
    )
    _tanh_named(check_engine(target, only=QUICK))
    time.sleep(0.2)
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    alive.append(entry.name)
            except OSError:
                continue
    assert not alive, f"processes left behind: {alive}"


def test_a_memory_flood_is_that_cases_error_and_the_run_goes_on(tmp_path: Path) -> None:
    target = _engine(
        tmp_path,
        """
        class Hostile(Wrong):
            def exp(self):
                hoard = []
                while True:  # far past the sandbox's address-space limit
                    hoard.append(bytearray(64 << 20))
    """,
    )
    run = check_engine(target, only=["seed_graph", "unary_exp", "unary_tanh"])
    assert run.result("unary_exp").status == "error"
    assert (
        "MemoryError" in run.result("unary_exp").detail
        or "ended its worker" in run.result("unary_exp").detail
    )
    assert run.result("seed_graph").status == "pass"
    _tanh_named(run)
