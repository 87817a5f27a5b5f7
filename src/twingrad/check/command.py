"""``twingrad check TARGET``: the terminal face of `check_engine`.

Progress on stderr while it runs, then a table of verdicts and a one-line summary on
stdout. Exit status: 0 when every supported case agrees with torch (and at least one is
supported), 1 when any case fails, errors or times out, 2 when the target cannot be
loaded or an argument is wrong (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import shutil
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
from .session import DEFAULT_TIMEOUT, check_engine, check_timeout
from .target import TargetError


def _usage_error(err: Console, message: str) -> int:
    err.print(f"twingrad check: {message}", markup=False, highlight=False, soft_wrap=True)
    return 2


# Piped or logged output has no terminal width to follow; 80 columns squeeze the table.
PIPED_WIDTH = 120


FLOAT32 = {"rtol": 1e-5, "atol": 1e-7}  # float32 keeps about 7 digits; its rounding over a case stays below


def _names(text: str | None) -> dict[str, str]:
    """``data=val,backward=backprop`` as a mapping; ValueError names what is wrong."""
    from .protocol import ROLES

    names: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        role, equals, name = item.partition("=")
        role, name = role.strip(), name.strip()
        if not equals or role not in ROLES or not name.isidentifier():
            raise ValueError(
                f"--names takes ROLE=NAME pairs with ROLE one of {', '.join(ROLES)}, not {item!r}"
            )
        names[role] = name
    return names


def _options(args: argparse.Namespace) -> dict[str, object]:
    """The command line as `check_engine` keyword options; ValueError for a wrong one."""
    timeout = check_timeout(DEFAULT_TIMEOUT if args.timeout is None else args.timeout)
    tolerances = dict(FLOAT32) if args.float32 else {}
    for name in ("rtol", "atol"):
        value = getattr(args, name)
        if value is not None:
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"--{name} must be a finite number >= 0, not {value:g}")
            tolerances[name] = value
    require = [p.strip() for p in (args.require or "").split(",") if p.strip()]
    if args.python is not None and shutil.which(args.python) is None:
        raise ValueError(f"--python {args.python}: no such program")
    return {
        "timeout": timeout,
        "python": args.python,
        "command": args.exec_command,
        "spellings": _names(args.names),
        "require": require,
        **tolerances,
    }


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


def run_check(args: argparse.Namespace) -> int:
    out = Console(highlight=False, width=None if sys.stdout.isatty() else PIPED_WIDTH)
    err = Console(stderr=True, highlight=False)
    if args.list:
        out.print(catalogue_table(CASES))
        return 0
    try:
        options = _options(args)
        if args.json is not None:
            _check_output_path(args.json, "--json")
        if args.svg is not None and Path(args.svg).exists() and not Path(args.svg).is_dir():
            raise ValueError(f"--svg {args.svg}: not a folder")
        if args.exec_command is not None and args.target is not None:
            raise ValueError("give either TARGET or --exec COMMAND, not both")
        if args.protocol_only and args.exec_command is None:
            raise ValueError("--protocol-only checks a worker given with --exec COMMAND")
    except ValueError as exc:
        return _usage_error(err, str(exc))
    only = [p.strip() for p in args.only.split(",") if p.strip()] if args.only is not None else None
    if only == []:
        return _usage_error(err, "--only names no case (twingrad check --list names them)")
    try:
        cases = select(only)
    except KeyError as exc:
        return _usage_error(err, f"no case matches {exc.args[0]!r} (twingrad check --list names them)")
    if args.protocol_only:
        return _protocol_only(out, err, args.exec_command, options["timeout"])  # type: ignore[arg-type]
    try:
        with _progress(err, len(cases)) as show:
            checked = check_engine(
                args.target, only=only, draw=args.svg is not None, progress=show, **options
            )  # type: ignore[arg-type]
    except TargetError as exc:
        return _usage_error(err, str(exc))
    except KeyError as exc:
        return _usage_error(err, f"--require {exc.args[0]!r} names no op or case of the catalogue")
    except KeyboardInterrupt:  # the worker is gone with check_engine's cleanup
        err.print("twingrad check: interrupted", markup=False, highlight=False)
        return 130
    out.print(verdict_table(checked))
    if checked.reading:
        out.print(Text(f"read as: {checked.reading}", style="dim"), soft_wrap=True)
    code = checked.exit_code
    try:
        for path in _write_drawings(checked, Path(args.svg)) if args.svg is not None else []:
            out.print(f"drawn: {path}", markup=False, soft_wrap=True)
        if args.json is not None:
            checked.write_json(args.json)
    except OSError as exc:  # the verdict still decides the exit status: a failing engine never exits 0
        _usage_error(err, f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc}")
        code = max(code, 2)
    style = "bold green" if checked.ok else "bold red"
    out.print(Text(checked.summary_line(), style=style), soft_wrap=True)
    return code


def _protocol_only(out: Console, err: Console, command: str, timeout: float) -> int:
    from .conformance import conformance

    problems = conformance(command, timeout)
    for problem in problems:
        out.print(Text(f"✗ {problem}", style="red"), soft_wrap=True)
    if problems:
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


def _write_drawings(checked: CheckRun, folder: Path) -> list[Path]:
    return [write_atomic(folder / f"{r.name}.svg", r.svg) for r in checked.results if r.svg]
