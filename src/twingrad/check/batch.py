"""Many targets in one run: a class's submissions, each checked in its own worker, ``jobs`` at a time.

Each target goes through `check_target` exactly as a single ``twingrad check TARGET``
would: its own worker process, so one submission's hang, crash or import-time mischief
cannot touch another's verdict. Threads only wait on those processes, so a thread per
job is all the parallelism needed. A target that cannot be loaded becomes a row of its
own ("cannot load") and the batch goes on.

Exit status of the batch: the worst of its targets -- 2 when one cannot be loaded,
1 when one fails, 0 when every target is OK.
"""

from __future__ import annotations

import glob
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import write_atomic
from .budget import NOT_RUN, gave_up
from .cases import Case
from .reports.text import mismatch_line
from .result import BAD, CaseResult, CheckRun
from .target import TargetError

OK = "OK"
FAILED = "FAIL"
UNLOADABLE = "cannot load"


def expand(targets: Sequence[str]) -> list[str]:
    """Each TARGET whose file part is a glob, as the targets it matches (sorted), others as they are.

    ``submissions/*/engine.py:Value`` is not a glob a shell can expand (no file is called
    ``engine.py:Value``), so the command expands it. A glob that matches nothing is kept, to
    be reported as the file it could not find.
    """
    expanded = []
    for spec in targets:
        head, colon, attribute = spec.rpartition(":")
        matches = sorted(glob.glob(os.path.expanduser(head))) if colon and glob.has_magic(head) else []
        expanded += [f"{path}:{attribute}" for path in matches] or [spec]
    return list(dict.fromkeys(expanded))


def check_target(target: str | None, **options: Any) -> CheckRun:
    """One target, as ``twingrad check TARGET`` checks it; ``options`` go to `check_engine` untouched.

    The one door from the batch (and the command) into the checker: options the checker
    grows reach it without this module changing.
    """
    from .session import check_engine

    return check_engine(target, **options)


@dataclass
class TargetOutcome:
    """One target of a batch: its run, or why it could not be loaded."""

    target: str
    run: CheckRun | None = None
    error: str | None = None  # set when there is no run
    seconds: float = field(default=0.0, repr=False)

    @property
    def verdict(self) -> str:
        if self.run is None:
            return UNLOADABLE
        return OK if self.run.ok else FAILED

    @property
    def exit_code(self) -> int:
        return 2 if self.run is None else self.run.exit_code

    def problems(self) -> list[CaseResult]:
        """The cases that failed, errored or timed out, in catalogue order."""
        return [r for r in self.run.results if r.status in BAD] if self.run else []

    def first_problem(self) -> str:
        """One line for a summary row: the load error, or the first bad case and what went wrong.

        ``lecture_neuron (fail): your tanh derivative equals 1 − x² ... -- Value.tanh._backward()
        at engine.py:74``: the misconception when the checker named one, else the verdict's own
        explanation (which ends with the diagnosis: "... a backward overwrites gradients (`=`)
        ..."), else the first number that disagrees; then the engine's function and line; and,
        when the budget stopped the check early, why (``gave up after 4 timed-out cases``).
        """
        if self.run is None:
            return self.error or "cannot be loaded"
        bad = self.problems()
        if not bad:
            return ""
        first = bad[0]
        what = first.misconception or first.detail.split("\n", 1)[0] or mismatch_line(first)
        line = f"{first.name} ({first.status})" + (f": {what}" if what else "")
        if first.source is not None:
            function = f"{first.source.function}() at " if first.source.function else ""
            line += f" -- {function}{Path(first.source.file).name}:{first.source.line}"
        stopped = gave_up(self.run.results)
        if stopped and not first.detail.startswith(NOT_RUN):
            line += f"; {stopped}"
        return line

    def counts(self) -> str:
        """``3 fail, 18 pass, 1 note`` -- the statuses present, in the summary's order."""
        if self.run is None:
            return ""
        return ", ".join(f"{n} {status}" for status, n in self.run.summary.items() if n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "error": self.error,
            "run": self.run.to_dict() if self.run else None,
        }


