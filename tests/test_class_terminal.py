"""A class's overview in an 80-column terminal and in a pipe: a block per target, wrapped by words.

At 80 columns a table leaves the first problem some 14 columns, and a misconception wraps
over ten lines; so below a wide terminal (and always in a pipe) each target is a line --
verdict, target, counts -- and its first problem under it, indented and wrapped by the
learner report's own `wrapped`. No line runs past the width or ends in a space.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from twingrad.check.batch import BatchRun, TargetOutcome
from twingrad.check.reports import terminal
from twingrad.check.reports.terminal import batch_blocks, batch_report, batch_table, problem_width
from twingrad.check.result import CaseResult, CheckRun, SourceLine
from twingrad.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORRECT = "tests/engines/classroom/correct.py:Value"
TANH = "tests/engines/learners/tanh_one_minus_x2.py:Value"
MISCONCEPTION = "your tanh derivative equals 1 − x² (x the input), not 1 − tanh(x)²"


def _block(lines: list[str], start: str) -> tuple[str, str]:
    """The line that starts with ``start``, and the indented lines under it joined as one."""
    k = next(k for k, line in enumerate(lines) if line.startswith(start))
    under = []
    for line in lines[k + 1:]:
        if not line.startswith("    "):
            break
        under.append(line.strip())
    return lines[k], " ".join(under)


def test_a_class_at_80_columns_is_a_block_per_target(capsys, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "80")
    code = main(["check", CORRECT, TANH, "-j", "2", "--seed", "1", "--only", "lecture_neuron,reuse_a_plus_a"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert code == 1
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert not [line for line in lines if line != line.rstrip()]
    assert lines[0] == "twingrad check: 2 targets"
    assert _block(lines, "OK ") == (f"OK {CORRECT}: 2 pass", "")
    head, problem = _block(lines, "FAIL tests/")
    assert head == f"FAIL {TANH}: 1 fail, 1 pass"
    assert problem.startswith(f"lecture_neuron (fail): {MISCONCEPTION} -- Value.tanh._backward() at ")
    assert re.search(r"at tanh_one_minus_x2\.py:\d+$", problem)
    assert sum(line.startswith("    ") for line in lines) >= 2  # wrapped, by words: the whole text is there
    assert lines[-1] == "FAIL 2 targets: 1 OK, 1 FAIL (seed 1)"


def _batch(target: str = "subs/ada/engine.py:Value") -> BatchRun:
    detail = "a is used 2 times (n1 = a + a) but its gradient 1 is only 1 of their 2 shares \x1b[31m"
    where = SourceLine("subs/ada/engine.py", 27, "__add__")
    bad = CheckRun(target, "2.13.0+cpu", [
        CaseResult("seed_graph", ("*", "+"), "pass", "agree"),
        CaseResult("reuse_a_plus_a", ("+",), "fail", detail, source=where,
                   misconception="a backward overwrites gradients (`=`) where they must add up (`+=`)"),
    ])
    passed = CaseResult("seed_graph", ("*",), "pass", "agree")
    good = CheckRun("subs/bob/engine.py:Value", "2.13.0+cpu", [passed])
    error = "importing failed:\nTraceback\n  \x1b[31mValueError: no"
    broken = TargetOutcome("subs/cy/engine.py:Value", error=error)
    return BatchRun([TargetOutcome(good.target, run=good), TargetOutcome(bad.target, run=bad), broken])


@pytest.mark.parametrize("width", [60, 80, 100])
def test_the_blocks_fit_the_width_and_escape_what_the_engine_wrote(width: int) -> None:
    lines = [line.plain for line in batch_blocks(_batch(), width)]
    assert all(len(line) <= width and line == line.rstrip() for line in lines), lines
    assert not any("\x1b" in line for line in lines)
    assert lines[0] == "OK subs/bob/engine.py:Value: 1 pass"
    head, problem = _block(lines, "FAIL ")
    assert head == "FAIL subs/ada/engine.py:Value: 1 fail, 1 pass"
    assert problem == ("reuse_a_plus_a (fail): a backward overwrites gradients (`=`) where they must add up "
                       "(`+=`) -- __add__() at engine.py:27")
    # An error's own lines stay lines (and their indentation), under its target, escaped.
    assert lines[lines.index("cannot load subs/cy/engine.py:Value") + 1:] == [
        "    importing failed:", "    Traceback", "      \\x1b[31mValueError: no"]


def test_a_first_line_too_long_goes_on_two_spaces_in() -> None:
    lines = [line.plain for line in batch_blocks(_batch(), 40)]
    assert all(len(line) <= 40 and line == line.rstrip() for line in lines), lines
    k = lines.index("FAIL subs/ada/engine.py:Value: 1 fail, 1")
    assert lines[k + 1] == "  pass" and lines[k + 2].startswith("    reuse_a_plus_a (fail): ")


def test_the_table_only_where_its_first_problem_has_room() -> None:
    batch = _batch()
    assert isinstance(batch_report(batch, 200)[-1], Table)
    assert not any(isinstance(part, Table) for part in batch_report(batch, 200, terminal=False))  # a pipe
    assert not any(isinstance(part, Table) for part in batch_report(batch, 80))
    # A long target path takes the table's room: blocks, even on a wide terminal.
    long = _batch("submissions/2026/spring/section-b/" + "a" * 40 + "/engine.py:Value")
    assert problem_width(long, 140) < terminal.WIDE_ENOUGH <= problem_width(batch, 140)
    assert not any(isinstance(part, Table) for part in batch_report(long, 140))


def test_problem_width_is_the_width_the_table_gives_the_first_problem() -> None:
    batch = _batch()
    console = Console(record=True, width=150, color_system=None, file=io.StringIO())
    console.print(batch_table(batch, 150))
    header = next(line for line in console.export_text().splitlines() if "first problem" in line)
    cell = header.split("┃")[-2]
    assert len(cell) - 2 == problem_width(batch, 150)  # a space either side of the text
