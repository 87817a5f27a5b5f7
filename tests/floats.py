"""Float comparison helpers for tests: bit-level equality and ULP distance."""

from __future__ import annotations

import math
import struct


def ordered_bits(x: float) -> int:
    """Map a float to an integer so that adjacent floats differ by one."""
    (n,) = struct.unpack("<q", struct.pack("<d", x))
    return n if n >= 0 else -(n & 0x7FFFFFFFFFFFFFFF)


def same_bits(x: float, y: float) -> bool:
    """Equal as torch would print them: nan matches nan, -0.0 differs from 0.0."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return struct.pack("<d", x) == struct.pack("<d", y)


def ulps(x: float, y: float) -> float:
    if math.isnan(x) or math.isnan(y):
        return 0.0 if math.isnan(x) and math.isnan(y) else math.inf
    if math.isinf(x) or math.isinf(y):
        return 0.0 if x == y else math.inf
    return float(abs(ordered_bits(x) - ordered_bits(y)))
