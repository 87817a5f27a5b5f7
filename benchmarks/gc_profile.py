"""Where the garbage collector's time goes, per engine: the evidence for the GC policy.

    python -m benchmarks.gc_profile [WORKLOAD] [ROUNDS]   (default: moons-step, 5)

For each engine, under each GC policy, prints how many collections of each generation
one run triggers and how long its full (generation-2) collections paused it. Each
policy runs in a fresh process, as in ``make bench``.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from typing import Any

from benchmarks import gc_policy
from benchmarks.suite import ENGINES, WORKLOADS_BY_NAME


class FullCollectionClock:
    """A `gc.callbacks` entry adding up the time spent in generation-2 collections."""

    def __init__(self) -> None:
        self.total = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif info["generation"] == 2:
            self.total += time.perf_counter() - self._start


def profile(workload: str, rounds: int, policy: str) -> None:
    w = WORKLOADS_BY_NAME[workload]
    tracked = gc_policy.apply(policy)
    print(f"{policy} GC, {tracked:,} tracked objects after the imports")
    for engine in (e for e in w.engines if e in ENGINES):
        run = w.make(engine)
        run()
        clock = FullCollectionClock()
        before = [s["collections"] for s in gc.get_stats()]
        gc.callbacks.append(clock)
        start = time.perf_counter()
        for _ in range(rounds):
            run()
        elapsed = (time.perf_counter() - start) / rounds
        gc.callbacks.remove(clock)
        per_run = [(s["collections"] - b) / rounds for s, b in zip(gc.get_stats(), before)]
        print(
            f"  {engine:13s} {elapsed * 1e3:8.1f} ms per run; collections per run: "
            f"gen0 {per_run[0]:.0f}, gen1 {per_run[1]:.1f}, gen2 {per_run[2]:.1f}; "
            f"full collections {clock.total / rounds * 1e3:.1f} ms of it"
        )


def main(argv: list[str]) -> None:
    workload = argv[0] if argv else "moons-step"
    rounds = argv[1] if len(argv) > 1 else "5"
    if len(argv) > 2:  # the child process: one policy
        profile(workload, int(rounds), argv[2])
        return
    print(f"{workload}, mean of {rounds} runs per engine")
    for policy in gc_policy.POLICIES:
        command = [sys.executable, "-m", "benchmarks.gc_profile", workload, rounds, policy]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
