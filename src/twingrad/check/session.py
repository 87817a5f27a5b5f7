"""`check_engine`: the whole catalogue on one engine, each case in the engine's sandboxed worker.

One worker per engine (never shared between two), restarted after a case that killed,
hung or broke it; the verdicts are computed here, from the numbers it reports.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .budget import DEFAULT_TARGET_TIMEOUT, Budget
from .cases import Case, select
from .programs import CaseProgram, ProbeProgram, compile_case
from .protocol import EngineInfo, ProtocolError, Trace, WorkerInfo
from .result import ERROR, FAIL, NOTE, PASS, TIMEOUT, UNSUPPORTED, CaseResult, CheckRun
from .sandbox import SandboxError
from .target import (
    OWN_ENGINE,
    Prepared,
    Target,
    TargetError,
    cell_code,
    imported_files,
    locate,
    prepare,
)
from .worker import Worker, WorkerDiedError, WorkerTimeoutError, exec_command, python_command

if TYPE_CHECKING:  # the judge needs torch: imported while the worker starts, not with this module
    from .judge import Judge

DEFAULT_TIMEOUT = 10.0  # seconds per case; a case takes milliseconds, a located failure about one
MAX_TIMEOUT = 24 * 3600.0  # far beyond any case; keeps deadlines within what clocks and waits accept

Progress = Callable[[Case, "CaseResult | None"], None]


def check_timeout(timeout: float, what: str = "timeout") -> float:
    """A timeout the check can honour: finite, positive, at most a day."""
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        raise ValueError(
            f"{what} must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, not {timeout!r}"
        )
    return float(timeout)


def spec_of(engine: Any) -> str | None:
    """A TARGET a fresh process can load ``engine`` from, or None (a notebook cell, a function body)."""
    module = getattr(engine, "__module__", None)
    qualname = getattr(engine, "__qualname__", "")
    if not module or module == "__main__" or "<locals>" in qualname:
        return None
    path = getattr(sys.modules.get(module), "__file__", None)
    if path and Path(path).name != "__init__.py" and "." not in module:
        return f"{path}:{qualname}"
    return f"{module}:{qualname}"


def _session_cells(engine: Any) -> list[str] | None:
    """The cells this IPython session has run, in order (IPython caches each one's source for
    tracebacks, history or not), found from the cell that defined ``engine``; None elsewhere."""
    import linecache
    import os

    defined = [getattr(getattr(f, "__code__", None), "co_filename", "") for f in vars(engine).values()]
    cell = next((f for f in defined if f.startswith("<ipython-input-") or "ipykernel_" in f), None)
    if cell is None:
        return None
    cache = getattr(linecache, "_ipython_cache", None) or linecache.cache
    same_session = (
        (lambda n: n.startswith("<ipython-input-"))
        if cell.startswith("<")
        else (lambda n: os.path.dirname(n) == os.path.dirname(cell))
    )
    return ["".join(entry[2]) for name, entry in list(cache.items()) if same_session(name)]


def _prepared_source(engine: Any, folder: Path) -> Prepared:
    """A class no other process can import, as source for the worker: in a notebook, the
    cells run so far (`target.cell_code`); else the class's own source."""
    name = getattr(engine, "__name__", "Value")
    module = folder / "notebook_engine.py"
    cells = _session_cells(engine)
    where: list[tuple[int, int]] = []
    if cells is not None:
        code, where = cell_code(cells, name)
    else:
        try:
            code = textwrap.dedent(inspect.getsource(engine))
        except (OSError, TypeError):
            raise TargetError(
                f"cannot find the source of {name} to run it in the worker: save it in a file "
                "and check path/to/file.py:Name"
            ) from None
    module.write_text(code, encoding="utf-8")
    prepared = prepare(Target(f"{name} (from this session)", None, module, name))
    # The modules of the notebook's own folder that its cells import (target.py's copy rule).
    with contextlib.suppress(TargetError):
        prepared = replace(prepared, copy_in=imported_files(Path.cwd(), "engine", prepared.copy_in))
    return replace(
        prepared,
        originals={},
        cells={"engine/notebook_engine.py": where} if where else {},
        notebook="this notebook",
    )


