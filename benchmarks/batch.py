"""A class's submissions in one command: how many single checks' time do 21 engines cost?

The goal (the classroom issue): 21 submissions, 20 correct and 1 with the lecture's `=`
bug, checked by ``twingrad check 'subs/*/engine.py:Value' -j 2`` in at most 5x the time
of one ``twingrad check engine.py:Value``, on a 2-core machine. Both are timed as a user
runs them, whole commands in a fresh process, so interpreter start, the parent's imports
and every worker's start-up count.

Then the same class with a student whose ``backward()`` never returns instead of the
wrong one, with the default options: the per-target budget (`twingrad.check.budget`)
must keep it well under a minute (before the budget: 26 cases x 10 s each). One round:
it is the slow one. ``make bench`` appends the lines this prints to its table;
``python -m benchmarks.batch [SUBMISSIONS [ROUNDS [OPTION...]]]`` runs it alone, the
options (``--timeout 0.5``) given to the stuck class's command instead of the defaults.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "tests" / "engines" / "classroom" / "lecture.py"
GOAL = 5.0
STUCK_GOAL = 60.0  # seconds for the class with one endless backward(): "well under a minute"
RIGHT = "self.grad += out.grad\n            other.grad += out.grad"
WRONG = "self.grad = out.grad\n            other.grad = out.grad"  # __add__'s backward, the classic bug
BACKWARD = "    def backward(self):\n"
LOOPING = BACKWARD + "        while True:  # never returns\n            pass\n"


def submissions(folder: Path, count: int, bug: tuple[str, str] = (RIGHT, WRONG)) -> None:
    """``count`` folders with an engine.py each: all correct but the last, which has ``bug``
    (the text it replaces, and its replacement)."""
    source = ENGINE.read_text()
    assert source.count(bug[0]) == 1, "lecture.py changed: update the bug this benchmark plants"
    for k in range(count):
        engine = folder / "subs" / f"s{k:02d}" / "engine.py"
        engine.parent.mkdir(parents=True)
        engine.write_text(source.replace(*bug) if k == count - 1 else source)


def timed(args: list[str], cwd: Path) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "twingrad.cli", "check", *args], cwd=cwd,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, done.returncode, (done.stdout.splitlines() or [done.stderr])[-1]


def main(count: int = 21, rounds: int = 3, jobs: int = 2, stuck_options: tuple[str, ...] = ()) -> None:
    with tempfile.TemporaryDirectory(prefix="twingrad-batch-") as name:
        folder = Path(name)
        submissions(folder, count)
        one = [timed(["subs/s00/engine.py:Value"], folder) for _ in range(rounds)]
        assert all(code == 0 for _, code, _ in one), one
        many = [timed(["subs/*/engine.py:Value", "-j", str(jobs)], folder) for _ in range(rounds)]
        assert all(code == 1 for _, code, _ in many), many  # the wrong one fails, and only that
    single = statistics.median(s for s, _, _ in one)
    batch = statistics.median(s for s, _, _ in many)
    ratio = batch / single
    print(
        f"twingrad check on {count} submissions ({count - 1} correct, 1 wrong) with -j {jobs}: "
        f"{batch:.1f} s, one submission alone {single:.1f} s (medians of {rounds}): {ratio:.1f}x one check "
        f"(goal <= {GOAL:g}x: {'met' if ratio <= GOAL else 'missed'}); last line: {many[-1][2]}"
    )
    stuck(count, jobs, stuck_options)


def stuck(count: int, jobs: int, options: tuple[str, ...] = ()) -> None:
    """The class with an endless backward() in place of the wrong engine, once (default options)."""
    with tempfile.TemporaryDirectory(prefix="twingrad-stuck-") as name:
        folder = Path(name)
        submissions(folder, count, (BACKWARD, LOOPING))
        seconds, code, last = timed(["subs/*/engine.py:Value", "-j", str(jobs), *options], folder)
        assert code == 1, last
    shown = " ".join(options) or "default options"
    print(
        f"twingrad check on {count} submissions ({count - 1} correct, 1 whose backward() never returns) "
        f"with -j {jobs}, {shown}: {seconds:.1f} s (goal < {STUCK_GOAL:g} s: "
        f"{'met' if seconds < STUCK_GOAL else 'missed'}); last line: {last}"
    )


if __name__ == "__main__":
    main(*map(int, sys.argv[1:3]), stuck_options=tuple(sys.argv[3:]))
