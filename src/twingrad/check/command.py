"""``twingrad check TARGET...``: the terminal face of `check_engine`, for one target or a class's worth.

One target: progress on stderr while it runs, then the report a learner reads
(`reports.learner`: problems first, what to fix last, wrapped to the terminal or to COLUMNS)
and a summary line on stdout. Several: each checked in its own worker, ``-j`` at a time
(`twingrad.check.batch`), a progress bar per running target, then per target its verdict,
counts and first problem (`reports.terminal`: a table on a wide terminal, else a block each).
Reports (``--json``, ``--junit-xml``, ``--html``, and in GitHub Actions a step summary and
annotations) are renderings of the same results, written after the verdict is printed.

Exit status: 0 when every supported case agrees with torch (and at least one is
supported), 1 when any case fails, errors or times out, 2 when a target cannot be loaded
or an argument is wrong (one line on stderr, no traceback); with several targets, the
worst of them. A report that cannot be written is one line on stderr and makes the status
2; the verdict is printed first and the other reports are still written, so the failure
never hides it.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..files import write_atomic
from .batch import BatchRun, TargetOutcome, expand, run_batch
from .budget import DEFAULT_TARGET_TIMEOUT
from .cases import CASES, Case, select
from .render import catalogue_table
from .reports import github
from .reports.html import html_page
from .reports.junit import junit_xml
from .reports.learner import learner_report
from .reports.terminal import batch_report
from .reports.text import printable
from .result import CaseResult, CheckRun
from .session import DEFAULT_TIMEOUT, _required, check_engine, check_timeout
from .target import TargetError
from .worker import resolve_python

# Piped or logged output has no terminal width to follow (unless COLUMNS gives one): lines are
# wrapped to this many columns.
PIPED_WIDTH = 120
# The report options: flag, attribute of the parsed arguments.
REPORTS = (("--json", "json"), ("--junit-xml", "junit_xml"), ("--html", "html"))


def _usage_error(err: Console, message: str) -> int:
    """The message on stderr; status 2. Lines after the first (a program's own error output) are
    indented under it, so that none of them can pass for a line of twingrad's."""
    first, *more = message.split("\n")
    err.print(f"twingrad check: {printable(first, one_line=True)}", markup=False, highlight=False,
              emoji=False, soft_wrap=True)
    for line in more:
        shown = f"    {printable(line, one_line=True)}".rstrip()
        err.print(shown, markup=False, highlight=False, emoji=False, soft_wrap=True)
    return 2


# float32 keeps about 7 digits; over a case at drawn inputs (hundreds of ops, conditioning up to
# `inputs.CONDITION`) its rounding was measured up to 2.3e-5 relative: 1e-4 leaves room, and any
# real bug is off by far more.
FLOAT32 = {"rtol": 1e-4, "atol": 1e-7}


def _names(text: str | None) -> dict[str, str]:
    """``data=val,backward=backprop`` as a mapping; ValueError names what is wrong."""
    from .protocol import ROLES
    from .target import spelled_right

    names: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        role, equals, name = item.partition("=")
        role, name = role.strip(), name.strip()
        if not equals or role not in ROLES or not spelled_right(role, name):
            raise ValueError(
                f"--names takes ROLE=NAME pairs with ROLE one of {', '.join(ROLES)} (and "
                f"backward=module:function for a function), not {item!r}"
            )
        names[role] = name
    return names


def check_options(args: argparse.Namespace) -> dict[str, Any]:
    """The one place that turns the command line into `check_engine` keyword options; ValueError if wrong.

    Every target of a batch gets the same options, so they are all checked here, before
    anything runs: a wrong ``--require`` is one line, not one error row per target.
    """
    timeout = check_timeout(DEFAULT_TIMEOUT if args.timeout is None else args.timeout)
    target_timeout = check_timeout(
        DEFAULT_TARGET_TIMEOUT if args.target_timeout is None else args.target_timeout, "--target-timeout"
    )
    tolerances = dict(FLOAT32) if args.float32 else {}
    for name in ("rtol", "atol"):
        value = getattr(args, name)
        if value is not None:
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"--{name} must be a finite number >= 0, not {value:g}")
            tolerances[name] = value
    require = [p.strip() for p in (args.require or "").split(",") if p.strip()]
    python = None if args.python is None else resolve_python(args.python)  # once, for every target
    from .inputs import check_seed, new_seed

    # Chosen here, once: every target of a batch is checked at the same inputs.
    try:
        seed = new_seed() if args.seed is None else check_seed(args.seed)
    except ValueError as exc:
        raise ValueError(f"--seed {args.seed}: {exc}") from None
    only = [p.strip() for p in args.only.split(",") if p.strip()] if args.only is not None else None
    if only == []:
        raise ValueError("--only names no case (twingrad check --list names them)")
    try:
        cases = select(only)
    except KeyError as exc:
        raise ValueError(f"no case matches {exc.args[0]!r} (twingrad check --list names them)") from None
    try:
        _required(cases, require)
    except KeyError as exc:
        raise ValueError(f"--require {exc.args[0]!r} names no op or case of the catalogue") from None
    return {
        "only": only,
        "timeout": timeout,
        "target_timeout": target_timeout,
        "draw": args.svg is not None or args.html is not None,
        "python": python,
        "command": args.exec_command,
        "spellings": _names(args.names),
        "require": require,
        "seed": seed,
        "accept": _accepted(args.accept),
        **tolerances,
    }


