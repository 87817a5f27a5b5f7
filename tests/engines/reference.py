"""A small, correct engine in the lecture's style: the template of the checker's test engines.

Written the way learners write theirs -- a closure per node, ``_prev`` a container of
children, numbers on either side wrapped into Values -- with a few seams that
`variants.py` overrides one at a time, so that each buggy engine differs from this one
by exactly its bug:

* ``local``: the local derivative of each op, as a table;
* ``store``: how ``data`` is kept (float64 here);
* ``accumulate``: how a gradient reaches a child (``+=`` here);
* ``order``: the topological order backward walks (iterative, children first);
* ``children``: the container type of ``_prev``, and ``edges`` the attribute that holds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar


class Value:
    children: ClassVar[type] = tuple
    edges: ClassVar[str] = "_prev"
    local: ClassVar[dict[str, Callable[..., Any]]] = {
        "mul": lambda a, b, out: (b, a),  # d(ab)/da, d(ab)/db
        "pow": lambda x, k, out: k * x ** (k - 1),
        "exp": lambda x, out: out,
        "log": lambda x, out: 1 / x,
        "tanh": lambda x, out: 1 - out**2,
        "sigmoid": lambda x, out: out * (1 - out),
        "relu": lambda x, out: float(out > 0),
    }

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = "") -> None:
        self.data = self.store(data)
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        setattr(self, self.edges, self.children(_children))
        self._op = _op

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    @staticmethod
    def store(x: float) -> float:
        return float(x)

    def accumulate(self, g: float) -> None:
        self.grad += g

    def lift(self, other: Any) -> Value:
        return other if isinstance(other, Value) else type(self)(other)

    # -- ops ---------------------------------------------------------------------------

    def __add__(self, other: Any) -> Value:
        other = self.lift(other)
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.accumulate(out.grad)
            other.accumulate(out.grad)

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> Value:
        other = self.lift(other)
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            da, db = self.local["mul"](self.data, other.data, out.data)
            self.accumulate(da * out.grad)
            other.accumulate(db * out.grad)

        out._backward = _backward
        return out

    def __pow__(self, k: Any) -> Value:
        if not isinstance(k, (int, float)):
            return NotImplemented  # Value exponents are not supported, as in micrograd
        out = type(self)(self.data**k, (self,), f"**{k}")

        def _backward() -> None:
            self.accumulate(self.local["pow"](self.data, k, out.data) * out.grad)

        out._backward = _backward
        return out

    def _unary(self, name: str, data: float) -> Value:
        out = type(self)(data, (self,), name)

        def _backward() -> None:
            self.accumulate(self.local[name](self.data, out.data) * out.grad)

        out._backward = _backward
        return out

    def exp(self) -> Value:
        return self._unary("exp", math.exp(self.data))

    def log(self) -> Value:
        return self._unary("log", math.log(self.data))

    def tanh(self) -> Value:
        return self._unary("tanh", math.tanh(self.data))

    def sigmoid(self) -> Value:
        return self._unary("sigmoid", 1 / (1 + math.exp(-self.data)))

    def relu(self) -> Value:
        return self._unary("relu", max(self.data, 0.0))

    # Everything else is a composition of the ops above, as in micrograd.
    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Any) -> Value:
        return self + (-other)

    def __truediv__(self, other: Any) -> Value:
        return self * other**-1

    def __radd__(self, other: Any) -> Value:
        return self + other

    def __rmul__(self, other: Any) -> Value:
        return self * other

    def __rsub__(self, other: Any) -> Value:
        return other + (-self)

    def __rtruediv__(self, other: Any) -> Value:
        return other * self**-1

    # -- backward ----------------------------------------------------------------------

    def order(self) -> list[Value]:
        """Every node under self, children before parents (iterative depth-first)."""
        topo: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                topo.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in getattr(node, self.edges))
        return topo

    def backward(self) -> None:
        self.grad = 1.0
        for node in reversed(self.order()):
            node._backward()
