"""twingrad.parity: prove, node by node, that a graph agrees with its PyTorch twin.

    compare(root)               every node's data and grad against torch  -> ParityReport
    assert_parity(root)         the same, raising AssertionError unless it agrees
    compare_nudge(root, 0.01)   a step along the gradient on both sides   -> NudgeReport
    check_function(fn, inputs)  one function on any engine and on torch   -> FunctionReport
    compare_training()          an MLP and its torch twin under SGD       -> TrainingReport

Importing this package does not import torch: `twingrad.parity.plan` (what a graph is)
must stay usable without it, so each name below loads its submodule -- and, for the
checks, torch -- on first use. Without the torch extra, that first use raises a
`twingrad.extras.MissingExtraError` whose one line says how to install it.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..extras import as_missing_extra

# public name -> the submodule defining it: the one list of this package's exports
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
    "op_vjp": "mirror",
    "Plan": "plan",
    "make_plan": "plan",
    "Kind": "plan",
    "LEAF": "plan",
    "CONSTANT": "plan",
    "Resolution": "plan",
    "Resolver": "plan",
    "ResolveError": "plan",
    "resolve_node": "plan",
    "symbol_resolver": "plan",
    "Recipe": "recipe",
    "node_names": "recipe",
    "Tolerance": "tolerances",
    "DEFAULT_RTOL": "tolerances",
    "DEFAULT_ATOL": "tolerances",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'twingrad.parity' has no attribute {name!r}")
    try:
        loaded = importlib.import_module(f".{module}", __name__)
    except ModuleNotFoundError as error:  # torch or numpy: one line naming the extra, no traceback chain
        missing = as_missing_extra(error, f"twingrad.parity.{name}")
        if missing is None:
            raise
        raise missing from None
    value = getattr(loaded, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