ACCEPTABLE = ("offset",)  # designs `--accept` turns from a failure into a note (docs/corpus.md)


def _accepted(given: str | None) -> tuple[str, ...]:
    names = tuple(p.strip() for p in (given or "").split(",") if p.strip())
    wrong = [n for n in names if n not in ACCEPTABLE]
    if wrong:
        raise ValueError(f"--accept {','.join(wrong)}: only {', '.join(ACCEPTABLE)} can be accepted")
    return names


def _check_output_path(path: str, flag: str) -> None:
    """Refuse, before the run, an output path that cannot be written as a regular file."""
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{flag} {path}: is a folder")
    if target.exists() and not target.is_file():
        raise ValueError(f"{flag} {path}: not a regular file (a FIFO, device or socket is never replaced)")
    if target.is_symlink():
        raise ValueError(f"{flag} {path}: is a symbolic link; give the path it points to")
    if not target.parent.is_dir():
        raise ValueError(f"{flag} {path}: no such folder {target.parent}")


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path and the other arguments only the command has; ValueError if wrong."""
    seen: dict[Path, str] = {}
    for flag, attribute in REPORTS:
        value = getattr(args, attribute)
        if value is None:
            continue
        _check_output_path(value, flag)
        key = Path(value).resolve()
        if key in seen:
            raise ValueError(f"{seen[key]} and {flag} name the same file {value}")
        seen[key] = flag
    if args.svg is not None and Path(args.svg).exists() and not Path(args.svg).is_dir():
        raise ValueError(f"--svg {args.svg}: not a folder")
    if args.jobs < 1:
        raise ValueError(f"-j/--jobs must be at least 1, not {args.jobs}")
    if args.exec_command is not None and args.target:
        raise ValueError("give either TARGET or --exec COMMAND, not both")
    if args.protocol_only and args.exec_command is None:
        raise ValueError("--protocol-only checks a worker given with --exec COMMAND")


def run_check(args: argparse.Namespace) -> int:
    out = Console(highlight=False, width=None if sys.stdout.isatty() or _columns() else PIPED_WIDTH)
    err = Console(stderr=True, highlight=False)
    if args.list:
        out.print(Text("twingrad check: the cases", style="bold"))
        out.print(catalogue_table(CASES))
        return 0
    targets = expand(args.target) or [None]
    try:
        options = check_options(args)
        _check_outputs(args)
    except ValueError as exc:
        return _usage_error(err, str(exc))
    if args.protocol_only:
        return _protocol_only(out, err, args.exec_command, options["timeout"])
    try:
        if len(targets) == 1:
            return _one(targets[0], options, args, out, err)
        return _many(targets, options, args, out, err)
    except KeyboardInterrupt:  # the workers are gone with check_engine's cleanup
        err.print("twingrad check: interrupted", markup=False, highlight=False)
        return 130


def _one(target: str | None, options: dict[str, Any], args: argparse.Namespace, out: Console,
         err: Console) -> int:
    """Exactly the single-target command as it always was, plus the reports asked for."""
    n_cases = len(select(options["only"]))
    try:
        with _progress(err, n_cases) as show:
            checked = check_engine(target, progress=show, **options)
    except TargetError as exc:
        code = _usage_error(err, str(exc))
        failed = _write_reports(BatchRun([TargetOutcome(target or "", error=str(exc))]), args, out, err,
                                single=None)
        return max(code, 2 if failed else 0)
    for line in learner_report(checked, out.width, verbose=getattr(args, "verbose", False)):
        out.print(line, soft_wrap=True)  # wrapped by the report itself: no padding, no second wrap
    failed = False
    if args.svg is not None:
        failed |= _write(err, lambda: [out.print(f"drawn: {p}", markup=False, soft_wrap=True)
                                       for p in _write_drawings(checked, Path(args.svg))])
    failed |= _write_reports(BatchRun([TargetOutcome(checked.target, run=checked)], checked.seconds),
                             args, out, err, single=checked)
    style = "bold green" if checked.ok else "bold red"
    # One line whatever the width (the terminal folds it): scripts, CI logs and docs read it whole.
    out.print(Text(checked.summary_line(), style=style), soft_wrap=True)
    return max(checked.exit_code, 2 if failed else 0)


def _many(targets: list[str], options: dict[str, Any], args: argparse.Namespace, out: Console,
          err: Console) -> int:
    n_cases = len(select(options["only"]))
    with _batch_progress(err, targets, n_cases) as (show, done):
        # check_engine read here, at call time: tests stand a shared worker in for it.
        batch = run_batch(targets, jobs=args.jobs, check=check_engine, progress=show, on_done=done, **options)
    # A table only on a real terminal: in a pipe or a CI log (even one with FORCE_COLOR), blocks.
    for part in batch_report(batch, out.width, terminal=sys.stdout.isatty()):
        # A line is wrapped by the report already (no padding, no second wrap); the table lays itself out.
        out.print(part, soft_wrap=isinstance(part, Text))
    failed = False
    if args.svg is not None:
        failed |= _write(err, lambda: _write_batch_drawings(batch, Path(args.svg), out))
    failed |= _write_reports(batch, args, out, err, single=None)
    style = "bold green" if batch.ok else "bold red"
    out.print(Text(printable(batch.summary_line()), style=style), soft_wrap=True)
    return max(batch.exit_code, 2 if failed else 0)


def _columns() -> bool:
    """Whether COLUMNS gives the width to write to (``COLUMNS=80 twingrad check ... | less``)."""
    return os.environ.get("COLUMNS", "").strip().isdigit()


def _write(err: Console, action: Callable[[], object]) -> bool:
    """Run one write; a failure is a line on stderr and True, never an exception that hides the verdict."""
    try:
        action()
    except OSError as exc:
        _usage_error(err, f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc}")
        return True
    return False


def _write_reports(batch: BatchRun, args: argparse.Namespace, out: Console, err: Console,
                   single: CheckRun | None) -> bool:
    """Every report asked for; True if any could not be written. A lone target's JSON keeps its schema."""
    failed = False
    if args.json is not None and (single is not None or len(batch.outcomes) > 1):
        json_of: Any = single if single is not None else batch
        failed |= _write(err, lambda: json_of.write_json(args.json))
    if args.junit_xml is not None:
        failed |= _write(err, lambda: write_atomic(args.junit_xml, junit_xml(batch)))
    if args.html is not None:
        failed |= _write(err, lambda: write_atomic(args.html, html_page(batch)))
    if github.in_github_actions():
        for line in github.annotations(batch, os.environ.get("GITHUB_WORKSPACE")):
            print(line, file=out.file, flush=True)  # not through rich: no wrapping, no emoji codes
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            failed |= _write(err, lambda: github.append_step_summary(batch, summary))
    return failed


