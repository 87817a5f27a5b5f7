"""Finding the engine to check: ``package.module:Name`` or ``path/to/file.py:Name``.

Loading runs the learner's module, so it happens in the worker process (see
`twingrad.check.worker`), never in the command's own process: here the target is only
parsed and its files found, to be copied into the worker's scratch folder. Every way it can go wrong
becomes a `TargetError` with a one-line message: the command prints that line and exits
with status 2.
"""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from .protocol import Source
from .result import SourceLine

OWN_ENGINE = "twingrad.engine:Value"
NOTEBOOK_MODULE = (
    "_ipynb_cells.py"  # the module a notebook target's code cells become: lecture_ipynb_cells.py
)


class TargetError(Exception):
    """The target cannot be loaded or is not a micrograd-style Value class."""


@dataclass(frozen=True)
class Target:
    """A parsed TARGET: a module name or a file path, and the attribute path inside it."""

    spec: str  # as the user wrote it
    module: str | None
    path: Path | None
    attribute: str


def parse(spec: str | None) -> Target:
    """Split TARGET at its last colon; a part ending in ``.py`` or holding a slash is a file."""
    spec = OWN_ENGINE if spec is None else spec
    head, colon, attribute = spec.rpartition(":")
    if not colon or not head or not attribute:
        raise TargetError(
            f"target {spec!r} must be module:Name or path/to/file.py:Name, e.g. my_engine.py:Value"
        )
    if not all(part.isidentifier() for part in attribute.split(".")):
        raise TargetError(f"target {spec!r}: {attribute!r} is not a Python name")
    if head.endswith((".py", ".ipynb")) or "/" in head or "\\" in head:
        return Target(spec, None, Path(head), attribute)
    if not all(part.isidentifier() for part in head.split(".")):
        raise TargetError(f"target {spec!r}: {head!r} is neither a module name nor a .py file")
    return Target(spec, head, None, attribute)


def locate(spec: str | None) -> Target:
    """`parse`, and for a file, make sure it exists: cheap checks the caller can make itself."""
    target = parse(spec)
    if target.path is not None and not target.path.expanduser().is_file():
        raise TargetError(f"no such file: {target.path}")
    return target


@dataclass(frozen=True)
class Prepared:
    """How the worker gets the engine: files to copy into its scratch folder, what to load, and
    how to show the worker's paths (``engine/model.py``) as the user's own."""

    copy_in: dict[str, Path]
    load: dict[str, str]
    originals: dict[str, str] = field(default_factory=dict)  # scratch prefix -> user's folder
    path: tuple[str, ...] = ()
    typed: str = ""  # the file or module as the user wrote it, for messages about loading it
    cells: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # module made of a notebook's
    # cells -> (cell number, line in that cell) for each of its lines
    names: dict[str, str] = field(default_factory=dict)  # from the engine's pyproject.toml
    notebook: str = ""  # what the cells' module is shown as (a notebook file, or this session)

    def place(self, source: Source) -> SourceLine:
        """A place the worker reported, in the user's own terms: their file, or their notebook's cell;
        with the line's code where the file is one of the engine's (`code_at`)."""
        code = self.code_at(source)
        lines = self.cells.get(source.file)
        if lines and 0 < source.line <= len(lines):
            cell, line = lines[source.line - 1]
            return SourceLine(self.notebook, line, f"{source.function}, cell {cell}", code)
        return SourceLine(self.shown(source.file), source.line, source.function, code)

    def code_at(self, source: Source) -> str:
        """The text of a line the worker named, from the file twingrad copied in for it ('' for any
        other path): the worker's path is only a key into `copy_in`, never opened itself."""
        if not self.owns(source.file) or source.line < 1:
            return ""
        for name, path in self.copy_in.items():
            if source.file == name or source.file.startswith(name + "/"):
                lines = _source_lines(path / source.file[len(name) + 1 :] if source.file != name else path)
                return lines[source.line - 1] if source.line <= len(lines) else ""
        return ""

    def owns(self, reported: str) -> bool:
        """Whether a path the worker reported names one of the files copied in for it: only such a
        place is shown as the engine's own (the path is compared, never opened)."""
        parts = reported.split("/")
        if reported.startswith("/") or ".." in parts or "" in parts:
            return False
        return any(reported == name or reported.startswith(name + "/") for name in self.copy_in)

    def shown(self, reported: str) -> str:
        """A worker's path as the user knows it, relative to the current folder where it can be."""
        for prefix, original in self.originals.items():
            if reported == prefix or reported.startswith(prefix + "/"):
                full = Path(original) / reported[len(prefix) + 1 :] if reported != prefix else Path(original)
                try:
                    return str(full.relative_to(Path.cwd()))
                except ValueError:
                    return str(full)
        return reported


