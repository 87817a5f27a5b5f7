"""Finding the engine to check: ``package.module:Name`` or ``path/to/file.py:Name``.

Loading runs the learner's module, so it happens in the worker process (see
`twingrad.check.worker`), never in the command's own process: here the target is only
parsed and its files found, to be copied into the worker's scratch folder. Every way it can go wrong
becomes a `TargetError` with a one-line message: the command prints that line and exits
with status 2.

What is copied (the copy rule, docs/sandbox.md): the target's file and the modules of its
folder that it imports, directly or through each other (``import helpers``, ``from . import
ops``, ``importlib.import_module("name")`` with a literal name) -- never the folder's other
files, so that in a flat folder of submissions no student's worker holds another's file.
For a module inside a package, the package's ``__init__.py`` files on the way are imported,
so they are copied too. Files are copied as files (`submitted`): a link leaving the
submission's folder, a FIFO or a device is refused with one line.
"""

from __future__ import annotations

import ast
import importlib.machinery
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .protocol import Source
from .result import SourceLine
from .submitted import SubmissionFileError, inside, read_bounded, source_lines

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
        """The text of a line the worker named, stripped and cut for a report, from the file twingrad
        copied in for it ('' for any other path): read through `lines`, never opened by its path."""
        if not self.owns(source.file) or source.line < 1:
            return ""
        return next(iter(self.lines(source.file, source.line)), "").strip()[:_MOST_CODE]

    def owns(self, reported: str) -> bool:
        """Whether a path the worker reported names one of the files copied in for it: only such a
        place is shown as the engine's own (the path is compared, never opened)."""
        parts = reported.split("/")
        if reported.startswith("/") or ".." in parts or "" in parts:
            return False
        return any(reported == name or reported.startswith(name + "/") for name in self.copy_in)

    def lines(self, reported: str, first: int, last: int | None = None) -> list[str]:
        """Lines ``first`` to ``last`` (default: just ``first``) of the submission's file that the
        worker calls ``reported`` (``engine/model.py``), read from the parent's own copy: the file
        it copied under that name, never a path the worker chose; bounded; [] if there is none.
        The one way for a report to quote a learner's source."""
        source = self.copy_of(reported)
        return [] if source is None else source_lines(source, first, first if last is None else last)

    def copy_of(self, reported: str) -> Path | None:
        """The file the parent copied into the worker as ``reported``, or None: a file of the
        submission is found by its name in the copy, a path the worker made up is not."""
        if reported in self.copy_in:
            return Path(self.copy_in[reported])
        for prefix, folder in self.copy_in.items():  # a file inside a copied folder (--exec)
            rest = Path(reported[len(prefix) + 1 :] if reported.startswith(prefix + "/") else "")
            if rest.parts and ".." not in rest.parts and not rest.is_absolute() and Path(folder).is_dir():
                try:
                    return inside(Path(folder, rest), Path(folder))
                except SubmissionFileError:
                    return None
        return None

    def shown(self, reported: str) -> str:
        """A worker's path as the user knows it, relative to the current folder where it can be.

        Only a file of the submission becomes the user's path; any other path the worker names (the
        standard library, or one it made up) is marked ``<sandbox>``, so that no report or
        annotation points at a file of the host (a classmate's) on the worker's word."""
        if self.copy_of(reported) is None:
            return f"<sandbox>{'' if reported.startswith('/') else '/'}{reported}"
        for prefix, original in self.originals.items():
            if reported == prefix or reported.startswith(prefix + "/"):
                full = Path(original) / reported[len(prefix) + 1 :] if reported != prefix else Path(original)
                try:
                    return str(full.relative_to(Path.cwd()))
                except ValueError:
                    return str(full)
        return reported


_MOST_CODE = 200  # characters of a line shown


# What the worker's scratch folder may receive of a user's folder (hidden entries and bytecode
# are never copied): far more than an engine needs, far less than a home folder holds.
MAX_FILES = 2000
MAX_BYTES = 64 << 20