def _protocol_only(out: Console, err: Console, command: str, timeout: float) -> int:
    from .conformance import conformance

    try:
        found = conformance(command, timeout)
    except TargetError as exc:
        return _usage_error(err, str(exc))
    for problem in found.problems:
        out.print(Text(f"✗ {problem}", style="red"), soft_wrap=True)
    for warning in found.warnings:
        out.print(Text(f"! {warning}", style="yellow"), soft_wrap=True)
    if found.problems:
        out.print(Text(f"FAIL {command}: the worker does not speak protocol 1 correctly", style="bold red"))
        return 1
    out.print(Text(f"OK {command}: every message follows protocol 1", style="bold green"), soft_wrap=True)
    return 0


@contextlib.contextmanager
def _progress(err: Console, total: int) -> Iterator[Callable[[Case, CaseResult | None], None]]:
    """A progress bar on a terminal (gone when done); nothing where stderr is a file or pipe."""
    if not err.is_terminal:
        yield lambda case, result: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("loading the engine", total=total)

        def show(case: Case, result: CaseResult | None) -> None:
            if result is None:
                progress.update(task, description=case.name)
            else:
                progress.advance(task)

        yield show


BatchCallbacks = tuple[Callable[[str, Case, "CaseResult | None"], None], Callable[[TargetOutcome], None]]


