"""Docs that cannot drift: every code block of README.md and benchmarks/README.md runs on
its own, and every benchmark figure they quote is the recorded run's.

A ```python block is executed in a fresh namespace, in a temporary directory (nothing
from another block is visible to it); a block that defines pytest tests is run by
pytest. A ```sh block's `make` targets must exist. A block preceded by the line

    <!-- docs-test: skip. ... -->

is left out; the marker is only allowed in the "Check your own engine" section, whose
blocks are being rewritten (this test asserts both).

The recorded benchmark run is `notebooks/data/bench-*.json` (what notebook 05 shows);
`twingrad.bench` turns it into the table and ratios quoted in prose.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

from twingrad.bench import (
    COMPARE_TARGET,
    PARITY_COMPARE,
    compare_cost,
    format_ratio,
    format_time,
    load,
    table,
)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BENCH_README = ROOT / "benchmarks" / "README.md"
RECORDED = [ROOT / "notebooks" / "data" / f"bench-{policy}.json" for policy in ("frozen", "default")]
SKIP = "<!-- docs-test: skip."
EXAMPLES = ROOT / "docs" / "examples"


def blocks(path: Path) -> list[tuple[str, str, bool, str]]:
    """``(language, code, skipped, section)`` of every fenced block with a language."""
    text = path.read_text()
    found = []
    fence = r"^(?P<before>[^\n]*)\n```(?P<lang>python|sh)\n(?P<code>.*?)^```$"
    for match in re.finditer(fence, text, re.S | re.M):
        before = text[: match.start("lang")]
        section = before[before.rfind("\n## ") + 1 :].split("\n", 1)[0]
        skipped = match.group("before").startswith(SKIP)
        found.append((match.group("lang"), match.group("code"), skipped, section))
    return found


def python_blocks() -> list[tuple[str, str]]:
    return [
        (f"{path.name}:{k}", code)
        for path in (README, BENCH_README)
        for k, (lang, code, skipped, _) in enumerate(blocks(path))
        if lang == "python" and not skipped
    ]


def test_no_block_is_skipped() -> None:
    for path in (README, BENCH_README):
        for _, code, skipped, section in blocks(path):
            assert not skipped, (path.name, section, code[:60])
    assert len(python_blocks()) >= 5


@pytest.mark.parametrize(("where", "code"), python_blocks(), ids=[w for w, _ in python_blocks()])
def test_python_block_runs_on_its_own(where: str, code: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    if "def test_" in code:  # a test module: pytest runs it, with the installed plugin
        (tmp_path / "test_block.py").write_text(code)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_block.py"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0 and " passed" in result.stdout, result.stdout + result.stderr
        return
    matplotlib.use("Agg")
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(code, where, "exec"), namespace)
    out = capsys.readouterr().out
    # What the blocks promise in their comments:
    if 'report = compare(n["L"], backward=False)' in code:
        assert namespace["report"].ok and "all 7 nodes agree" in out
    if "compare_training(steps=20)" in code:
        assert namespace["report"].ok and len(namespace["report"].steps) == 20
        assert namespace["n"]["L"].data == pytest.approx(-7.286496, abs=1e-12)  # compare_nudge took the step
    if "run = check_engine(Value, draw=True)" in code:
        assert namespace["run"].ok and namespace["run"].summary["pass"] == 20
        assert "propagates again the gradients" in namespace["run"].result("backward_twice").detail
    if 'save_graph(L, "L.svg")' in code:
        assert (tmp_path / "L.svg").read_text().startswith("<?xml")
        assert namespace["L"].data == pytest.approx(-7.286496, abs=1e-12)


def test_make_targets_in_sh_blocks_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    for path in (README, BENCH_README):
        for lang, code, skipped, _ in blocks(path):
            if lang == "sh" and not skipped:
                for target in re.findall(r"^make (\w+)", code, re.M):
                    assert target in targets, (path.name, target)


# -- figures: the recorded run ------------------------------------------------------------------


def recorded_ratios() -> dict[tuple[str, str, str], str]:
    """``(workload, engine, policy) -> "16.5×"``: every ratio of the recorded run, as printed."""
    results = load(RECORDED)
    out = {}
    for workload in results.workloads:
        for policy, entries in workload.runs.items():
            for engine, entry in entries.items():
                if entry.median is not None and "twingrad" in entries:
                    value = entry.median / entries["twingrad"].median
                    out[workload.name, engine, policy] = format_ratio(value)
    return out


def test_the_latest_figures_block_is_the_recorded_run() -> None:
    text = BENCH_README.read_text()
    block = re.search(r"## Latest figures.*?```\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]
    assert block[: block.index("chart:")] == table(load(RECORDED))


def test_figures_quoted_in_prose_are_the_recorded_runs() -> None:
    ratios = recorded_ratios()

    def one_decimal(workload: str, engine: str, policy: str) -> str:
        return f"{float(ratios[workload, engine, policy].rstrip('×')):.1f}×"

    engines, policies = ("micrograd", "torch scalar"), ("frozen", "default")
    moons = {(e, p): one_decimal("moons-step", e, p) for e in engines for p in policies}
    readme = " ".join(README.read_text().split())
    assert (
        f"twingrad was {moons['micrograd', 'frozen'].rstrip('×')}× faster than micrograd and "
        f"{moons['torch scalar', 'frozen'].rstrip('×')}× faster than torch scalar autograd"
    ) in readme
    mg, ts = moons["micrograd", "default"], moons["torch scalar", "default"]
    assert f"and {mg} and {ts} in a process" in readme
    cost = compare_cost(load(RECORDED))
    frozen, default = (format_ratio(cost[p]) for p in ("frozen", "default"))
    assert f"`compare` cost {frozen} what torch alone takes" in readme
    assert f"{default} with the default GC" in readme
    bench = BENCH_README.read_text()
    for engine in engines:
        rows = [line for line in bench.splitlines() if line.startswith("| moons step: ≥ ")]
        row = next(line for line in rows if engine in line)
        assert f"| **{moons[engine, 'frozen']}** (" in row and f"| {moons[engine, 'default']} (" in row
    cells = []
    for policy in ("frozen", "default"):
        rows = next(w for w in load(RECORDED).workloads if w.name == PARITY_COMPARE).runs[policy]
        mine, theirs = (format_time(rows[e].median) for e in ("twingrad", "torch scalar"))
        met = "met" if cost[policy] <= COMPARE_TARGET else "not met"
        cells.append(f"({mine} vs {theirs}; {met})")
    assert f"**{frozen}** {cells[0]} | {default} {cells[1]}" in bench


def test_the_node_count_quoted_is_the_moons_step_graph() -> None:
    from benchmarks.workloads import MOONS, TWINGRAD, demo_model, moons_loss, port

    from twingrad.graph import trace

    loss, _ = moons_loss(TWINGRAD, port(demo_model(), TWINGRAD), *MOONS)
    count = f"{len(trace(loss).nodes):,}"
    assert count == "65,818"
    for path in (README, BENCH_README):
        text = path.read_text()
        others = re.findall(r"\b6\d,\d{3} (?:twingrad )?nodes", text.replace(count, ""))
        assert count in text and not others, (path, others)


# -- the check's example: a real run ---------------------------------------------------------------


def _check_example(engine: Path, tmp_path: Path) -> list[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "twingrad.cli",
            "check",
            f"{engine.name}:Value",
            "--svg",
            str(tmp_path / "drawings"),
        ],
        cwd=engine.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return [line.rstrip() for line in done.stdout.splitlines()]


def test_the_check_example_in_the_readme_is_a_real_run(tmp_path: Path) -> None:
    text = README.read_text()
    start = text.index("$ twingrad check my_engine.py:Value --svg drawings\n")
    excerpt = text[start : text.index("```", start)].splitlines()[1:]
    real = _check_example(EXAMPLES / "my_engine.py", tmp_path)
    shown = [
        line.rstrip() for line in excerpt if line.strip() and not line.startswith(("│ …", "…", "drawn:"))
    ]
    missing = [line for line in shown if line not in real]
    assert not missing, "\n".join(missing)
    assert real[-1] == shown[-1]  # the summary line, exactly
    fixed = tmp_path / "fixed" / "my_engine.py"
    fixed.parent.mkdir()
    source = (EXAMPLES / "my_engine.py").read_text()
    repaired = source.replace(
        "self.grad = 1.0 * out.grad  # the classic bug: = where += belongs", "self.grad += out.grad"
    )
    repaired = repaired.replace("other.grad = 1.0 * out.grad", "other.grad += out.grad")
    assert repaired != source
    fixed.write_text(repaired)
    summary = _check_example(fixed, tmp_path)[-1]
    assert f"`{summary}`" in text  # "Fix the `=` and the last line reads ..."


def test_the_javascript_adapters_size_is_the_files() -> None:
    lines = len((ROOT / "examples" / "javascript" / "adapter.js").read_text().splitlines())
    assert f"its adapter ({lines} lines," in README.read_text()