def check_engine(
    engine: str | type | None = None,
    *,
    only: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    target_timeout: float = DEFAULT_TARGET_TIMEOUT,
    draw: bool = False,
    progress: Progress | None = None,
    python: str | None = None,
    command: str | None = None,
    spellings: Mapping[str, str] | None = None,
    require: Iterable[str] = (),
    rtol: float | None = None,
    atol: float | None = None,
    accept: Iterable[str] = (),
    classmates: Iterable[str] = (),
    seed: int | None = None,
) -> CheckRun:
    """Check a micrograd-style Value class against torch, case by case.

    ``engine`` is a TARGET (``"my_engine.py:Value"``, ``"package.module:Value"``), a class,
    or None for twingrad's own engine; ``command`` instead runs that command as the worker
    (an engine in another language, docs/protocol.md). The engine always runs in a
    sandboxed worker process, under ``python`` (default: this interpreter); a class with
    no importable module (a notebook cell) is sent as source.

    ``only`` selects cases by name or glob; ``require`` names cases or ops (``tanh``,
    ``unary_*``) whose being unsupported fails the run; ``spellings`` names the engine's
    own attributes (``{"data": "val"}``); ``rtol``/``atol`` loosen the comparison (an
    engine in float32 on purpose); ``accept`` names designs that are no bug (``"offset"``:
    a case that goes wrong first at an op offset by a round epsilon is a note); ``timeout``
    bounds each request to the worker and ``target_timeout`` the whole check
    (`twingrad.check.budget`); ``draw`` adds an SVG of the graph, culprit in red, to each
    failing case that could be located; ``classmates`` are the files of the other targets
    of a batch, never copied into this engine's worker (docs/sandbox.md). ``seed`` replays
    the inputs of an earlier run (its report names it); None draws a fresh one
    (`twingrad.check.inputs`). Raises `TargetError` when the engine cannot be loaded,
    `KeyError` for a name in ``only`` that matches no case, `ValueError` for a bad timeout,
    tolerance or seed.
    """
    from .inputs import check_seed, draw_cases, new_seed

    timeout = check_timeout(timeout)
    budget = Budget(timeout, check_timeout(target_timeout, "target timeout"))
    seed = new_seed() if seed is None else check_seed(seed)
    chosen = select(list(only) if only is not None else None)
    required = _required(chosen, require)
    drawn: list[Case] = []
    warm = threading.Thread(target=_prepare_cases, args=(chosen, seed, drawn), daemon=True)
    warm.start()  # the judge loads and the inputs are drawn while the worker starts

    notify: Progress = progress or (lambda case, result: None)
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if command is not None:
            run = exec_command(command)
            prepared, argv, shown = Prepared(run.copy_in, {}, run.originals, typed=command), run.argv, command
            load: dict[str, str] | None = None
        else:
            prepared, shown = _prepared(engine, stack, classmates)
            argv, load = python_command(python), prepared.load
        # The command line's names win over the engine's pyproject.toml.
        session = _Session(argv, prepared, load, {**prepared.names, **(spellings or {})}, timeout, budget)
        stack.callback(session.close)
        info = session.start()
        # A fixed first case (the seed graph) runs while the drawing finishes.
        traces = session.prefetch([compile_case(case, False) for case in chosen[:1] if case.fixed])
        warm.join()
        if len(drawn) != len(chosen):  # the drawing thread failed: draw here, for its error to show
            drawn[:] = draw_cases(chosen, seed)
        cases = drawn
        from ..parity.tolerances import Tolerance
        from .judge import Judge

        judge = Judge(
            info, session.probe, prepared.place, Tolerance.of(rtol, atol), draw,
            owns=prepared.owns, accept=frozenset(accept),
        )
        results = []
        for case in cases:
            notify(case, None)
            if budget.give_up():
                result = budget.not_run(case)
            else:
                result = session.run_case(case, judge, traces.pop(case.name, None))
                budget.record(result)
            if case.name in required and result.status == UNSUPPORTED:
                result.status = FAIL
                result.detail = f"required (--require), but unsupported: {result.detail}"
            notify(case, result)
            results.append(result)
        from .reference import installed_torch

        return CheckRun(
            shown,
            installed_torch(),
            results,
            time.perf_counter() - began,
            reading=_reading(info),
            worker=session.worker_info,
            seed=seed,
        )