@functools.lru_cache(maxsize=32)
def _source_lines(path: Path) -> tuple[str, ...]:
    """A source file's lines, stripped and cut for a report ('' for one that cannot be read)."""
    try:
        if not path.is_file() or path.stat().st_size > _MOST_SOURCE_BYTES:
            return ()
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(line.strip()[:_MOST_CODE] for line in text.splitlines())


_MOST_SOURCE_BYTES = 4 << 20  # an engine's file is kilobytes; anything larger is not read for a report
_MOST_CODE = 200  # characters of a line shown


# What the worker's scratch folder may receive of a user's folder (hidden entries and bytecode
# are never copied): far more than an engine needs, far less than a home folder holds.
MAX_FILES = 2000
MAX_BYTES = 64 << 20


# Folders that are never part of an engine: an environment, a cache, a repository's history.
_NOT_ENGINE = {"__pycache__", "node_modules", "site-packages", "venv", "env"}


def _walk(folder: Path, suffix: str | None) -> dict[str, Path]:
    """Files below ``folder`` (of ``suffix`` only, if given) by their path relative to it, or a
    refusal past `MAX_FILES` or `MAX_BYTES`: what a worker's scratch folder receives of it."""
    found: dict[str, Path] = {}
    size = 0
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = sorted(
            d
            for d in subdirectories
            if not d.startswith(".")
            and d not in _NOT_ENGINE
            and not (Path(directory) / d / "pyvenv.cfg").exists()
        )
        for name in sorted(names):
            path = Path(directory) / name
            if name.startswith(".") or (suffix and not name.endswith(suffix)) or not path.is_file():
                continue
            size += path.stat().st_size
            found[path.relative_to(folder).as_posix()] = path
            if len(found) > MAX_FILES or size > MAX_BYTES:
                raise TargetError(
                    f"{folder} holds more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB that "
                    "the worker would need: put the engine in a folder of its own"
                )
    return found


def python_sources(folder: Path, prefix: str) -> dict[str, Path]:
    """The Python files of ``folder``, named for the worker's scratch folder under ``prefix``:
    only sources, so an engine saved among other things (Downloads, /tmp) takes nothing else."""
    return {f"{prefix}/{name}": path for name, path in _walk(folder, ".py").items()}


def bounded(folder: Path) -> Path:
    """``folder``, once it is known to be small enough to copy whole into a worker's scratch folder."""
    _walk(folder, None)
    return folder


def spelled_right(role: str, name: str) -> bool:
    """An engine's own name for ``role``: an attribute's name; for ``backward`` also a function at
    module level, ``module:function`` (``engine:backward`` for ``def backward(loss)`` in engine.py)."""
    if role == "backward" and ":" in name:
        module, _, function = name.partition(":")
        return function.isidentifier() and all(part.isidentifier() for part in module.split("."))
    return name.isidentifier()


def project_names(folder: Path) -> dict[str, str]:
    """The engine's own names from ``[tool.twingrad.check]`` in the nearest pyproject.toml at or
    above ``folder`` (``data = "val"``, ``backward = "backprop"``, ...); {} when there is none."""
    from .protocol import ROLES

    for directory in (folder, *folder.parents):
        config = directory / "pyproject.toml"
        if not config.is_file():
            continue
        text = config.read_text(encoding="utf-8", errors="replace")
        if "[tool.twingrad" not in text:
            return {}
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise TargetError(
                f"reading [tool.twingrad.check] in {config} needs Python 3.11 or newer"
            ) from None
        try:
            table = tomllib.loads(text).get("tool", {}).get("twingrad", {}).get("check", {})
        except tomllib.TOMLDecodeError as exc:
            raise TargetError(f"{config}: {exc}") from None
        wrong = [
            k for k, v in table.items() if k not in ROLES or not isinstance(v, str) or not spelled_right(k, v)
        ]
        if wrong:
            raise TargetError(
                f"{config}: [tool.twingrad.check] names the engine's attributes, as "
                f'ROLE = "name" with ROLE one of {", ".join(ROLES)} (backward may also be '
                f'"module:function"); not {", ".join(wrong)}'
            )
        return dict(table)
    return {}


# The first line of a module made of a notebook's code cells, and the line opening each cell:
# the Python worker (check/untrusted/pyworker.py, which cannot import this module) recognises
# them and runs the cells as a notebook runs them, by the rule in docs/corpus.md#notebooks.
CELLS_MARK = "# twingrad: notebook cells"
CELL_MARK = "# %% cell "


