"""twingrad's optional parts, and the one message for one that is missing.

`import twingrad` needs nothing beyond the standard library. The parity checks need the
``torch`` extra (torch and numpy); `twingrad check` only the ``check`` extra (numpy: its
expected numbers come from the op table, never from torch); `twingrad bench --chart`
needs matplotlib, from the ``bench`` extra. Code that needs an extra asks `require` before it
starts, so that a missing module is one line naming the extra to install -- not a
traceback from deep inside an import, halfway through the work.
"""

from __future__ import annotations

import importlib.util

# extra of pyproject.toml -> the modules it installs; a module's own extra is the first naming it
MODULES_OF = {"torch": ("torch", "numpy"), "check": ("numpy",), "bench": ("matplotlib",)}
EXTRA_OF = {module: extra for extra, modules in reversed(MODULES_OF.items()) for module in modules}


class MissingExtraError(ModuleNotFoundError):
    """A module of an optional extra is not installed; the message is one line saying which
    extra to install."""


def missing(extra: str) -> str | None:
    """The first module of ``extra`` that cannot be imported here, or None when all can."""
    for module in MODULES_OF[extra]:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def message(what: str, module: str, extra: str | None = None) -> str:
    """``what`` needs ``module`` (from ``extra``, by default the module's own): the one line that
    says so and how to install it."""
    install = f"pip install 'twingrad[{extra or EXTRA_OF[module]}]'"
    return f"{what} needs {module}, which is not installed: {install}"


def require(extra: str, what: str) -> None:
    """Raise `MissingExtraError` unless every module of ``extra`` can be imported."""
    module = missing(extra)
    if module is not None:
        raise MissingExtraError(message(what, module, extra), name=module)


def as_missing_extra(error: ModuleNotFoundError, what: str) -> MissingExtraError | None:
    """`error` as a `MissingExtraError` for ``what`` when the module it names belongs to an extra."""
    module = (error.name or "").partition(".")[0]
    if module not in EXTRA_OF:
        return None
    return MissingExtraError(message(what, module), name=module)
