"""Finding the engine to check: ``package.module:Name`` or ``path/to/file.py:Name``.

Loading runs the learner's module, so it happens in the worker process (see
`twingrad.check.worker`), never in the command's own process: here the target is only
parsed and its files found, to be copied into the worker's scratch folder. Every way it can go wrong
becomes a `TargetError` with a one-line message: the command prints that line and exits
with status 2.
"""

from __future__ import annotations

import importlib.machinery
import sys
from dataclasses import dataclass, field
from pathlib import Path

OWN_ENGINE = "twingrad.engine:Value"


class TargetError(Exception):
    """The target cannot be loaded or is not a micrograd-style Value class."""


@dataclass(frozen=True)
class Target:
    """A parsed TARGET: a module name or a file path, and the attribute path inside it."""

    spec: str  # as the user wrote it
    module: str | None
    path: Path | None
    attribute: str

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else str(self.module)


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
    if head.endswith(".py") or "/" in head or "\\" in head:
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


# What the worker's scratch folder may receive of a user's folder (hidden entries and bytecode
# are never copied): far more than an engine needs, far less than a home folder holds.
MAX_FILES = 2000
MAX_BYTES = 64 << 20


def bounded(folder: Path) -> Path:
    """``folder``, once it is known to be small enough to copy into a worker's scratch folder."""
    count = size = 0
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if any(p.startswith(".") or p == "__pycache__" for p in parts) or not path.is_file():
            continue
        count += 1
        size += path.stat().st_size
        if count > MAX_FILES or size > MAX_BYTES:
            raise TargetError(
                f"{folder} holds more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB, all of which the "
                "worker would get: put the engine in a folder of its own"
            )
    return folder


def prepare(target: Target) -> Prepared:
    """What to copy into the worker's scratch folder for ``target``, and what to load there."""
    if target.path is not None:
        file = target.path.expanduser().resolve()
        top = file.parent
        while (top / "__init__.py").is_file():  # a module of a package: copy the whole package
            top = top.parent
        if top != file.parent:
            package = file.relative_to(top).parts[0]
            folder = bounded(top / package)
            return Prepared(
                {f"engine/{package}": folder},
                {"file": f"engine/{file.relative_to(top)}", "attribute": target.attribute},
                {"engine": str(top)},
                typed=str(target.path),
            )
        folder = bounded(file.parent)
        return Prepared(
            {"engine": folder},
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
