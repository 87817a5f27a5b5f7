"""``twingrad check TARGET``: the terminal face of `check_engine`.

Progress on stderr while it runs, then a table of verdicts and a one-line summary on
stdout. Exit status: 0 when every supported case agrees with torch, 1 when any case
fails, errors or times out, 2 when the target cannot be loaded or an argument is wrong
(one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..files import write_atomic
from .cases import CASES, Case, select
from .render import catalogue_table, verdict_table
from .result import CaseResult, CheckRun
from .session import DEFAULT_TIMEOUT, check_engine
from .target import TargetError


def _usage_error(err: Console, message: str) -> int:
    err.print(f"twingrad check: {message}", markup=False, highlight=False, soft_wrap=True)
    return 2


# Piped or logged output has no terminal width to follow; 80 columns squeeze the table.
PIPED_WIDTH = 120


def run_check(args: argparse.Namespace) -> int:
    out = Console(highlight=False, width=None if sys.stdout.isatty() else PIPED_WIDTH)
    err = Console(stderr=True, highlight=False)
    if args.list:
        out.print(catalogue_table(CASES))
        return 0
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    if not timeout > 0:  # also refuses nan
        return _usage_error(err, f"--timeout must be a positive number of seconds, not {timeout:g}")
    only = [p.strip() for p in args.only.split(",") if p.strip()] if args.only is not None else None
    if only == []:
        return _usage_error(err, "--only names no case (twingrad check --list names them)")
    try:
        cases = select(only)
    except KeyError as exc:
        return _usage_error(err, f"no case matches {exc.args[0]!r} (twingrad check --list names them)")
    try:
        with _progress(err, len(cases)) as show:
            checked = check_engine(args.target, only=only, timeout=timeout, draw=args.svg is not None,
                                   progress=show)
    except TargetError as exc:
        return _usage_error(err, str(exc))
    except KeyboardInterrupt:  # the worker is gone with check_engine's cleanup
        err.print("twingrad check: interrupted", markup=False, highlight=False)
        return 130
    out.print(verdict_table(checked))
    try:
        for path in _write_drawings(checked, Path(args.svg)) if args.svg is not None else []:
            out.print(f"drawn: {path}", markup=False, soft_wrap=True)
        if args.json is not None:
            checked.write_json(args.json)
    except OSError as exc:
        return _usage_error(err, f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc}")
    style = "bold green" if checked.ok else "bold red"
    out.print(Text(checked.summary_line(), style=style), soft_wrap=True)
    return checked.exit_code


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


def _write_drawings(checked: CheckRun, folder: Path) -> list[Path]:
    return [write_atomic(folder / f"{r.name}.svg", r.svg) for r in checked.results if r.svg]
