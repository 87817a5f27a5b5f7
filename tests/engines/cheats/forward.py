"""A forward pass for every op of the catalogue and no backward: what each cheat here builds on.

Each node keeps its inputs (``_prev``), its op's name and the local derivatives of the op
(``_local``, one per input), and a creation number, so a cheat can walk its graph. None
of the cheats below multiplies local derivatives along a path: none has a chain rule.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

_made = itertools.count()


class Forward:
    def __init__(self, data: float, _prev: tuple = (), _op: str = "", _local: tuple = (), label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_prev)
        self._op = _op
        self._local = tuple(_local)
        self.label = label
        self.made = next(_made)
        self.exponent: float | None = None  # ``x ** k`` for a number k keeps k

    def __repr__(self) -> str:
        return f"Value(data={self.data})"

    @classmethod
    def lift(cls, x: Any) -> Forward:
        return x if isinstance(x, Forward) else cls(x)

    def _new(self, data: float, prev: tuple, op: str, local: tuple) -> Forward:
        return type(self)(data, prev, op, local)

    def __add__(self, other: Any) -> Forward:
        other = self.lift(other)
        return self._new(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __mul__(self, other: Any) -> Forward:
        other = self.lift(other)
        return self._new(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __pow__(self, k: Any) -> Forward:
        if isinstance(k, Forward):
            out = self.data**k.data
            local = (k.data * self.data ** (k.data - 1), out * math.log(self.data))
            return self._new(out, (self, k), "**", local)
        out = self._new(self.data**k, (self,), "**", (k * self.data ** (k - 1),))
        out.exponent = k
        return out

    def __rpow__(self, base: Any) -> Forward:
        return self.lift(base) ** self

    def __neg__(self) -> Forward:
        return self._new(-self.data, (self,), "neg", (-1.0,))

    def __sub__(self, other: Any) -> Forward:
        other = self.lift(other)
        return self._new(self.data - other.data, (self, other), "-", (1.0, -1.0))

    def __truediv__(self, other: Any) -> Forward:
        other = self.lift(other)
        return self._new(self.data / other.data, (self, other), "/",
                         (1.0 / other.data, -self.data / other.data**2))

    def __radd__(self, other: Any) -> Forward:
        return self + other

    def __rmul__(self, other: Any) -> Forward:
        return self * other

    def __rsub__(self, other: Any) -> Forward:
        return self.lift(other) - self

    def __rtruediv__(self, other: Any) -> Forward:
        return self.lift(other) / self

    def _unary(self, op: str, out: float, local: float) -> Forward:
        return self._new(out, (self,), op, (local,))

    def exp(self) -> Forward:
        return self._unary("exp", math.exp(self.data), math.exp(self.data))

    def log(self) -> Forward:
        return self._unary("log", math.log(self.data), 1.0 / self.data)

    def tanh(self) -> Forward:
        t = math.tanh(self.data)
        return self._unary("tanh", t, 1.0 - t * t)

    def relu(self) -> Forward:
        return self._unary("relu", max(self.data, 0.0), float(self.data > 0))

    def sigmoid(self) -> Forward:
        s = 1.0 / (1.0 + math.exp(-self.data))
        return self._unary("sigmoid", s, s * (1.0 - s))

    def sin(self) -> Forward:
        return self._unary("sin", math.sin(self.data), math.cos(self.data))

    def cos(self) -> Forward:
        return self._unary("cos", math.cos(self.data), -math.sin(self.data))

    def sqrt(self) -> Forward:
        return self._unary("sqrt", math.sqrt(self.data), 0.5 / math.sqrt(self.data))

    def __abs__(self) -> Forward:
        return self._unary("abs", abs(self.data), math.copysign(1.0, self.data) if self.data else 0.0)

    def nodes(self) -> list[Forward]:
        """Every node of this graph, in the order they were made."""
        seen: dict[int, Forward] = {}
        stack = [self]
        while stack:
            node = stack.pop()
            if id(node) not in seen:
                seen[id(node)] = node
                stack.extend(node._prev)
        return sorted(seen.values(), key=lambda node: node.made)

    def inputs(self) -> list[Forward]:
        """The labelled leaves (the case's inputs), in the order they were made."""
        return [node for node in self.nodes() if not node._prev and node.label]


def table_key(root: Forward) -> str:
    """How the table cheat names a graph: the ops it saw, in order, and its inputs' labels and values."""
    ops = " ".join(node._op for node in root.nodes() if node._prev)
    leaves = " ".join(f"{leaf.label}={leaf.data!r}" for leaf in root.inputs())
    return f"{ops} | {leaves}"