@contextlib.contextmanager
def _batch_progress(err: Console, targets: list[str], n_cases: int) -> Iterator[BatchCallbacks]:
    """An overall bar and one bar per running target on a terminal; as each ends, its verdict above."""
    if not err.is_terminal:
        yield (lambda target, case, result: None), (lambda outcome: None)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        unique = list(dict.fromkeys(targets))
        overall = progress.add_task(f"{len(unique)} targets", total=len(unique) * n_cases)
        running: dict[str, TaskID] = {}
        counted: dict[str, int] = {}

        def show(target: str, case: Case, result: CaseResult | None) -> None:
            if target not in running:
                running[target] = progress.add_task(printable(target, one_line=True), total=n_cases)
            if result is not None:
                counted[target] = counted.get(target, 0) + 1
                progress.advance(running[target])
                progress.advance(overall)

        def done(outcome: TargetOutcome) -> None:
            # A target that could not be loaded ran no case: its share of the bar is done too.
            progress.advance(overall, n_cases - counted.get(outcome.target, 0))
            if outcome.target in running:
                progress.remove_task(running.pop(outcome.target))
            progress.console.print(f"{outcome.verdict} {printable(outcome.target, one_line=True)}",
                                   markup=False, highlight=False, emoji=False, soft_wrap=True)

        yield show, done


def _write_drawings(checked: CheckRun, folder: Path) -> list[Path]:
    return [write_atomic(folder / f"{r.name}.svg", r.svg) for r in checked.results if r.svg]


def _folder_name(target: str) -> str:
    """A target as one folder name: ``subs/ada/engine.py:Value`` -> ``subs_ada_engine.py_Value``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", target).strip("._") or "target"


def _write_batch_drawings(batch: BatchRun, folder: Path, out: Console) -> None:
    used: set[str] = set()
    for outcome in batch.outcomes:
        if outcome.run is None:
            continue
        name = _folder_name(outcome.target)
        while name in used:  # two targets that differ only in punctuation
            name += "_"
        used.add(name)
        for path in _write_drawings(outcome.run, folder / name):
            out.print(f"drawn: {printable(str(path), one_line=True)}", markup=False, soft_wrap=True)
