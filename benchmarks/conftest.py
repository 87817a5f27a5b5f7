"""Benchmark session set-up: the garbage-collector policy and what the JSON records.

CPython's full collections walk every tracked object in the process, and ``import
torch`` alone leaves ~165k of them, so there a full collection costs tens of
milliseconds whichever engine triggered it. ``--gc-policy=frozen`` (the default)
freezes the import-time heap first; ``--gc-policy=default`` leaves the collector as it
is. ``make bench`` runs both and reports both (`benchmarks.gc_policy`, README.md).
"""

from __future__ import annotations

import gc
import os
import platform
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import pytest

from benchmarks import gc_policy
from benchmarks.suite import FAILED

# How many objects a full collection would walk when the first benchmark starts.
TRACKED_AT_START = pytest.StashKey[int]()
LOAD_AT_START = pytest.StashKey[tuple[float, float, float]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--gc-policy",
        choices=gc_policy.POLICIES,
        default="frozen",
        help="frozen: gc.freeze() the import-time heap before timing (default); default: leave the GC alone",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Timed runs only: nbval's import (IPython, Jupyter) adds ~138k GC-tracked objects that a
    # process using twingrad and torch does not have, and default-GC timings would walk them.
    timed = config.getoption("benchmark_only", False) and not config.getoption("benchmark_disable", False)
    if timed and config.pluginmanager.has_plugin("nbval"):
        raise pytest.UsageError("time the benchmarks without nbval's heap: add -p no:nbval (make bench does)")


@pytest.fixture(scope="session", autouse=True)
def gc_policy_in_force(request: pytest.FixtureRequest) -> Iterator[str]:
    policy = request.config.getoption("--gc-policy")
    request.config.stash[TRACKED_AT_START] = gc_policy.apply(policy)
    if hasattr(os, "getloadavg"):
        request.config.stash[LOAD_AT_START] = os.getloadavg()
    yield policy
    gc.unfreeze()


@pytest.fixture(autouse=True)
def collect_leftovers() -> None:
    """Collect what the previous test left behind before this one starts.

    micrograd's graphs are cyclic garbage that only the collector frees; without this,
    up to ~1.7M of its dead objects were still waiting when the next benchmark started,
    and that engine paid for collecting them (twingrad's 10^6 chain: 2.3 s alone, 2.9 s
    after micrograd's fan-out).
    """
    gc.collect()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """Each workload an engine failed on, beside the timed ones: ``twingrad bench`` shows its error."""
    output_json["failed"] = config.stash.get(FAILED, [])


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    machine_info["twingrad"] = {
        "gc_policy": config.getoption("--gc-policy"),
        "gc_tracked_objects_at_start": config.stash.get(TRACKED_AT_START, None),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model(),
        # The other engineers' share of the machine: 1-minute load averages.
        "load_at_start": config.stash.get(LOAD_AT_START, None),
        "load_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": version("torch"),
        "micrograd": version("micrograd"),
    }