def _walk(folder: Path) -> int:
    """How many files below ``folder`` an --exec folder's copy would take (hidden entries and
    bytecode left out, links not followed), or a refusal past `MAX_FILES` or `MAX_BYTES`."""
    count = size = 0
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".") and d != "__pycache__"]
        for name in names:
            if name.startswith("."):
                continue
            count += 1
            size += os.lstat(os.path.join(directory, name)).st_size
            if count > MAX_FILES or size > MAX_BYTES:
                raise TargetError(
                    f"{folder} holds more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB that "
                    "the worker would need: put the engine in a folder of its own"
                )
    return count


def bounded(folder: Path) -> Path:
    """``folder``, once it is known to be small enough to copy whole into a worker's scratch folder."""
    _walk(folder)
    return folder


def spelled_right(role: str, name: str) -> bool:
    """An engine's own name for ``role``: an attribute's name; for ``backward`` also a function at
    module level, ``module:function`` (``engine:backward`` for ``def backward(loss)`` in engine.py)."""
    if role == "backward" and ":" in name:
        module, _, function = name.partition(":")
        return function.isidentifier() and all(part.isidentifier() for part in module.split("."))
    return name.isidentifier()
def _module_files(folder: Path, module: str) -> list[Path]:
    """The files of ``folder`` that importing ``module`` runs: the ``__init__.py`` of each package
    on the way, and the module's own file; [] for a module that is not there (the standard
    library, a name the engine only tries)."""
    found: list[Path] = []
    here = folder
    for part in module.split("."):
        package = here / part
        if os.path.lexists(package / "__init__.py"):
            found.append(package / "__init__.py")
        elif os.path.lexists(here / f"{part}.py"):
            found.append(here / f"{part}.py")
            break  # what follows is an attribute of that module, not a file
        elif not package.is_dir():  # not a namespace package either
            break
        here = package
    return found


_IMPORTERS = {"__import__", "import_module"}  # calls whose literal first argument names a module


