"""``twingrad bench``: read pytest-benchmark results, print ratio tables, draw a chart.

The suite itself lives in ``benchmarks/`` (``make bench`` runs it and then this). Each
results file is one run under one garbage-collector policy; the tables put the
policies side by side, and every time is also given as a multiple of twingrad's time
on the same workload in the same run -- the figure that survives a noisy machine.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import write_atomic

BASELINE = "twingrad"
CONTEXT = "torch vectorised"  # not the same graph: shown for context, not as a race
TORCH_SCALAR = "torch scalar"
DEFAULT_RESULTS = ("benchmarks/results/frozen.json", "benchmarks/results/default.json")


@dataclass
class Entry:
    """One engine on one workload in one run: its median time, or the error it raised."""

    engine: str
    median: float | None  # seconds; None when the engine failed
    rounds: int
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class WorkloadResults:
    """One workload's entries, per GC policy and engine."""

    name: str
    title: str
    note: str = ""
    runs: dict[str, dict[str, Entry]] = field(default_factory=dict)  # policy -> engine -> entry

    @property
    def engines(self) -> list[str]:
        seen: dict[str, None] = {}
        for entries in self.runs.values():
            seen.update(dict.fromkeys(entries))
        return list(seen)


@dataclass
class Results:
    policies: list[str]
    workloads: list[WorkloadResults]
    machines: dict[str, dict[str, Any]]  # policy -> what the run recorded about the machine


_INFO_KEYS = ("workload", "engine", "note", "error")


def load(paths: Sequence[str | Path]) -> Results:
    """Merge pytest-benchmark JSON files, one per GC policy, in the order given."""
    policies: list[str] = []
    machines: dict[str, dict[str, Any]] = {}
    workloads: dict[str, WorkloadResults] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        recorded = dict(data.get("machine_info", {}).get("twingrad", {}))
        commit = data.get("commit_info", {})
        if commit.get("id"):
            recorded["commit"] = commit["id"][:8] + ("+dirty" if commit.get("dirty") else "")
        policy = recorded.get("gc_policy") or Path(path).stem
        if policy in machines:
            raise ValueError(f"{path}: a second results file for GC policy {policy!r}")
        policies.append(policy)
        machines[policy] = recorded
        for bench in data.get("benchmarks", []):
            extra = bench.get("extra_info", {})
            name = extra.get("workload", bench["group"])
            title = bench["group"] or name
            workload = workloads.setdefault(name, WorkloadResults(name, title, extra.get("note", "")))
            stats = bench["stats"]
            error = extra.get("error", "")
            workload.runs.setdefault(policy, {})[extra.get("engine", bench["name"])] = Entry(
                engine=extra.get("engine", bench["name"]),
                median=None if error else stats["median"],
                rounds=stats["rounds"],
                error=error,
                info={k: v for k, v in extra.items() if k not in _INFO_KEYS},
            )
        # An engine that raised was never timed: the suite lists it apart (benchmarks/conftest.py).
        for failed in data.get("failed", []):
            name = failed["workload"]
            workload = workloads.setdefault(
                name, WorkloadResults(name, failed["title"], failed.get("note", ""))
            )
            engine = failed["engine"]
            workload.runs.setdefault(policy, {})[engine] = Entry(engine, None, 0, error=failed["error"])
    return Results(policies, list(workloads.values()), machines)


def ratio(entry: Entry, baseline: Entry | None) -> float | None:
    """How many times twingrad's time this entry took (2.0: twingrad is twice as fast)."""
    if entry.median is None or baseline is None or not baseline.median:
        return None
    return entry.median / baseline.median


def format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{_three_digits(seconds / scale)} {unit}"
    return f"{_three_digits(seconds / 1e-9)} ns"


def format_ratio(value: float | None) -> str:
    return "" if value is None else f"{_three_digits(value)}×"


