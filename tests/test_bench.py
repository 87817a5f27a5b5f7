"""``twingrad bench``: ratio tables and the chart from pytest-benchmark JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from twingrad.bench import format_ratio, format_time, load, table
from twingrad.cli import main


def _bench(workload: str, engine: str, median: float, **extra: Any) -> dict[str, Any]:
    return {
        "group": f"{workload} title",
        "name": f"test_workload[{workload}-{engine}]",
        "extra_info": {"workload": workload, "engine": engine, "note": "", **extra},
        "stats": {"median": median, "rounds": 5},
    }


def _results(tmp_path: Path, policy: str, benchmarks: list[dict[str, Any]]) -> Path:
    machine = {"gc_policy": policy, "nproc": 2, "cpu_model": "Test CPU", "python": "3.11.7",
               "torch": "2.13.0", "load_at_start": [0.5, 0.4, 0.3], "load_at_end": [1.25, 1, 1],
               "gc_tracked_objects_at_start": 1234}
    path = tmp_path / f"{policy}.json"
    commit = {"id": "0123456789abcdef", "dirty": False}
    data = {"machine_info": {"twingrad": machine}, "commit_info": commit, "benchmarks": benchmarks}
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def two_runs(tmp_path: Path) -> list[Path]:
    frozen = _results(tmp_path, "frozen", [
        _bench("step", "twingrad", 0.050),
        _bench("step", "micrograd", 1.0),
        _bench("step", "torch vectorised", 0.0004),
        _bench("deep", "twingrad", 0.1),
        _bench("deep", "micrograd", 0.2, error="RecursionError"),
        _bench("train", "twingrad", 5.0, accuracy=1.0, steps=100, **{"median step": 0.05}),
    ])
    default = _results(tmp_path, "default", [
        _bench("step", "twingrad", 0.125),
        _bench("step", "micrograd", 1.25),
        _bench("train", "twingrad", 9.0, accuracy=1.0, steps=100, **{"median step": 0.09}),
    ])
    return [frozen, default]


def test_formats_keep_three_significant_digits() -> None:
    assert format_time(0.0568) == "56.8 ms"
    assert format_time(1.234) == "1.23 s"
    assert format_time(8.72e-6) == "8.72 µs"
    assert format_time(123.4) == "123 s"
    assert format_ratio(20.0) == "20.0×"
    assert format_ratio(0.00632) == "0.00632×"
    assert format_ratio(None) == ""


def test_table_puts_policies_side_by_side_with_ratios(two_runs: list[Path]) -> None:
    text = table(load(two_runs))
    lines = text.splitlines()
    assert lines[0] == ("frozen GC: 2 cores, Test CPU, Python 3.11.7, torch 2.13.0, load 0.50 -> 1.25, "
                        "1,234 GC-tracked objects at start, commit 01234567")
    step = lines.index("step title")
    assert " ".join(lines[step + 1].split()) == "engine frozen GC ÷ twingrad default GC ÷ twingrad"
    assert lines[step + 2].split() == ["twingrad", "50.0", "ms", "1.00×", "125", "ms", "1.00×"]
    assert lines[step + 3].split() == ["micrograd", "1.00", "s", "20.0×", "1.25", "s", "10.0×"]
    assert lines[step + 4].split() == ["torch", "vectorised", "(context)", "400", "µs", "0.00800×", "-"]


def test_a_failure_is_shown_in_place_of_a_time(two_runs: list[Path]) -> None:
    text = table(load(two_runs))
    micrograd_deep = text.split("deep title")[1].splitlines()[3]
    assert micrograd_deep.split() == ["micrograd", "RecursionError", "-"]
    # figures shared by both runs appear once, the others once per policy
    assert "accuracy 100%, steps 100, median step 50.0 ms (frozen) / 90.0 ms (default)" in text


def test_one_file_per_policy(two_runs: list[Path]) -> None:
    with pytest.raises(ValueError, match="second results file for GC policy 'frozen'"):
        load([two_runs[0], two_runs[0]])


def test_cli_prints_the_table_and_draws_the_chart(two_runs: list[Path], tmp_path: Path, capsys) -> None:
    png = tmp_path / "chart.png"
    assert main(["bench", *map(str, two_runs), "--chart", str(png)]) == 0
    out = capsys.readouterr().out
    assert "step title" in out and f"chart: {png}" in out
    assert png.read_bytes().startswith(b"\x89PNG")


def test_cli_without_results_says_how_to_get_them(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["bench"]) == 1
    assert "make bench" in capsys.readouterr().out
