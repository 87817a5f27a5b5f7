"""One engine's check as a learner reads it in a terminal: what is wrong first, what to fix last.

Failures, errors and timeouts come first, each with the op the check blames, the
misconception its numbers match and the engine's own ``file:line`` (inside the backward
rule when the derivative is what is wrong). A failure with the same cause as one above
says so in a line instead of repeating it. Notes and unsupported cases follow, briefly;
passes are a count (every case, one line each, with ``verbose``). The closing list says
what to fix, one item per cause, in the catalogue's order: its cases go from the seed
graph to whole networks, so the cause met first is the most basic one, and fixing it
often fixes the later cases too.

Everything is wrapped here, by words, to the width given, and no line carries trailing
spaces: the same lines read well in an 80-column terminal, a pipe and a CI log.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field

from rich.text import Text

from ...verdict import BAD
from ..cases import CASES_BY_NAME
from ..result import ERROR, FAIL, NOTE, PASS, TIMEOUT, UNSUPPORTED, CaseResult, CheckRun
from .text import mismatch_line, printable

MARKS = {FAIL: "✗", ERROR: "✗", TIMEOUT: "✗", NOTE: "!", UNSUPPORTED: "-", PASS: "✓"}
STYLES = {FAIL: "bold red", ERROR: "bold red", TIMEOUT: "bold magenta", NOTE: "yellow", UNSUPPORTED: "dim",
          PASS: "green"}
INDENT = "    "
_NAMED = 4  # a cause's cases named in the list of what to fix; more are counted
_DRAWN = re.compile(r" \(drawn: [^()]*\)$")  # the note `picture.svg` adds to a drawn case's detail


@dataclass
class Cause:
    """One thing to fix: the cases it breaks, and how to say what and where."""

    results: list[CaseResult] = field(default_factory=list)  # in the catalogue's order

    @property
    def first(self) -> CaseResult:
        return self.results[0]

    @property
    def ops(self) -> str:
        """The ops blamed, in order: a line of ``__pow__`` breaks ``x ** 2`` and micrograd's ``x / y``."""
        return ", ".join(dict.fromkeys(r.culprit for r in self.results if r.culprit))


def _one_line(text: str) -> str:
    return printable(text, one_line=True)


def wrapped(text: str, width: int, first: str = "", rest: str = INDENT) -> list[str]:
    """``text`` wrapped by words; a word longer than the line (a path) overflows, never breaks. Its own
    lines (a worker's error output) stay lines, indented as the rest."""
    lines: list[str] = []
    for k, paragraph in enumerate(text.split("\n")):
        lead = first if k == 0 else rest
        lines += textwrap.wrap(_one_line(paragraph), width=max(width, 40), initial_indent=lead,
                               subsequent_indent=rest, break_long_words=False, break_on_hyphens=False,
                               drop_whitespace=True) or [lead.rstrip()]
    return lines


def _reason(result: CaseResult) -> str:
    """The general words a detail ends with, after its case's own numbers: ``a backward overwrites
    gradients (`=`) where they must add up (`+=`)``; '' when its last clause is particular (has numbers)."""
    detail = _DRAWN.sub("", result.detail)
    tail = detail.rsplit(": ", 1)[-1].strip()
    particular = result.status != FAIL or ": " not in detail or any(c.isdigit() for c in tail)
    return "" if particular else tail


def _cause_key(result: CaseResult) -> tuple[str, ...]:
    """Two failures share a cause when the check blames the same op at the same line (or, without a
    line, for the same misconception), or, where it names neither, when their details end in the
    same general words. Probes at different points may word one wrong rule differently."""
    if result.source is not None:
        return ("line", str(result.source), result.status)
    if result.culprit:
        return ("op", result.culprit, result.misconception or result.name, result.status)
    reason = _reason(result)
    return ("reason", reason, result.status) if reason else ("case", result.name)


def _where(result: CaseResult) -> str:
    """``engine.py:74, in Value.tanh._backward``, or ''."""
    if result.source is None:
        return ""
    inside = f", in {result.source.function}" if result.source.function else ""
    return f"{result.source}{inside}"


def _explanation(result: CaseResult, numbers: bool = True) -> str:
    """The first mismatch (with ``numbers``) and the detail, without the misconception the detail ends
    with (the report names that on its own line)."""
    detail = result.detail
    if result.misconception and detail.endswith(f": {result.misconception}"):
        detail = detail[: -len(result.misconception) - 2]
    first = mismatch_line(result) if numbers else ""
    return f"{first}. {detail}" if first and detail else first or detail


def _title(result: CaseResult) -> str:
    case = CASES_BY_NAME.get(result.name)
    about = f": {case.doc}" if case is not None else ""
    return f"{MARKS[result.status]} {result.status.upper()} {result.name}{about}"