def _three_digits(x: float) -> str:
    """Three significant digits without exponents: 1230, 123, 12.3, 1.23, 0.0123."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def _cell(entry: Entry | None, baseline: Entry | None) -> tuple[str, str]:
    if entry is None:
        return "-", ""
    if entry.error:
        return entry.error, ""
    assert entry.median is not None
    return format_time(entry.median), format_ratio(ratio(entry, baseline))


MEDIAN_STEP = "median step"  # what a training workload reports besides its wall time
TIME_INFO = (MEDIAN_STEP,)  # info values in seconds, which no two runs share


def _format_info(key: str, value: Any) -> str:
    if key in TIME_INFO:
        return format_time(value)
    if key == "accuracy":
        return f"{value:.0%}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _info_text(entries: dict[str, Entry]) -> str:
    """The extra figures of one engine's runs: once if every policy agrees, else per policy."""
    keys = dict.fromkeys(k for entry in entries.values() for k in entry.info)
    parts = []
    for key in keys:
        shown = {p: _format_info(key, e.info[key]) for p, e in entries.items() if key in e.info}
        if len(set(shown.values())) == 1:
            parts.append(f"{key} {next(iter(shown.values()))}")
        else:
            parts.append(f"{key} " + " / ".join(f"{text} ({p})" for p, text in shown.items()))
    return ", ".join(parts)