@dataclass
class BatchRun:
    """The outcome of every target, in the order they were given."""

    outcomes: list[TargetOutcome]
    seconds: float = field(default=0.0, repr=False)

    @property
    def exit_code(self) -> int:
        return max((o.exit_code for o in self.outcomes), default=0)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def tally(self) -> dict[str, int]:
        counts = {OK: 0, FAILED: 0, UNLOADABLE: 0}
        for outcome in self.outcomes:
            counts[outcome.verdict] += 1
        return counts

    def summary_line(self) -> str:
        """``FAIL 3 targets: 1 OK, 1 FAIL, 1 cannot load (seed 1234)`` -- no timing, so it is reproducible;
        the seed every target's inputs were drawn from, for ``--seed`` to replay the batch."""
        n = len(self.outcomes)
        counts = ", ".join(f"{k} {verdict}" for verdict, k in self.tally.items() if k)
        seeds = {o.run.seed for o in self.outcomes if o.run is not None and o.run.seed is not None}
        seed = f" (seed {seeds.pop()})" if len(seeds) == 1 else ""
        return f"{'OK' if self.ok else 'FAIL'} {n} target{'' if n == 1 else 's'}: {counts}{seed}"

    def to_dict(self) -> dict[str, Any]:
        """Every target in one document; each run keeps the single-target schema (`CheckRun.to_dict`)."""
        return {
            "targets": [o.to_dict() for o in self.outcomes],
            "summary": self.tally,
            "exit_code": self.exit_code,
        }

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        return write_atomic(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")


# (target, case, result or None when the case starts) -- what a progress display needs.
BatchProgress = Callable[[str, Case, "CaseResult | None"], None]
Check = Callable[..., CheckRun]


class Cancelled(BaseException):
    """Raised into a checking thread at its next case once the batch is interrupted.

    A BaseException, so that no ``except Exception`` on the way (the checker's, an
    engine's) swallows it; `check_engine`'s cleanup closes that target's worker.
    """


def run_batch(
    targets: Sequence[str],
    *,
    jobs: int = 1,
    check: Check = check_target,
    progress: BatchProgress | None = None,
    on_done: Callable[[TargetOutcome], None] | None = None,
    **options: Any,
) -> BatchRun:
    """Check every target, ``jobs`` at a time; ``options`` go to each `check_target` call as they are,
    with ``classmates``: the files of the other targets, which its worker never gets.

    ``progress`` is called from the checking threads (rich's progress display is
    thread-safe); ``on_done`` once per target as it finishes. Duplicates are checked once.
    Interrupted (Ctrl-C), the targets not started are dropped and the running ones stop at
    their next case, so the command ends in moments rather than after the whole class.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    began = time.perf_counter()
    unique = list(dict.fromkeys(targets))
    files = {t: head for t in unique if (head := t.rpartition(":")[0]).endswith((".py", ".ipynb"))}
    lock = threading.Lock()
    stop = threading.Event()

    def one(target: str) -> TargetOutcome:
        def report(case: Case, result: CaseResult | None) -> None:
            if stop.is_set():
                raise Cancelled
            if progress is not None:
                progress(target, case, result)

        started = time.perf_counter()
        try:
            # The other submissions' files are never copied into this one's worker (docs/sandbox.md).
            classmates = [f for t, f in files.items() if t != target]
            run = check(target, progress=report, classmates=classmates, **options)
            outcome = TargetOutcome(target, run=run)
        except TargetError as exc:
            outcome = TargetOutcome(target, error=str(exc))
        except Exception as exc:  # the checker's own trouble with one target must not end the batch
            outcome = TargetOutcome(target, error=f"the check could not run: {type(exc).__name__}: {exc}")
        outcome.seconds = time.perf_counter() - started
        if on_done is not None:
            with lock:
                on_done(outcome)
        return outcome

    pool = ThreadPoolExecutor(max_workers=min(jobs, max(len(unique), 1)))
    try:
        futures = [pool.submit(one, target) for target in unique]
        pending = set(futures)
        while pending:  # waking up now and then lets Ctrl-C reach this thread (a lock wait may not)
            _, pending = wait(pending, timeout=0.25)
        outcomes = [future.result() for future in futures]
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return BatchRun(outcomes, time.perf_counter() - began)
