"""How far apart two numbers are, and how far is too far: the one place that says so.

A number of the engine (``actual``) agrees with torch's (``expected``) when

* both are nan, or both are the same infinity, or they are equal; or
* both are finite and ``|actual - expected| <= atol + rtol * scale``, where ``scale`` is
  ``|expected|`` for a node compared with its torch twin, and the magnitude of the terms
  that produced it where the comparison is local (see `twingrad.parity.comparison`).

Why these defaults:

* ``DEFAULT_RTOL = 1e-10``. Python's ``math`` and torch's kernels differ by at most 2 ULP
  per op (2 ULP is 4.4e-16 relative), and a graph may amplify that: ``tanh'`` turns a
  1-ULP difference of ``tanh(2.5)`` into 40 ULP, ``1 - tanh(10)**2`` into 2.7e-8 relative.
  A value rounded through float32 carries a relative error of up to 6e-8 -- above 1e-10
  for all but 0.3% of values, so it is flagged. 1e-10 leaves a factor 2e5 of headroom
  for conditioning; what exceeds even that is judged op by op (a *local* check, with the
  engine's own inputs) before anything is called a divergence. The same rtol bounds the
  local check, against the size of the terms the op combined: an op whose error stays
  below ``rtol`` times that size is, by this definition, right.
* ``DEFAULT_ATOL = 1e-300``: only below the normal range (2.2e-308) is one ULP a large
  relative step; anything that went through float32 (smallest subnormal 1.4e-45) is far
  above it. Cancellation is handled by ``scale``, not by a large ``atol``: an absolute
  floor big enough for one graph's sums would hide float32 rounding in another's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_RTOL = 1e-10
DEFAULT_ATOL = 1e-300

_SIGN_BIT = np.int64(0x7FFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class Tolerance:
    """An ``rtol``/``atol`` pair; `Tolerance.of` fills in the defaults for ``None``."""

    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL

    @classmethod
    def of(cls, rtol: float | None = None, atol: float | None = None) -> Tolerance:
        tol = cls(
            DEFAULT_RTOL if rtol is None else float(rtol), DEFAULT_ATOL if atol is None else float(atol)
        )
        if not (tol.rtol >= 0.0 and tol.atol >= 0.0):
            raise ValueError(f"rtol and atol must be non-negative numbers, not {tol.rtol!r}, {tol.atol!r}")
        return tol

    def close(self, actual: float, expected: float, scale: float | None = None) -> bool:
        """One pair of numbers; ``scale`` defaults to ``|expected|``."""
        if actual == expected or (actual != actual and expected != expected):
            return True
        if not (math.isfinite(actual) and math.isfinite(expected)):
            return False
        bound = abs(expected) if scale is None else scale
        return abs(actual - expected) <= self.atol + self.rtol * bound

    def close_all(self, actual: np.ndarray, expected: np.ndarray, scale: float | None = None) -> np.ndarray:
        """`close` element by element, for whole columns at once.

        ``scale`` (one number for all elements) compares vectors as a whole: with the
        largest ``|expected|`` it bounds every gap by the vector's size, which is how a
        gradient whose terms nearly cancel in one component should be judged.
        """
        bound = np.abs(expected) if scale is None else scale
        with np.errstate(invalid="ignore", over="ignore"):
            within = np.abs(actual - expected) <= self.atol + self.rtol * bound
            same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
        return same | (within & np.isfinite(actual) & np.isfinite(expected))

    def describe(self) -> str:
        return f"rtol {self.rtol:g}, atol {self.atol:g}"


def differences(actual: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Absolute, relative (to ``|expected|``) and ULP distances, element by element.

    Equal numbers (0.0 and -0.0 among them), two nans and two equal infinities are 0
    apart; a nan or an infinity against anything else is infinitely far. The ULP distance
    counts the steps between adjacent float64 values from one number to the other.
    """
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
        absolute = np.where(same, 0.0, np.abs(actual - expected))
        absolute = np.where(np.isnan(absolute), np.inf, absolute)
        relative = np.where(absolute == 0.0, 0.0, absolute / np.abs(expected))
        ordered_a, ordered_e = _ordered(actual), _ordered(expected)
        # Two int64s of opposite sign can be more than 2**63 apart: subtract those as floats.
        opposite = (ordered_a < 0) != (ordered_e < 0)
        exact = np.abs(ordered_a - np.where(opposite, ordered_a, ordered_e)).astype(np.float64)
        wide = np.abs(ordered_a.astype(np.float64) - ordered_e.astype(np.float64))
        ulps = np.where(opposite, wide, exact)
        ulps = np.where(same, 0.0, np.where(np.isfinite(actual) & np.isfinite(expected), ulps, np.inf))
    return absolute, relative, ulps


def _ordered(x: np.ndarray) -> np.ndarray:
    """float64 bit patterns as int64s that count up with the value (adjacent floats differ by 1)."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.int64)
    return np.where(bits >= 0, bits, -(bits & _SIGN_BIT))


def difference(actual: float, expected: float) -> tuple[float, float, float]:
    """`differences` for one pair of numbers."""
    a, r, u = differences(np.array([actual], dtype=np.float64), np.array([expected], dtype=np.float64))
    return float(a[0]), float(r[0]), float(u[0])