def _imported_names(source: bytes, package: list[str]) -> set[str]:
    """Every module name ``source`` may import, as absolute dotted names (``from . import a`` in
    package ``p`` is ``p`` and ``p.a``); a file that does not parse imports nothing."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level > len(package) + 1:
                continue
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            if stem:
                names.add(stem)
            names |= {f"{stem}.{a.name}".lstrip(".") for a in node.names if a.name != "*"}
        elif (
            isinstance(node, ast.Call)
            and _IMPORTERS & {getattr(node.func, "id", None), getattr(node.func, "attr", None)}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def imported_files(
    folder: Path, prefix: str, start: dict[str, Path], classmates: frozenset[Path] = frozenset()
) -> dict[str, Path]:
    """The copy rule: the ``start`` files (scratch name -> file) and every file of ``folder`` they
    import, directly or through each other, named ``prefix/<path in folder>`` -- but never one
    of ``classmates`` (the other targets of a batch, as real paths): importing one fails.

    A start file may live elsewhere (a notebook's cells written to a workspace); every other
    file must be inside ``folder``, or it is a `TargetError` naming the link that leaves it.
    """
    folder = Path(os.path.realpath(folder))
    found: dict[str, Path] = {}
    todo = list(start.items())
    size = 0
    while todo:
        name, path = todo.pop()
        if name in found:
            continue
        try:
            # A start file written by twingrad (a notebook's cells) lives outside the folder.
            elsewhere = name in start and not Path(os.path.realpath(path.parent)).is_relative_to(folder)
            real = path if elsewhere else inside(path, folder)
            source = read_bounded(real)
        except SubmissionFileError as exc:
            raise TargetError(str(exc)) from None
        found[name] = real
        size += len(source)
        if len(found) > MAX_FILES or size > MAX_BYTES:
            raise TargetError(
                f"{folder}: the engine imports more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB"
            )
        # The package a relative import starts from: a module's folder, and an __init__'s too.
        package = name[len(prefix) + 1 :].split("/")[:-1]
        for module in _imported_names(source, package):
            for file in _module_files(folder, module):
                if Path(os.path.realpath(file)) not in classmates:
                    todo.append((f"{prefix}/{file.relative_to(folder).as_posix()}", file))
    return found


def project_names(folder: Path) -> dict[str, str]:
    """The engine's own names from ``[tool.twingrad.check]`` in the nearest pyproject.toml at or
    above ``folder`` (``data = "val"``, ``backward = "backprop"``, ...); {} when there is none."""
    from .protocol import ROLES

    for directory in (folder, *folder.parents):
        config = directory / "pyproject.toml"
        if not config.is_file():
            continue
        try:  # as any file of a submission: no link followed, no FIFO, bounded
            text = read_bounded(config, 1 << 20).decode("utf-8", errors="replace")
        except SubmissionFileError as exc:
            raise TargetError(str(exc)) from None
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
        cells = json.loads(read_bounded(notebook, MAX_BYTES))["cells"]
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


def prepare(target: Target, workspace: Path | None = None, classmates: Iterable[str | Path] = ()) -> Prepared:
    """`_prepare`, with the names the engine's pyproject.toml gives (``[tool.twingrad.check]``).

    ``classmates``: the files of the other targets checked with this one (a batch), which are
    never copied into its worker, whatever it imports."""
    others = frozenset(Path(os.path.realpath(Path(c).expanduser())) for c in classmates)
    prepared = _prepare(target, workspace, others)
    start = Path(next(iter(prepared.originals.values())))
    return replace(prepared, names=project_names(start if start.is_dir() else start.parent))


def _prepare(target: Target, workspace: Path | None, classmates: frozenset[Path]) -> Prepared:
    """What to copy into the worker's scratch folder for ``target``, and what to load there.

    A notebook's cells are written as a module into ``workspace`` (a folder the caller keeps
    while the check runs)."""
    if target.path is not None and target.path.suffix == ".ipynb":
        notebook = _own_file(target.path.expanduser())
        if workspace is None:
            raise TargetError("a notebook target needs a workspace for its code")
        module = f"{notebook.stem}{NOTEBOOK_MODULE}"
        code, where = notebook_code(notebook, target.attribute.split(".")[0])
        (workspace / module).write_text(code, encoding="utf-8")
        folder = notebook.parent
        return Prepared(
            imported_files(folder, "engine", {f"engine/{module}": workspace / module}, classmates),
            {"file": f"engine/{module}", "attribute": target.attribute},
            {"engine": str(folder)},
            typed=str(target.path),
            cells={f"engine/{module}": where},
            notebook=str(target.path),
        )
    if target.path is not None:
        file = _own_file(target.path.expanduser())
        top = file.parent
        while (top / "__init__.py").is_file():  # a module of a package: imported as one, from above it
            top = top.parent
        relative = file.relative_to(top)
        name = f"engine/{relative.as_posix()}"
        packages = _module_files(top, ".".join(relative.with_suffix("").parts))[:-1]  # their __init__.py
        start = {name: file, **{f"engine/{p.relative_to(top).as_posix()}": p for p in packages}}
        return Prepared(
            imported_files(top, "engine", start, classmates),
            {"file": name, "attribute": target.attribute},
            {"engine": str(top)},
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
    folder = (origin.parent if origin.name == "__init__.py" else origin).parent  # where it was found
    files = _module_files(folder, module)
    if not files:
        raise TargetError(f"module {module!r} has no Python source to copy into the worker ({origin})")
    return Prepared(
        imported_files(folder, "modules", {f"modules/{f.relative_to(folder).as_posix()}": f for f in files},
                       classmates),
        {"module": module, "attribute": target.attribute},
        {"modules": str(folder)},
        ("modules",),
        module,
    )


def _own_file(typed: Path) -> Path:
    """The target file as typed, resolved; a link to a file outside its folder (a submission
    ``subs/eve.py -> /root/notes.py``) is refused, like any link out of a submission."""
    try:
        return inside(typed, typed.parent)
    except SubmissionFileError as exc:
        raise TargetError(str(exc)) from None
