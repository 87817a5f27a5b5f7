"""twingrad's optional parts, and the one message for one that is missing.

`import twingrad` needs nothing beyond the standard library. The parity checks and
`twingrad check` need the ``torch`` extra (torch and numpy); `twingrad bench --chart` needs
matplotlib, from the ``bench`` extra. Code that needs an extra asks `require` before it
starts, so that a missing module is one line naming the extra to install -- not a
traceback from deep inside an import, halfway through the work.
"""

from __future__ import annotations

import importlib.util

# module -> the extra of pyproject.toml that installs it
EXTRA_OF = {"torch": "torch", "numpy": "torch", "matplotlib": "bench"}


class MissingExtraError(ModuleNotFoundError):
    """A module of an optional extra is not installed; the message is one line saying which
    extra to install."""


def missing(extra: str) -> str | None:
    """The first module of ``extra`` that cannot be imported here, or None when all can."""
    for module, of in EXTRA_OF.items():
        if of == extra and importlib.util.find_spec(module) is None:
            return module
    return None


def message(what: str, module: str) -> str:
    """``what`` needs ``module``: the one line that says so and how to install it."""
    return f"{what} needs {module}, which is not installed: pip install 'twingrad[{EXTRA_OF[module]}]'"


def require(extra: str, what: str) -> None:
    """Raise `MissingExtraError` unless every module of ``extra`` can be imported."""
    module = missing(extra)
    if module is not None:
        raise MissingExtraError(message(what, module), name=module)


def as_missing_extra(error: ModuleNotFoundError, what: str) -> MissingExtraError | None:
    """`error` as a `MissingExtraError` for ``what`` when the module it names belongs to an extra."""
    module = (error.name or "").partition(".")[0]
    if module not in EXTRA_OF:
        return None
    return MissingExtraError(message(what, module), name=module)