def _imports_twingrad(statement: ast.stmt) -> bool:
    """``import twingrad`` or ``from twingrad... import``: the checker is no part of an engine
    (and the worker cannot import it)."""
    if isinstance(statement, ast.Import):
        modules = [a.name for a in statement.names]
    elif isinstance(statement, ast.ImportFrom):
        modules = [statement.module or ""]
    else:
        return False
    return any(m == "twingrad" or m.startswith("twingrad.") for m in modules)


def cell_code(cells: list[str], name: str) -> tuple[str, list[tuple[int, int]]]:
    """The code cells as one module for the worker to run cell by cell, in order, in one namespace;
    and for each of its lines, its cell (counted from 1) and its line there (0 for a cell's mark).

    A cell containing ``twingrad: skip`` is left out whole, and so is a cell that does not parse
    (it never ran either); lines of IPython magic (``%``, ``!``) and imports of twingrad are blanked.
    """
    code: list[str] = [CELLS_MARK]
    where: list[tuple[int, int]] = [(0, 0)]
    defined = False
    for number, cell in enumerate(cells, 1):
        if "twingrad: skip" in cell:
            continue
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in cell.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for statement in tree.body:
            if _imports_twingrad(statement):
                for k in range(statement.lineno, (statement.end_lineno or statement.lineno) + 1):
                    lines[k - 1] = ""
            defined = defined or (isinstance(statement, ast.ClassDef) and statement.name == name)
        code.append(f"{CELL_MARK}{number}")
        where.append((number, 0))
        code.extend(lines)
        where.extend((number, k) for k in range(1, len(lines) + 1))
    if not defined:
        raise TargetError(f"no cell defines `class {name}`")
    return "\n".join(code) + "\n", where


def notebook_code(notebook: Path, name: str) -> tuple[str, list[tuple[int, int]]]:
    """`cell_code` of the notebook file's code cells (cells counted over all cells)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TargetError(f"cannot read {notebook} as a notebook: {exc}") from None
    sources = []
    for cell in cells:
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        sources.append(text if cell.get("cell_type") == "code" else "# twingrad: skip (not code)")
    try:
        return cell_code(sources, name)
    except TargetError:
        raise TargetError(f"{notebook} has no code cell defining `class {name}`") from None


def prepare(target: Target, workspace: Path | None = None) -> Prepared:
    """`_prepare`, with the names the engine's pyproject.toml gives (``[tool.twingrad.check]``)."""
    prepared = _prepare(target, workspace)
    start = Path(next(iter(prepared.originals.values())))
    return replace(prepared, names=project_names(start if start.is_dir() else start.parent))


def _prepare(target: Target, workspace: Path | None = None) -> Prepared:
    """What to copy into the worker's scratch folder for ``target``, and what to load there.

    A notebook's cells are written as a module into ``workspace`` (a folder the caller keeps
    while the check runs)."""
    if target.path is not None and target.path.suffix == ".ipynb":
        notebook = target.path.expanduser().resolve()
        if workspace is None:
            raise TargetError("a notebook target needs a workspace for its code")
        module = f"{notebook.stem}{NOTEBOOK_MODULE}"
        code, where = notebook_code(notebook, target.attribute.split(".")[0])
        (workspace / module).write_text(code, encoding="utf-8")
        folder = notebook.parent
        return Prepared(
            {**python_sources(folder, "engine"), f"engine/{module}": workspace / module},
            {"file": f"engine/{module}", "attribute": target.attribute},
            {"engine": str(folder)},
            typed=str(target.path),
            cells={f"engine/{module}": where},
            notebook=str(target.path),
        )
    if target.path is not None:
        file = target.path.expanduser().resolve()
        top = file.parent
        while (top / "__init__.py").is_file():  # a module of a package: copy the whole package
            top = top.parent
        if top != file.parent:
            package = file.relative_to(top).parts[0]
            return Prepared(
                python_sources(top / package, f"engine/{package}"),
                {"file": f"engine/{file.relative_to(top)}", "attribute": target.attribute},
                {"engine": str(top)},
                typed=str(target.path),
            )
        folder = file.parent
        return Prepared(
            python_sources(folder, "engine"),
            {"file": f"engine/{file.name}", "attribute": target.attribute},
            {"engine": str(folder)},
            typed=str(target.path),
        )
    module = str(target.module)
    top = module.split(".")[0]
    spec = importlib.machinery.PathFinder.find_spec(top, [str(Path.cwd()), *sys.path])
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        raise TargetError(
            f"no module named {top!r} (run from the folder that holds it, or give the file: "
            "path/to/module.py:Name)"
        )
    origin = Path(spec.origin)
    source = origin.parent if origin.name == "__init__.py" else origin
    if source.is_dir():
        bounded(source)
    name = source.name
    return Prepared(
        {f"modules/{name}": source},
        {"module": module, "attribute": target.attribute},
        {f"modules/{name}": str(source)},
        ("modules",),
        module,
    )
