"""``twingrad check micrograd.engine:Value``, timed as a learner runs it: the whole command.

The goal (the trusted-check issue): checking PyPI micrograd's engine in at most 1.0 s of
wall time on a 2-core machine, with the engine sandboxed in its own worker. The command
runs in a fresh process each round, so the interpreter's start, the parent's imports and
the worker's start-up count. ``make bench`` appends the line this prints to its table;
``python -m benchmarks.check_one [ROUNDS]`` runs it alone.
"""

from __future__ import annotations

import statistics
import sys

from .batch import timed

TARGET = "micrograd.engine:Value"
GOAL = 1.0  # seconds


def main(rounds: int = 7) -> None:
    from pathlib import Path

    runs = [timed([TARGET], Path.cwd()) for _ in range(rounds)]
    assert all(code == 0 for _, code, _ in runs), runs
    seconds = sorted(s for s, _, _ in runs)
    median = statistics.median(seconds)
    print(
        f"twingrad check {TARGET}: {median:.2f} s wall (median of {rounds}, fastest {seconds[0]:.2f} s; "
        f"goal <= {GOAL:g} s: {'met' if median <= GOAL else 'missed'}); last line: {runs[-1][2]}"
    )


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
