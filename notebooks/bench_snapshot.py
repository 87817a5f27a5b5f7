"""Copy the results of ``make bench`` into ``notebooks/data/`` for notebook 05, slimmed.

pytest-benchmark's JSON keeps every timing of every round (megabytes). Notebook 05 needs
what `twingrad.bench.load` reads -- the machine and commit the run recorded, and each
benchmark's group, name, extra info and summary statistics -- so that is what is kept;
the numbers themselves are copied unchanged. After a ``make bench`` on a quiet machine:

    .venv/bin/python notebooks/bench_snapshot.py     # then: make notebooks, and commit both
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "benchmarks" / "results"
DATA = HERE / "data"
POLICIES = ("frozen", "default")
KEPT_STATS = ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "rounds", "iterations")


def slim(run: dict) -> dict:
    machine = run.get("machine_info", {})
    return {
        "machine_info": {"twingrad": machine.get("twingrad", {})},
        "commit_info": {k: run.get("commit_info", {}).get(k) for k in ("id", "dirty", "time")},
        "datetime": run.get("datetime"),
        "version": run.get("version"),
        "benchmarks": [
            {
                "group": bench["group"],
                "name": bench["name"],
                "extra_info": bench.get("extra_info", {}),
                "stats": {k: bench["stats"][k] for k in KEPT_STATS if k in bench["stats"]},
            }
            for bench in run.get("benchmarks", [])
        ],
    }


def main(results: Path = RESULTS) -> int:
    DATA.mkdir(exist_ok=True)
    for policy in POLICIES:
        source = results / f"{policy}.json"
        if not source.exists():
            print(f"{source} is missing: run `make bench` first", file=sys.stderr)
            return 1
        target = DATA / f"bench-{policy}.json"
        target.write_text(json.dumps(slim(json.loads(source.read_text())), indent=1) + "\n")
        print(f"{source} -> {target.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS))
