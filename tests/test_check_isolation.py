"""The harness never crashes on someone else's engine: hangs, crashes, None, prints, recursion."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from twingrad.check import Worker, check_engine
from twingrad.check.session import spec_of
from twingrad.check.worker import CaseTimeoutError, WorkerDiedError

VARIANTS = Path(__file__).parent / "engines" / "variants.py"
QUICK = ["seed_graph", "reuse_a_plus_a", "unary_exp"]


@pytest.fixture(scope="module")
def worker():
    with Worker() as w:
        yield w


def test_a_backward_that_never_returns_times_out_and_the_run_completes(worker: Worker) -> None:
    began = time.perf_counter()
    run = check_engine(f"{VARIANTS}:Hang", only=QUICK, timeout=0.5, worker=worker)
    assert [r.status for r in run.results] == ["timeout"] * 3
    assert run.result("seed_graph").detail == "no answer within 0.5 s (while running backward())"
    assert run.exit_code == 1
    # Each timeout costs the timeout and a fresh worker (torch import); bounded, not a hang.
    assert time.perf_counter() - began < 3 * (0.5 + 10)


def test_the_worker_comes_back_after_a_timeout_for_the_next_engine(worker: Worker) -> None:
    check_engine(f"{VARIANTS}:Hang", only=["seed_graph"], timeout=0.5, worker=worker)
    run = check_engine(f"{VARIANTS}:SetChildren", only=QUICK, worker=worker)
    assert [r.status for r in run.results] == ["pass"] * 3


def test_an_engine_that_kills_its_process_is_an_error_per_case(worker: Worker) -> None:
    run = check_engine(f"{VARIANTS}:Crash", only=QUICK, worker=worker)
    assert [r.status for r in run.results] == ["error"] * 3
    assert "the engine ended the checking process (the process exited with code 3)" in run.results[0].detail


def test_an_op_returning_none_is_named(worker: Worker) -> None:
    run = check_engine(f"{VARIANTS}:NoneTanh", only=["seed_graph", "unary_tanh"], worker=worker)
    assert run.result("seed_graph").status == "pass"
    tanh = run.result("unary_tanh")
    assert tanh.status == "error"
    assert "`x.tanh()` returns a NoneType (None), not a Value" in tanh.detail


def test_prints_of_the_engine_do_not_disturb_the_protocol(worker: Worker) -> None:
    run = check_engine(f"{VARIANTS}:Chatty", only=QUICK, worker=worker)
    assert run.ok


def test_worker_raises_typed_errors_and_restarts() -> None:
    with Worker() as w:
        w.load(f"{VARIANTS}:Hang", timeout=30)
        first = w.pid
        with pytest.raises(CaseTimeoutError, match="while running backward"):
            w.run(f"{VARIANTS}:Hang", "seed_graph", timeout=0.3)
        assert w.pid is None  # killed; the next request starts another
        with pytest.raises(WorkerDiedError, match="code 3"):
            w.run(f"{VARIANTS}:Crash", "seed_graph", timeout=30)
        answer = w.run(f"{VARIANTS}:SetChildren", "reuse_a_plus_a", timeout=30)
        assert answer["status"] == "pass"
        assert w.starts == 3 and w.pid != first


def test_a_class_defined_in_a_function_runs_in_process_and_a_hang_is_still_cut() -> None:
    class Stuck:
        def __init__(self, data: float) -> None:
            self.data = data
            self.grad = 0.0
            self._prev = ()

        def __add__(self, other: object) -> Stuck:
            while True:
                pass

        def backward(self) -> None:
            pass

    assert spec_of(Stuck) is None
    run = check_engine(Stuck, only=["reuse_a_plus_a", "unary_exp"], timeout=0.3)
    assert not run.isolated
    assert run.result("reuse_a_plus_a").status == "timeout"
    assert run.result("reuse_a_plus_a").detail == "no answer within 0.3 s (while building the graph)"
    assert run.result("unary_exp").status == "unsupported"


def test_importable_classes_are_checked_in_the_worker() -> None:
    from micrograd.engine import Value

    assert spec_of(Value) == "micrograd.engine:Value"


def _reference() -> type:
    from twingrad.check.target import load, parse

    return load(parse(f"{VARIANTS.parent}/reference.py:Value"))


def test_a_notebook_class_is_checked_in_process_with_its_culprit_drawn() -> None:
    class Mine(_reference()):  # type: ignore[misc]
        def accumulate(self, g: float) -> None:
            self.grad = g

    run = check_engine(Mine, only=["seed_graph", "reuse_a_plus_a"], draw=True)
    assert not run.isolated and run.exit_code == 1
    verdict = run.result("reuse_a_plus_a")
    assert verdict.status == "fail" and "is only 1 of their 2 shares" in verdict.detail
    assert verdict.svg is not None and "<svg" in verdict.svg._repr_svg_() and 'stroke="red"' in verdict.svg
    assert run.result("seed_graph").svg is None  # passing cases are not drawn
    assert "reuse_a_plus_a" in str(run) and "FAIL" in run._repr_html_()


def test_an_engine_that_hides_its_graph_is_still_checked_by_its_numbers() -> None:
    class Opaque(_reference()):  # type: ignore[misc]
        edges = "_kids"  # no _prev: nothing to walk

        def accumulate(self, g: float) -> None:
            self.grad = g

    run = check_engine(Opaque, only=["seed_graph", "reuse_a_plus_a"])
    assert run.result("seed_graph").status == "pass"
    verdict = run.result("reuse_a_plus_a")
    assert verdict.status == "fail"
    assert verdict.mismatch is not None and (verdict.mismatch.engine, verdict.mismatch.torch) == (1.0, 2.0)
    assert "the graph cannot be walked" in verdict.detail and "no _prev" in verdict.detail


def test_a_module_whose_import_never_ends_cannot_be_loaded(worker: Worker, tmp_path: Path) -> None:
    from twingrad.check import TargetError

    engine = tmp_path / "busy.py"
    engine.write_text("while True:\n    pass\n")
    with pytest.raises(TargetError, match=r"did not finish within 0\.5 s \(raise --timeout"):
        check_engine(f"{engine}:Value", timeout=0.5, worker=worker)