def table(results: Results) -> str:
    """One block per workload: each engine's median time and its multiple of twingrad's."""
    lines = [machine_line(results), ""]
    header = ["engine"]
    for policy in results.policies:
        header += [f"{policy} GC", "÷ twingrad"]
    for workload in results.workloads:
        rows = [header]
        for engine in workload.engines:
            row = [engine + (" (context)" if engine == CONTEXT else "")]
            runs: dict[str, Entry] = {}
            for policy in results.policies:
                entries = workload.runs.get(policy, {})
                entry = entries.get(engine)
                row += _cell(entry, entries.get(BASELINE))
                if entry is not None:
                    runs[policy] = entry
            rows.append([*row, _info_text(runs)])
        lines.append(workload.title)
        lines.extend(_align(rows))
        if workload.note:
            lines.append(f"  note: {workload.note}")
        if workload.name == PARITY_COMPARE:
            costs = compare_cost(results)
            shown = ", ".join(f"{format_ratio(v)} ({p} GC)" for p, v in costs.items() if v is not None)
            target = f"target ≤ {COMPARE_TARGET}×"
            lines.append(f"  parity.compare costs {shown} what torch alone takes ({target})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


MOONS_STEP = "moons-step"
MICROGRAD = "micrograd"


def summary(results: Results) -> str:
    """The ratios that matter, first: the moons step against micrograd and torch scalar, and
    `parity.compare` against torch alone, per GC policy (a workload not run is left out)."""
    by_name = {w.name: w for w in results.workloads}
    rows = [["summary", *(f"{p} GC" for p in results.policies)]]
    moons = by_name.get(MOONS_STEP)
    for engine in (MICROGRAD, TORCH_SCALAR):
        if moons is not None and engine in moons.engines:
            cells = []
            for policy in results.policies:
                entries = moons.runs.get(policy, {})
                time_text, ratio_text = _cell(entries.get(engine), entries.get(BASELINE))
                cells.append(ratio_text or time_text)  # the ratio; else the error, or "-" if not run
            rows.append([f"moons step: {engine} time ÷ twingrad's", *cells])
    if PARITY_COMPARE in by_name:
        costs = compare_cost(results)
        rows.append([f"parity.compare ÷ torch alone (target ≤ {COMPARE_TARGET}×)",
                     *(format_ratio(costs.get(p)) or "-" for p in results.policies)])
    return "\n".join(_align(rows)) + "\n"


PARITY_COMPARE = "parity-compare"
COMPARE_TARGET = 1.5  # the bound for a full node-by-node check, as a multiple of torch alone


def compare_cost(results: Results) -> dict[str, float | None]:
    """Per GC policy: `parity.compare`'s time on the moons step ÷ torch alone building and
    back-propagating the same graph (the workload's two rows)."""
    costs: dict[str, float | None] = {}
    for workload in results.workloads:
        if workload.name != PARITY_COMPARE:
            continue
        for policy in results.policies:
            entries = workload.runs.get(policy, {})
            torch_alone = entries.get(TORCH_SCALAR)
            value = ratio(torch_alone, entries.get(BASELINE)) if torch_alone is not None else None
            costs[policy] = None if not value else 1.0 / value
    return costs


def _align(rows: list[list[str]]) -> list[str]:
    """Pad columns: the name left-aligned, figures right-aligned, a free-text tail."""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [row[i].rjust(widths[i]) for i in range(1, len(widths))]
        tail = row[len(widths):]
        out.append("  " + "  ".join(cells + tail).rstrip())
    return out


def machine_line(results: Results) -> str:
    """Where the figures came from, per run: cores, CPU, versions, load, commit."""
    parts = []
    for policy in results.policies:
        m = results.machines.get(policy, {})
        loads = [m[k][0] for k in ("load_at_start", "load_at_end") if m.get(k)]
        load_text = f", load {' -> '.join(f'{x:.2f}' for x in loads)}" if loads else ""
        tracked = m.get("gc_tracked_objects_at_start")
        tracked_text = f", {tracked:,} GC-tracked objects at start" if tracked else ""
        commit = m.get("commit")
        commit_text = f", commit {commit}" if commit else ""
        parts.append(
            f"{policy} GC: {m.get('nproc', '?')} cores, {m.get('cpu_model', '?')}, "
            f"Python {m.get('python', '?')}, torch {m.get('torch', '?')}"
            + load_text + tracked_text + commit_text
        )
    return "\n".join(parts)


def chart(results: Results, path: str | Path) -> Path:
    """A PNG of every engine's time as a multiple of twingrad's, one panel per GC policy."""
    # A Figure of its own, not pyplot: the chart never switches the caller's backend
    # (a notebook's inline plots keep working after it).
    from matplotlib.figure import Figure

    workloads = [w for w in results.workloads if len(w.engines) > 1]
    engines = [e for e in _engine_order(workloads) if e != BASELINE]
    colours = dict(zip(engines, ("tab:orange", "tab:red", "tab:gray", "tab:purple")))
    height = 0.8 / max(len(engines), 1)
    fig = Figure(figsize=(6.5 * len(results.policies), 0.55 * len(workloads) + 1.6))
    axes = fig.subplots(1, len(results.policies), sharex=True, sharey=True, squeeze=False)
    labelled: set[str] = set()
    for ax, policy in zip(axes[0], results.policies):
        for i, workload in enumerate(workloads):
            entries = workload.runs.get(policy, {})
            for j, engine in enumerate(engines):
                entry = entries.get(engine)
                if entry is None:
                    continue
                y = i + (j - (len(engines) - 1) / 2) * height
                value = ratio(entry, entries.get(BASELINE))
                if value is None:
                    ax.text(1.05, y, f"{engine}: {entry.error or 'no time'}", va="center", fontsize=7)
                    continue
                label = None if engine in labelled else engine
                labelled.add(engine)
                ax.barh(y, value, height, color=colours[engine], label=label)
                ax.text(value * 1.05, y, format_ratio(value), va="center", fontsize=7)
        ax.axvline(1.0, color="tab:blue", linewidth=1.5, label="twingrad = 1" if ax is axes[0][0] else None)
        ax.set_xscale("log")
        ax.set_title(f"{policy} GC")
        ax.set_xlabel("time ÷ twingrad's time, same workload (log scale; > 1: twingrad faster)")
    axes[0][0].invert_yaxis()  # the axes share y: the first workload on top
    axes[0][0].set_yticks(range(len(workloads)), [w.name for w in workloads])
    m = results.machines.get(results.policies[0], {})
    fig.suptitle(
        f"twingrad benchmarks: {m.get('nproc', '?')} cores {m.get('cpu_model', '?')}, "
        f"Python {m.get('python', '?')}, torch {m.get('torch', '?')}; medians", fontsize=10,
    )
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=100)
    return write_atomic(path, image.getvalue())


def _engine_order(workloads: Sequence[WorkloadResults]) -> list[str]:
    seen: dict[str, None] = {}
    for w in workloads:
        seen.update(dict.fromkeys(w.engines))
    return list(seen)


def run_bench(paths: Sequence[str], chart_path: str | None = None, only_summary: bool = False) -> int:
    """Print the tables for ``paths`` (or the results of the last ``make bench``), or only their summary."""
    chosen = list(paths) or [p for p in DEFAULT_RESULTS if Path(p).exists()]
    if not chosen:
        print("no results: run `make bench`, or pass pytest-benchmark JSON files")
        return 1
    results = load(chosen)
    print(summary(results) if only_summary else table(results), end="")
    if chart_path:
        print(f"chart: {chart(results, chart_path)}")
    return 0