def _prepare_cases(chosen: Sequence[Case], seed: int, into: list[Case]) -> None:
    """Import the judge (numpy) and draw the run's cases, into ``into``; run while the worker starts."""
    from . import judge  # noqa: F401 -- the parity machinery, used by the drawing too
    from .inputs import draw_cases

    into.extend(draw_cases(chosen, seed))


def _required(cases: Sequence[Case], require: Iterable[str]) -> set[str]:
    """Case names that --require covers: by case name or glob, or by an op they use."""
    import fnmatch

    names: set[str] = set()
    for wanted in require:
        hits = {
            c.name
            for c in cases
            if fnmatch.fnmatch(c.name, wanted)
            or wanted in c.ops
            or any(op.name == wanted for op in c.op_records)
        }
        if not hits:
            raise KeyError(wanted)
        names |= hits
    return names


def _prepared(
    engine: str | type | None, stack: contextlib.ExitStack, classmates: Iterable[str] = ()
) -> tuple[Prepared, str]:
    if engine is None or isinstance(engine, str):
        spec = engine if engine is not None else OWN_ENGINE
        target = locate(spec)
        workspace = None
        if target.path is not None and target.path.suffix == ".ipynb":
            workspace = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twingrad-notebook-")))
        return prepare(target, workspace, classmates), spec
    spec = spec_of(engine)
    if spec is not None:
        return prepare(locate(spec)), spec
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twingrad-source-")))
    return _prepared_source(
        engine, folder
    ), f"{getattr(engine, '__module__', '?')}.{getattr(engine, '__name__', '?')}"


def _reading(info: EngineInfo) -> str:
    """``data from .val, inputs from ._children, backward via backprop()``: how the engine was read."""
    s = info.spellings
    parts = [
        f"data from .{s['data']}",
        f"grad from .{s['grad']}",
        f"inputs from .{s['inputs']}" if s.get("inputs") else "inputs not found (graph not walked)",
        f"op from .{s['op']}" if s.get("op") else "no op text",
        f"backward via {s['backward']}()",
    ]
    if s.get("requires_grad"):
        parts.append(f"leaves get .{s['requires_grad']} = True")
    return ", ".join(parts)


