"""twingrad.parity: prove, node by node, that a graph agrees with its PyTorch twin.

Importing this package is cheap: each name loads its submodule (and torch) on first
use, so the pytest plugin (`twingrad.parity.pytest_plugin`) is registered without torch.

    compare(root)               every node's data and grad against torch  -> ParityReport
    assert_parity(root)         the same, raising AssertionError unless it agrees
    compare_nudge(root, 0.01)   a step along the gradient on both sides   -> NudgeReport
    check_function(fn, inputs)  one function on any engine and on torch   -> FunctionReport
    compare_training()          an MLP and its torch twin under SGD       -> TrainingReport
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> the submodule defining it
_EXPORTS = {
    "compare": "comparison",
    "assert_parity": "comparison",
    "ParityReport": "report",
    "Row": "report",
    "compare_nudge": "nudge",
    "NudgeReport": "nudge",
    "check_function": "function",
    "FunctionReport": "function",
    "Mismatch": "function",
    "compare_training": "training",
    "TrainingReport": "training",
    "torch_twin": "training",
    "Witness": "numeric",
    "Mirror": "mirror",
    "make_plan": "mirror",
    "resolve_node": "mirror",
    "symbol_resolver": "mirror",
    "ResolveError": "mirror",
    "LEAF": "mirror",
    "CONSTANT": "mirror",
    "Tolerance": "tolerances",
    "DEFAULT_RTOL": "tolerances",
    "DEFAULT_ATOL": "tolerances",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ loads each on demand
    from .comparison import assert_parity, compare  # noqa: F401
    from .function import FunctionReport, Mismatch, check_function  # noqa: F401
    from .mirror import CONSTANT, LEAF, Mirror, ResolveError, make_plan, resolve_node, symbol_resolver  # noqa: F401
    from .nudge import NudgeReport, compare_nudge  # noqa: F401
    from .numeric import Witness  # noqa: F401
    from .report import ParityReport, Row  # noqa: F401
    from .tolerances import DEFAULT_ATOL, DEFAULT_RTOL, Tolerance  # noqa: F401
    from .training import TrainingReport, compare_training, torch_twin  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'twingrad.parity' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
