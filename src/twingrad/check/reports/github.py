"""GitHub Actions: a markdown summary for the run's page and an annotation at each failing op.

The summary is appended to the file named by ``$GITHUB_STEP_SUMMARY``; the annotations
are workflow commands printed on stdout (``::error file=...,line=...::message``), which
GitHub shows on the engine's own line in the pull request's diff. Both carry text the
engine produced, so it is escaped for each: workflow commands end at a newline and split
properties at ``,`` and ``:`` (GitHub's rule: ``%`` ``\\r`` ``\\n`` become ``%25``
``%0D`` ``%0A`` in messages, and ``:`` ``,`` also ``%3A`` ``%2C`` in properties);
markdown would render tables, links and HTML from it.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..batch import OK, BatchRun, TargetOutcome
from ..result import CaseResult, SourceLine
from ..target import TargetError, parse
from .text import full_detail, printable


def in_github_actions(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


# -- workflow commands ---------------------------------------------------------------------


def _data(text: str) -> str:
    return printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _relative(file: str, workspace: str | None) -> str:
    """Annotations attach to paths relative to the repository (``$GITHUB_WORKSPACE``)."""
    if workspace and os.path.isabs(file):
        try:
            return Path(file).resolve().relative_to(Path(workspace).resolve()).as_posix()
        except ValueError:
            return file
    return file


def _target_file(target: str) -> str | None:
    try:
        path = parse(target).path
    except TargetError:
        return None
    return str(path) if path is not None else None


def annotations(batch: BatchRun, workspace: str | None = None) -> list[str]:
    """One ``::error`` line per failing op (cases failing at the same line share one), then per target
    whose failures have no known line, and per target that cannot be loaded."""
    lines = []
    for outcome in batch.outcomes:
        at: dict[SourceLine, list[CaseResult]] = {}
        unplaced = []
        for result in outcome.problems():
            # "<sandbox>/...": a path the worker named that is no file of the submission; never annotated.
            if result.source is not None and not result.source.file.startswith("<"):
                at.setdefault(result.source, []).append(result)
            else:
                unplaced.append(result)
        for source, results in at.items():
            names = ", ".join(r.name for r in results)
            title = f"twingrad check: {names} ({results[0].status})"
            props = f"file={_property(_relative(source.file, workspace))},line={source.line}"
            lines.append(f"::error {props},title={_property(title)}::{_data(full_detail(results[0]))}")
        if outcome.run is None or unplaced:
            file = _target_file(outcome.target)
            where = f"file={_property(_relative(file, workspace))}," if file else ""
            if outcome.run is None:
                title, message = f"twingrad check: cannot load {outcome.target}", outcome.error or ""
            else:
                title = f"twingrad check {outcome.target}: {len(unplaced)} case(s) not agreeing with torch"
                message = "\n".join(f"{r.name} ({r.status}): {full_detail(r)}" for r in unplaced)
            lines.append(f"::error {where}title={_property(title)}::{_data(message)}")
    return lines


# -- step summary --------------------------------------------------------------------------

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


# What GitHub turns into a link even in escaped text (URLs, www., e-mail addresses): a zero-width
# space before "://", inside "www." and before "@" keeps the words and loses the link.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=www)(?=\\?\.)|(?=@)")


def _md(text: str) -> str:
    """Text in a markdown table cell: no HTML, no formatting, no links, no line breaks that end the row."""
    escaped = _MARKDOWN.sub(r"\\\1", html.escape(printable(text), quote=False))
    return _AUTOLINK.sub("\u200b", escaped).replace("\n", "<br>")


def _mark(outcome: TargetOutcome) -> str:
    return {OK: "✅", "FAIL": "❌"}.get(outcome.verdict, "⛔")


def step_summary(batch: BatchRun) -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: the targets, then each problem case of each target."""
    out = [f"## twingrad check: {_md(batch.summary_line())}", "",
           "| target | verdict | cases | first problem |", "| --- | --- | --- | --- |"]
    for o in batch.outcomes:
        out.append(f"| {_md(o.target)} | {_mark(o)} {_md(o.verdict)} | {_md(o.counts())} "
                   f"| {_md(o.first_problem())} |")
    for o in batch.outcomes:
        bad = o.problems()
        if not bad:
            continue
        out += ["", f"### {_md(o.target)}", "", "| case | verdict | what went wrong |", "| --- | --- | --- |"]
        out += [f"| {_md(r.name)} | {_md(r.status)} | {_md(full_detail(r))} |" for r in bad]
    return "\n".join(out) + "\n"


def append_step_summary(batch: BatchRun, path: str) -> None:
    """Appended, not replaced: other steps of the job write to the same file."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(step_summary(batch))
