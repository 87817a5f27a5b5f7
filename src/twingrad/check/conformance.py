"""``twingrad check --exec COMMAND --protocol-only``: does a worker speak the protocol right?

For an adapter's author, before any gradient is compared: every message the worker
sends is validated exactly as a real check validates it (`protocol.read_answer`), over
the requests a check makes -- hello, load, and the catalogue's programs, one op at a time
and whole cases. Each problem is reported once, with the request it answered.
"""

from __future__ import annotations

from .cases import CASES
from .programs import compile_case, probe_program, spellings
from .protocol import ProtocolError
from .target import TargetError
from .worker import Worker, WorkerDiedError, WorkerTimeoutError, exec_command

# Whole cases that exercise every kind of step: numbers on both sides, reuse, the nudge, two backwards.
_CASES = ("seed_graph", "reuse_a_times_a", "number_minus_value", "sum_of_a_list", "backward_twice")


def conformance(command: str, timeout: float) -> list[str]:
    """Problems found, in the order met; empty when every message followed the protocol."""
    from ..ops import OPS

    problems: list[str] = []
    programs = [
        probe_program(op, spelled, (0.7, 1.3)[: len(kinds)], kinds, None).program
        for op in OPS
        for spelled, kinds in spellings(op, 0.7, 1.3)
    ]
    programs += [
        compile_case(case, detailed).program
        for case in CASES
        if case.name in _CASES
        for detailed in (False, True)
    ]
    try:
        run = exec_command(command)
        worker: Worker | None = Worker(run.argv, copy_in=run.copy_in)
    except (ValueError, OSError) as exc:  # no such program, a file that cannot be copied
        raise TargetError(f"cannot prepare the worker ({command}): {exc}") from None
    started = False
    try:
        for index, program in enumerate([None, *programs]):
            if worker is None:
                worker, started = Worker(run.argv, copy_in=run.copy_in), False
            if not started:
                started = True
                if not _step(problems, worker, "hello", lambda w=worker: w.start(timeout)):
                    return problems
                if not _step(problems, worker, "load", lambda w=worker: w.load(None, {}, timeout)):
                    return problems
            if program is None:
                continue
            if not _step(
                problems, worker, f"run {program['name']!r}", lambda w=worker, p=program: w.run([p], timeout)
            ):
                worker.close()
                worker = None  # a broken answer ends that worker; go on with a fresh one
                if len(problems) >= 5:
                    problems.append(f"... stopped after {index} programs")
                    return problems
    finally:
        if worker is not None:
            worker.close()
    return problems


def _step(problems: list[str], worker: Worker, what: str, call: object) -> bool:
    before = len(problems)
    ok = _ran(problems, what, call)
    # Lines the worker wrote that answered nothing, before what went wrong: a check skips them.
    problems[before:before] = [f"{what}: skipped a line that answers no request: {w}" for w in worker.stray]
    worker.stray.clear()
    return ok


def _ran(problems: list[str], what: str, call: object) -> bool:
    try:
        call()  # type: ignore[operator]
    except (ProtocolError, WorkerTimeoutError) as exc:
        problems.append(f"{what}: {exc}")
    except WorkerDiedError as exc:
        problems.append(f"{what}: the worker died: {exc}")
    except OSError as exc:
        problems.append(f"{what}: cannot start the worker: {exc}")
    else:
        return True
    return False
