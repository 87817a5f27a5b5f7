"""`check_engine`: the whole catalogue on one engine, each case isolated, the run always finishing."""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .cases import Case, select
from .result import ERROR, TIMEOUT, CaseResult, CheckRun, verdict_to_wire
from .target import OWN_ENGINE, TargetError, locate, probe
from .worker import CaseTimeoutError, Worker, WorkerDiedError

DEFAULT_TIMEOUT = 10.0  # seconds per case; a case takes milliseconds, a located failure about one

Progress = Callable[[Case, "CaseResult | None"], None]


def spec_of(engine: Any) -> str | None:
    """A TARGET a fresh process can load ``engine`` from, or None (a notebook cell, a function body)."""
    module = getattr(engine, "__module__", None)
    qualname = getattr(engine, "__qualname__", "")
    if not module or module == "__main__" or "<locals>" in qualname:
        return None
    loaded = sys.modules.get(module)
    with contextlib.suppress(ImportError, ValueError):
        if importlib.util.find_spec(module) is not None:
            return f"{module}:{qualname}"
    path = getattr(loaded, "__file__", None)
    return f"{path}:{qualname}" if path else None


def check_engine(
    engine: str | type | None = None,
    *,
    only: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    draw: bool = False,
    worker: Worker | None = None,
    progress: Progress | None = None,
) -> CheckRun:
    """Check a micrograd-style Value class against torch, case by case.

    ``engine`` is a TARGET (``"my_engine.py:Value"``, ``"package.module:Value"``), a class,
    or None for twingrad's own engine. A class that a fresh process can import runs in the
    worker like a TARGET; one defined in a notebook cell or a function runs in this
    process, where a timer signal stops a hang (main thread on Unix only).

    ``only`` selects cases by name or glob; ``draw`` adds an SVG of the graph, culprit in
    red, to each failing case that could be located. Raises `TargetError` when the
    engine cannot be loaded, `KeyError` for a name in ``only`` that matches no case.
    """
    if not timeout > 0:  # nan too
        raise ValueError(f"timeout must be positive, not {timeout!r}")
    cases = select(list(only) if only is not None else None)
    notify: Progress = progress or (lambda case, result: None)
    began = time.perf_counter()
    if engine is not None and not isinstance(engine, str):
        spec = spec_of(engine)
        if spec is None:
            return _in_process(engine, cases, timeout, draw, notify, began)
    else:
        spec = engine if engine is not None else OWN_ENGINE
        locate(spec)  # a malformed TARGET or a missing file fails here, before any process starts
    with contextlib.ExitStack() as stack:
        if worker is None:
            worker = stack.enter_context(Worker())
        worker.load(spec, timeout)
        results = []
        for case in cases:
            notify(case, None)
            result = _isolated(worker, spec, case, timeout, draw)
            notify(case, result)
            results.append(result)
        return CheckRun(spec, worker.torch_version, results, time.perf_counter() - began)


def _isolated(worker: Worker, spec: str, case: Case, timeout: float, draw: bool) -> CaseResult:
    began = time.perf_counter()
    try:
        wire = worker.run(spec, case.name, timeout, draw)
    except CaseTimeoutError as exc:
        wire = verdict_to_wire(TIMEOUT, str(exc))
    except WorkerDiedError as exc:
        wire = verdict_to_wire(ERROR, f"the engine ended the checking process ({exc})")
    except TargetError as exc:  # a fresh worker could not load it again
        wire = verdict_to_wire(ERROR, str(exc))
    result = CaseResult.from_wire(case.name, case.ops, wire)
    result.seconds = time.perf_counter() - began
    return result


# -- in this process ---------------------------------------------------------------------------


class _Alarm(BaseException):
    """Raised into the engine's code by the timer; a BaseException, so `except Exception` lets it by."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[bool]:
    """Interrupt the block after ``seconds`` where a timer signal can; yields whether it can."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield False
        return

    def ring(signum: int, frame: Any) -> None:
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _in_process(engine: Any, cases: list[Case], timeout: float, draw: bool, notify: Progress,
                began: float) -> CheckRun:
    import torch

    from .runner import run_case

    shown = f"{getattr(engine, '__module__', '?')}.{getattr(engine, '__qualname__', repr(engine))}"
    probe(engine, shown)
    results = []
    for case in cases:
        notify(case, None)
        started = time.perf_counter()
        phases = ["starting the case"]
        try:
            with _alarm(timeout):
                wire = run_case(engine, case.name, draw=draw, phase=phases.append)
        except _Alarm:
            wire = verdict_to_wire(TIMEOUT, str(CaseTimeoutError(timeout, phases[-1])))
        result = CaseResult.from_wire(case.name, case.ops, wire)
        result.seconds = time.perf_counter() - started
        notify(case, result)
        results.append(result)
    return CheckRun(shown, torch.__version__, results, time.perf_counter() - began, isolated=False)
