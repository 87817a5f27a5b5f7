"""What the sandbox adds to starting a worker: `Sandbox` vs a plain Popen of ``python -c pass``.

Both are run alternately, so that a change of the machine's load hits both alike. Wall
time depends on that load; the CPU time of the children (user + system, from getrusage)
much less, so both are printed. ``python -m benchmarks.sandbox_launch [rounds]``.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from twingrad.check.sandbox import Sandbox


def _plain() -> None:
    subprocess.Popen([sys.executable, "-c", "pass"]).wait()


def _sandboxed() -> None:
    with Sandbox([sys.executable, "-c", "pass"]) as box:
        box.start()
        assert box.receive(10.0) is None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(rounds: int = 40) -> None:
    launches: dict[str, Callable[[], None]] = {"plain Popen": _plain, "Sandbox": _sandboxed}
    _sandboxed()  # warm the page cache, and learn which containment works here
    wall: dict[str, list[float]] = {name: [] for name in launches}
    cpu = dict.fromkeys(launches, 0.0)
    for _ in range(rounds):
        for name, launch in launches.items():
            began, began_cpu = time.perf_counter(), _children_cpu()
            launch()
            wall[name].append(time.perf_counter() - began)
            cpu[name] += _children_cpu() - began_cpu
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python -c pass, {rounds} launches each, load average {load}")
    for name, times in wall.items():
        print(f"{name:12} wall median {statistics.median(times) * 1e3:6.1f} ms, "
              f"min {min(times) * 1e3:6.1f} ms; children's CPU {cpu[name] / rounds * 1e3:5.1f} ms per launch")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
