"""A class's submissions in one command: how many single checks' time do 21 engines cost?

The goal (the classroom issue): 21 submissions, 20 correct and 1 with the lecture's `=`
bug, checked by ``twingrad check 'subs/*/engine.py:Value' -j 2`` in at most 5x the time
of one ``twingrad check engine.py:Value``, on a 2-core machine. Both are timed as a user
runs them, whole commands in a fresh process, so interpreter start, the parent's imports
and every worker's start-up count. ``make bench`` appends the line this prints to its
table; ``python -m benchmarks.batch [SUBMISSIONS [ROUNDS]]`` runs it alone.
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
RIGHT = "self.grad += out.grad\n            other.grad += out.grad"
WRONG = "self.grad = out.grad\n            other.grad = out.grad"  # __add__'s backward, the classic bug


def submissions(folder: Path, count: int) -> None:
    """``count`` folders with an engine.py each: all correct but the last."""
    source = ENGINE.read_text()
    assert source.count(RIGHT) == 1, "lecture.py changed: update the bug this benchmark plants"
    for k in range(count):
        engine = folder / "subs" / f"s{k:02d}" / "engine.py"
        engine.parent.mkdir(parents=True)
        engine.write_text(source.replace(RIGHT, WRONG) if k == count - 1 else source)


def timed(args: list[str], cwd: Path) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "twingrad.cli", "check", *args], cwd=cwd,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, done.returncode, (done.stdout.splitlines() or [done.stderr])[-1]


def main(count: int = 21, rounds: int = 3, jobs: int = 2) -> None:
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


if __name__ == "__main__":
    main(*map(int, sys.argv[1:3]))
