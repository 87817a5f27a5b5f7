"""A target's time budget: one engine that hangs costs its class seconds, not minutes.

A case takes milliseconds, so a case that times out says more about the engine than
about the case: a ``backward()`` that loops forever hangs every case that calls it. The
rule (docs/class.md, "One stuck student"):

1. every request to the worker waits at most ``--timeout`` (default 10 s) -- the first
   two cases that time out have had the whole of it;
2. after `FULL_TIMEOUTS` timed-out cases, each later request waits at most
   `SHORT_TIMEOUT` (1 s, or ``--timeout`` if that is shorter): a healthy case still
   passes in that time, a hanging one costs one second;
3. after `GIVE_UP_AFTER` timed-out cases, or once ``--target-timeout`` seconds (default
   60) have passed since the target's check began, its remaining cases are not run: each
   is ``timeout`` with "not run: gave up ...", and the target fails.

No wait ever runs past the budget's end: a request is given what is left of it when
that is less. Loading the engine again after a timeout has its own ``--timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .cases import Case
from .result import TIMEOUT, CaseResult
from .worker import WorkerTimeoutError

DEFAULT_TARGET_TIMEOUT = 60.0  # seconds per target: a whole check takes about one
SHORT_TIMEOUT = 1.0  # per request once the engine has timed out twice; a case takes milliseconds
FULL_TIMEOUTS = 2  # timed-out cases that had the whole --timeout
GIVE_UP_AFTER = 4  # timed-out cases after which the rest are not run
NOT_RUN = "not run: "  # how the detail of a case the budget skipped begins


class BudgetSpentError(WorkerTimeoutError):
    """A request found the target's budget spent, or overran what was left of it."""

    def __init__(self, target_timeout: float, at: int | None = None) -> None:
        super().__init__(target_timeout, at)
        self.args = (f"the target's time ran out (--target-timeout {target_timeout:g} s)",)


class Budget:
    """The waits of one target's check: how long the next request may take, and when to give up."""

    def __init__(self, timeout: float, target_timeout: float, clock: Callable[[], float] = time.monotonic):
        self.timeout = timeout
        self.target_timeout = target_timeout
        self._clock = clock
        self._began = clock()
        self._capped = False  # the last request was given what was left of the budget, not its timeout
        self.timeouts = 0  # cases that timed out so far
        self.reason: str | None = None  # why the remaining cases are not run, once given up

    def left(self) -> float:
        return self.target_timeout - (self._clock() - self._began)

    def case_timeout(self) -> float:
        """What one request may wait before the budget's end is counted: rule 1 or 2."""
        return self.timeout if self.timeouts < FULL_TIMEOUTS else min(self.timeout, SHORT_TIMEOUT)

    def request_timeout(self) -> float:
        """The wait for the next request; `BudgetSpentError` when nothing is left."""
        left, wait = self.left(), self.case_timeout()
        if left <= 0:
            raise BudgetSpentError(self.target_timeout)
        self._capped = left < wait
        return min(left, wait)

    def timed_out(self, exc: WorkerTimeoutError) -> WorkerTimeoutError:
        """The error to report for a request that timed out: the budget's, when it was the limit."""
        return BudgetSpentError(self.target_timeout, exc.at) if self._capped else exc

    def give_up(self) -> str | None:
        """Why the next case is not run (rule 3), or None: asked before each case."""
        if self.reason is None and self.left() <= 0:
            self.reason = f"gave up after {self.target_timeout:g} s (--target-timeout)"
        return self.reason

    def record(self, result: CaseResult) -> None:
        """Count a case that timed out (and was run: a skipped one counts for nothing)."""
        if result.status != TIMEOUT or result.detail.startswith(NOT_RUN):
            return
        self.timeouts += 1
        if self.reason is None and self.timeouts >= GIVE_UP_AFTER:
            self.reason = f"gave up after {self.timeouts} timed-out cases"

    def not_run(self, case: Case) -> CaseResult:
        assert self.reason is not None
        return CaseResult(case.name, case.ops, TIMEOUT, f"{NOT_RUN}{self.reason}")


def gave_up(results: list[CaseResult]) -> str | None:
    """``gave up after 60 s (--target-timeout)``, when the budget stopped a check early, else None."""
    for result in results:
        if result.status == TIMEOUT and result.detail.startswith(NOT_RUN):
            return result.detail[len(NOT_RUN):]
    return None
