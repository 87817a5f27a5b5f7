"""Finding the engine to check: ``package.module:Name`` or ``path/to/file.py:Name``.

Loading runs the learner's module, so it happens in the worker process (see
`twingrad.check.worker`), never in the command's own process. Every way it can go wrong
becomes a `TargetError` with a one-line message: the command prints that line and exits
with status 2.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .failures import describe

OWN_ENGINE = "twingrad.engine:Value"
PROBE_INPUT = 2.0


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


def _import_file(path: Path) -> Any:
    resolved = path.expanduser().resolve()
    # A unique module name per file: two engines called engine.py must not meet in sys.modules.
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    name = f"_twingrad_check_{resolved.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    # As when the file is run as a script: its own folder comes first, so its imports work.
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise TargetError(f"importing {path} failed: {describe(exc)}") from None
    return module


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise TargetError(f"no module named {exc.name!r} (run from the folder that holds it)") from None
        raise TargetError(f"importing {name} failed: {describe(exc)}") from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise TargetError(f"importing {name} failed: {describe(exc)}") from None


def _classes_in(module: Any) -> list[str]:
    return sorted(
        key for key, value in vars(module).items()
        if isinstance(value, type) and getattr(value, "__module__", None) == module.__name__
    )


def load(target: Target) -> Any:
    """Import the target's module and return the engine class, checked to make Values."""
    locate(target.spec)
    module = _import_file(target.path) if target.path is not None else _import_module(str(target.module))
    engine: Any = module
    for part in target.attribute.split("."):
        try:
            engine = getattr(engine, part)
        except AttributeError:
            hint = ""
            if engine is module:
                classes = _classes_in(module)
                hint = f" (it defines: {', '.join(classes)})" if classes else " (it defines no class)"
            raise TargetError(f"{target.where} has no attribute {target.attribute!r}{hint}") from None
        except BaseException as exc:  # a module-level __getattr__ can do anything
            raise TargetError(f"{target.spec}: {describe(exc)}") from None
    probe(engine, target.spec)
    return engine


def probe(engine: Any, shown: str) -> None:
    """Refuse what is not a micrograd-style class: it must make a Value with data and backward()."""
    if not callable(engine):
        raise TargetError(f"{shown} is a {type(engine).__name__}, not a class")
    try:
        value = engine(PROBE_INPUT)
        usable = hasattr(value, "data") and callable(getattr(value, "backward", None))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise TargetError(f"{shown}({PROBE_INPUT}) failed: {describe(exc)}") from None
    if not usable:
        raise TargetError(
            f"{shown}({PROBE_INPUT}) gave a {type(value).__name__} without .data and .backward(): "
            "not a micrograd-style Value"
        )
