"""A micrograd-style engine that spells its ops its own way, with one wrong derivative.

Only ``*`` exists, spelled ``'TIMES'``: mirroring it needs ``symbol_resolver({'TIMES':
'mul'})``. Its backward takes d(ab)/da as ``a`` instead of ``b``.
"""

from __future__ import annotations


class Shouting:
    def __init__(self, data: float, prev: tuple[Shouting, ...] = (), op: str = "") -> None:
        self.data, self.grad, self._prev, self._op = float(data), 0.0, prev, op

    def __mul__(self, other: Shouting) -> Shouting:
        return Shouting(self.data * other.data, (self, other), "TIMES")

    def backward(self) -> None:
        self.grad = 1.0
        a, b = self._prev
        a.grad, b.grad = a.data, b.data  # the bug: each input's own data, not the other's
