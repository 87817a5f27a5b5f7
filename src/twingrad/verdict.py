"""The vocabulary of every verdict, parity's and the checker's alike: statuses and the first mismatch.

`twingrad.parity.check_function` gives ``pass``, ``fail`` or ``error``; `twingrad check`
adds the statuses only an engine in another process can earn. A `Mismatch` is the first
number that disagrees, in the shape every JSON report uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PASS = "pass"
FAIL = "fail"
ERROR = "error"
TIMEOUT = "timeout"
UNSUPPORTED = "unsupported"
NOTE = "note"
# Summary order: what needs attention first.
STATUSES = (FAIL, ERROR, TIMEOUT, PASS, NOTE, UNSUPPORTED)
BAD = frozenset({FAIL, ERROR, TIMEOUT})

# Whose number an expected value is (`Mismatch.by`), and the names the twins go by in reports.
BY_TORCH = "torch"
BY_TWINGRAD = "twingrad"


@dataclass(frozen=True)
class Mismatch:
    """The first number that disagrees: which node, data or grad, the engine's value and the
    expected one, and whose number that is (``by``): ``"torch"`` for torch's own run, or
    ``"twingrad"`` for twingrad's float64 replay with its op table (torch's formulas) or
    arithmetic on the engine's own numbers (``x + step * x.grad``)."""

    where: str
    quantity: str  # "data" or "grad"
    engine: float | str | None  # a str only after a trip through JSON ("nan", "inf")
    expected: float | str | None
    by: str = BY_TORCH

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "quantity": self.quantity, "engine": json_number(self.engine),
                "expected": json_number(self.expected), "by": self.by}


def json_number(x: float | str | None) -> float | str | None:
    """A number for JSON: ``"nan"``, ``"inf"``, ``"-inf"`` for the values JSON cannot hold (a
    string that already says so passes through, as after a trip through JSON)."""
    if x is None or isinstance(x, str):
        return x
    x = float(x)  # numpy's scalars too
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x
