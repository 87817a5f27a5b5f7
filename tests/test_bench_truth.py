"""``make bench`` tells the truth: a workload that failed has no time anywhere, and the summary comes first.

The suite runs an expected failure (micrograd's recursion on a deep chain) once, outside
pytest-benchmark's timer, and lists it apart in the results file; ``twingrad bench``
shows its error where a time would be, in the tables and the chart. ``--summary`` prints
the ratios that matter, which ``make bench`` puts above everything else.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from twingrad.bench import load, summary, table
from twingrad.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, policy: str, k: str) -> Path:
    out = tmp_path / f"{policy}.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/test_workloads.py", "-p", "no:nbval", "-q", "-k", k,
         "--benchmark-only", "--benchmark-min-rounds=1", "--benchmark-max-time=0.01",
         f"--gc-policy={policy}", f"--benchmark-json={out}", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_a_workload_that_raised_is_recorded_apart_and_shown_as_its_error(tmp_path: Path) -> None:
    # micrograd fails the deep chain at any depth above ~1000; seed runs on every engine, quickly.
    path = _run(tmp_path, "frozen", "deep-100k-micrograd or seed-twingrad or seed-micrograd")
    data = json.loads(path.read_text())
    timed = {b["extra_info"]["workload"] + "/" + b["extra_info"]["engine"] for b in data["benchmarks"]}
    assert timed == {"seed/twingrad", "seed/micrograd"}  # no time was taken for the failure
    [failed] = data["failed"]
    expected = {"workload": "deep-100k", "engine": "micrograd", "error": "RecursionError"}
    assert {k: failed[k] for k in expected} == expected
    results = load([path])
    text = table(results)
    block = text[text.index("deep chain x + 1 + 1 ..., 10^5 deep"):]
    [row] = [line for line in block.splitlines() if line.strip().startswith("micrograd")]
    assert row.split() == ["micrograd", "RecursionError"]  # no time, no ratio
    assert not re.search(r"\d+(\.\d+)? (s|ms|µs)", row)


def test_the_summary_gives_the_ratios_that_matter_per_policy(tmp_path: Path, capsys) -> None:
    recorded = [ROOT / "notebooks" / "data" / f"bench-{p}.json" for p in ("frozen", "default")]
    results = load(recorded)
    lines = summary(results).splitlines()
    assert lines[0].split() == ["summary", "frozen", "GC", "default", "GC"]
    assert [line.split(":")[0].strip() for line in lines[1:3]] == ["moons step"] * 2
    assert "micrograd" in lines[1] and "torch scalar" in lines[2]
    assert lines[3].strip().startswith("parity.compare ÷ torch alone")
    # The same ratios the full table gives for the moons step.
    moons = table(results).split("moons training step")[1].split("\n\n")[0]
    [micrograd] = [line for line in moons.splitlines() if line.strip().startswith("micrograd")]
    assert micrograd.split()[3] == lines[1].split()[-2]  # frozen GC's ratio
    assert main(["bench", "--summary", *map(str, recorded)]) == 0
    assert capsys.readouterr().out == summary(results)


def test_make_bench_prints_the_summary_first_and_keeps_pytest_in_a_log() -> None:
    recipe = subprocess.run(["make", "-n", "--no-print-directory", "bench", "VENV=/nonexistent"], cwd=ROOT,
                            capture_output=True, text=True).stdout
    lines = [line for line in recipe.splitlines() if line.strip()]
    pytest_line = next(line for line in lines if "-m pytest" in line)
    assert '-k "moons-step or parity-compare"' in pytest_line
    assert "> benchmarks/results/pytest-" in pytest_line  # pytest's own lines go to a log
    assert [m for line in lines for m in re.findall(r"-m (benchmarks\.\w+)", line)] == [
        "benchmarks.alone", "benchmarks.check_one", "benchmarks.batch"]
    composed = next(line for line in lines if "bench --summary" in line)
    assert composed.index("bench --summary") < composed.index("scripts.txt") < composed.index("--chart")
    assert lines[-1] == "cat benchmarks/results/table.txt"
    full = subprocess.run(["make", "-n", "--no-print-directory", "bench-full", "VENV=/nonexistent"], cwd=ROOT,
                          capture_output=True, text=True).stdout
    assert "-k" not in next(line for line in full.splitlines() if "-m pytest" in line)