class _Session:
    """The engine's worker, restarted (and the engine loaded again) whenever a case ends it."""

    def __init__(
        self,
        argv: list[str],
        prepared: Prepared,
        load: dict[str, str] | None,
        spellings: dict[str, str],
        timeout: float,
        budget: Budget | None = None,
    ) -> None:
        self.argv = argv
        self.prepared = prepared
        self.load = load
        self.spellings = spellings
        self.timeout = timeout
        self.budget = budget or Budget(timeout, math.inf)
        self.worker: Worker | None = None
        self.worker_info: WorkerInfo | None = None

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def start(self) -> EngineInfo:
        """A fresh worker with the engine loaded; on any failure, no worker is left behind (the
        next request then starts another, instead of reusing one with nothing loaded)."""
        self.close()
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> EngineInfo:
        try:
            self.worker = Worker(self.argv, copy_in=self.prepared.copy_in)
        except (ValueError, OSError) as exc:  # no such program, a file that cannot be copied
            raise TargetError(f"cannot prepare the worker ({' '.join(self.argv[:1])}): {exc}") from None
        started = False
        try:
            self.worker_info = self.worker.start(max(self.timeout, 10.0))
            started = True
            answer = self.worker.load(self.load, self.spellings, self.timeout, list(self.prepared.path))
        except WorkerTimeoutError:
            raise TargetError(
                f"loading the engine did not finish within {self.timeout:g} s (raise --timeout, "
                "or put slow top-level code under `if __name__ == '__main__':`)"
            ) from None
        except WorkerDiedError as died:
            if not started:  # before any answer: the program is not a worker, or a launcher refused
                raise TargetError(f"the worker ({self.argv[0]}) ended as it started: {died}") from None
            raise TargetError(f"loading the engine ended the worker: {died}") from None
        except ProtocolError as broken:
            raise TargetError(f"the worker broke the protocol while loading: {broken}") from None
        except (OSError, SandboxError) as exc:
            raise TargetError(f"cannot start the worker ({' '.join(self.argv[:1])}): {exc}") from None
        if not answer.ok:
            assert answer.error is not None
            raise TargetError(_load_failure(answer.error, self.prepared))
        assert answer.engine is not None
        return answer.engine

    def run(self, programs: Sequence[dict[str, Any]]) -> list[Trace]:
        if self.worker is None:
            self.start()
        assert self.worker is not None
        try:
            return self.worker.run(programs, self.budget.request_timeout())
        except WorkerTimeoutError as exc:
            self.close()  # the next request starts a fresh worker and loads the engine again
            raise self.budget.timed_out(exc) from None
        except (WorkerDiedError, ProtocolError):
            self.close()
            raise

    def probe(self, probes: Sequence[ProbeProgram]) -> Sequence[Trace]:
        """The prober the judge uses: a probe that kills or hangs the worker finds nothing."""
        if not probes:
            return []
        try:
            return self.run([p.program for p in probes])
        except (WorkerTimeoutError, WorkerDiedError, ProtocolError, TargetError):
            return []  # `run` and `start` have closed the worker: the next request starts another

    def prefetch(self, programs: Sequence[CaseProgram]) -> dict[str, Trace | BaseException]:
        """Run cases before the judge is ready (while torch loads); their traces, or what went wrong."""
        done: dict[str, Trace | BaseException] = {}
        for program in programs:
            try:
                done[program.case.name] = self.run([program.program])[0]
            except (WorkerTimeoutError, WorkerDiedError, ProtocolError, TargetError) as exc:
                done[program.case.name] = exc
        return done

    def run_case(self, case: Case, judge: Judge, ran: Trace | BaseException | None) -> CaseResult:
        """A case's verdict: from its numbers alone when they agree (or a step failed), else
        from a second run that observes the graph, for the judge to say where and why."""
        began = time.perf_counter()
        program = compile_case(case, False)
        try:
            if isinstance(ran, BaseException):
                raise ran
            trace = ran if ran is not None else self.run([program.program])[0]
            result = judge.numbers(program, trace)
            if result is None:
                program = compile_case(case, True)
                result = judge.case(program, self.run([program.program])[0])
        except WorkerTimeoutError as exc:
            result = CaseResult(case.name, case.ops, TIMEOUT, f"{exc} ({_phase(program, exc.at)})")
        except WorkerDiedError as exc:
            result = CaseResult(case.name, case.ops, ERROR, f"the engine ended its worker: {exc}")
        except ProtocolError as exc:
            result = CaseResult(case.name, case.ops, ERROR, f"the worker broke the protocol: {exc}")
        except TargetError as exc:  # a fresh worker could not load it again
            result = CaseResult(case.name, case.ops, ERROR, str(exc))
        result.seconds = time.perf_counter() - began
        return result


def _phase(program: CaseProgram, at: int | None) -> str:
    """Where the engine was when a case timed out, from the last step it announced."""
    if at is None:
        return "while building the graph"
    step = program.step_at(min(at, len(program.steps) - 1))
    if "backward" in step:
        return "in backward()"
    if "observe" in step:
        return "while reading the graph"
    return "while building the graph"


def _load_failure(error: Any, prepared: Prepared) -> str:
    from .failures import describe
    from .syntax import newer_syntax

    what = prepared.typed or "the engine"
    if error.kind == "missing":
        return f"{what} has no attribute {error.name!r} ({error.message})"
    if error.type == "SyntaxError":
        return f"{what} does not parse: {describe(error, prepared.place)}{newer_syntax(error, prepared)}"
    if error.kind == "returned":
        return f"{what}: the target is a {error.type}, not a class"
    return f"cannot load {what}: {describe(error, prepared.place)}"


__all__ = ["DEFAULT_TIMEOUT", "NOTE", "PASS", "check_engine", "check_timeout"]
