"""twingrad's moons step in a process that has imported neither torch nor micrograd.

The suite's ``frozen`` GC policy stands for what such a process sees; this measures it
directly, with CPython's collector left as it is. ``make bench`` prints its line
after the tables: it should sit near the frozen figure, not the default one.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

from benchmarks.workloads import TWINGRAD, moons_step


def main(rounds: int = 20) -> None:
    run = moons_step(TWINGRAD)
    run()  # warm up, as pytest-benchmark's calibration does
    loaded = [m for m in ("torch", "micrograd") if m in sys.modules]
    assert not loaded, f"{loaded} got imported: this figure must come from a process without them"
    tracked = len(gc.get_objects())
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    print(
        f"moons step, twingrad alone (no torch or micrograd imported, default GC, {tracked:,} tracked "
        f"objects): median {statistics.median(times) * 1e3:.1f} ms, min {min(times) * 1e3:.1f} ms, "
        f"{rounds} rounds"
    )


if __name__ == "__main__":
    main(*map(int, sys.argv[1:2]))