def _problem(result: CaseResult, same: CaseResult | None, width: int, ops: str = "") -> Iterator[Text]:
    yield from (Text(line, style=STYLES[result.status] if k == 0 else "") for k, line in
                enumerate(wrapped(_title(result), width, rest=INDENT)))
    if same is not None:
        told = mismatch_line(result)
        again = f"{told}: the same cause as {same.name}" if told else f"the same cause as {same.name}"
        yield from map(Text, wrapped(again, width, INDENT, INDENT))
        return
    facts = []
    if ops:
        facts.append(f"{'ops' if ',' in ops else 'op'}: {ops}")
    if result.misconception:
        facts.append(f"misconception: {result.misconception}")
    if facts:
        yield from (Text(line, style="bold") for line in wrapped(" · ".join(facts), width, INDENT, INDENT))
    where = _where(result)
    if where:
        code = result.source.code if result.source is not None else ""
        yield from (Text(line, style="cyan") for line in
                    wrapped(f"at {where}" + (":" if code else ""), width, INDENT, INDENT))
        if code:  # the line itself, as written: indented under its place, never re-wrapped
            yield Text(f"{INDENT * 2}{_one_line(code)}", style="bold")
    yield from (Text(line) for line in wrapped(_explanation(result), width, INDENT, INDENT))


def _fix(number: int, cause: Cause, width: int) -> list[str]:
    result = cause.first
    if result.misconception:
        what = result.misconception
    elif result.culprit or result.source is not None:
        what = _explanation(result, numbers=False)
    else:  # no op named, no line: the general words say what to change
        what = _reason(result) or _explanation(result)
    if "\n" in what:  # a worker's error output: its first line and its last (the exception) say it
        lines = what.split("\n")
        what = f"{lines[0]} {lines[-1]}"
    where = f" at {_where(result)}" if result.source is not None else ""
    subject = f"{cause.ops}{where}".strip()
    text = f"{subject}: {what}" if subject else what
    names = [r.name for r in cause.results]
    text += f" -- fails {', '.join(names)}" if len(names) <= _NAMED else f" -- fails {len(names)} cases"
    head = f"  {number}. "
    return wrapped(text, width, head, " " * len(head))


def learner_report(checked: CheckRun, width: int = 80, verbose: bool = False) -> list[Text]:
    """The report's lines, each at most ``width`` columns save for a word longer than that."""
    lines = [Text(line, style="bold") for line in
             wrapped(f"twingrad check {checked.target} (torch {checked.torch_version})", width, rest="  ")]
    causes: dict[tuple[str, ...], Cause] = {}
    for result in (r for r in checked.results if r.status in BAD):
        causes.setdefault(_cause_key(result), Cause()).results.append(result)
    for cause in causes.values():  # a cause by its first case in full; the cases it also breaks after it
        lines.append(Text(""))
        lines.extend(_problem(cause.first, None, width, cause.ops))
        if verbose:
            for result in cause.results[1:]:
                lines.extend(_problem(result, cause.first, width))
        elif len(cause.results) > 1:
            also = f"also fails the same way: {', '.join(r.name for r in cause.results[1:])}"
            lines.extend(map(Text, wrapped(also, width, INDENT, INDENT)))
    for result in (r for r in checked.results if r.status == NOTE):
        lines.append(Text(""))
        lines.extend(Text(line, style=STYLES[NOTE]) for line in wrapped(_title(result), width))
        lines.extend(map(Text, wrapped(result.detail, width, INDENT, INDENT)))
    unsupported = [r for r in checked.results if r.status == UNSUPPORTED]
    passed = [r for r in checked.results if r.status == PASS]
    if unsupported or passed:
        lines.append(Text(""))
    if unsupported and verbose:
        for result in unsupported:
            lines.extend(Text(line, style="dim") for line in
                         wrapped(f"{MARKS[UNSUPPORTED]} {result.name}: {result.detail}", width))
    elif unsupported:
        names = ", ".join(r.name for r in unsupported)
        text = (f"{MARKS[UNSUPPORTED]} {len(unsupported)} unsupported (the engine has no such op; fine "
                f"unless --require names it): {names}")
        lines.extend(Text(line, style="dim") for line in wrapped(text, width))
    if passed and verbose:
        for result in passed:
            lines.extend(Text(line, style=STYLES[PASS] if k == 0 else "") for k, line in
                         enumerate(wrapped(f"{MARKS[PASS]} {result.name}: {result.detail}", width)))
    elif passed:
        more = " (--verbose lists them)" if len(passed) > 1 else ""
        lines.append(Text(f"{MARKS[PASS]} {len(passed)} pass{more}", style=STYLES[PASS]))
    if causes:
        lines.append(Text(""))
        lines.append(Text("What to fix, in this order:", style="bold"))
        for number, cause in enumerate(causes.values(), 1):
            lines.extend(map(Text, _fix(number, cause, width)))
    if checked.reading:
        lines.append(Text(""))
        lines.extend(Text(line, style="dim") for line in wrapped(f"read as: {checked.reading}", width))
    return lines


__all__ = ["learner_report", "wrapped"]
