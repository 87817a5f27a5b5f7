"""A correct engine that looks nothing like micrograd's, for the checker's no-false-alarm tests.

Word op labels (``add``, ``div``, ``pow`` ...), subtraction, division and negation as ops
of their own, Value exponents (``x ** y``, ``2 ** x``), no closures (a local-derivative
method per op), Kahn's algorithm for the order, and a backward that zeroes every
gradient before it starts (so calling it twice gives the same gradients, not twice them).
"""

from __future__ import annotations

import math
from typing import Any


class Num:
    def __init__(self, data: float, inputs: tuple[Num, ...] = (), op: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self._prev = inputs
        self._op = op

    @staticmethod
    def _num(x: Any) -> Num:
        return x if isinstance(x, Num) else Num(x)

    def _apply(self, op: str, data: float, *inputs: Num) -> Num:
        return Num(data, inputs, op)

    def __add__(self, o: Any) -> Num:
        o = self._num(o)
        return self._apply("add", self.data + o.data, self, o)

    def __sub__(self, o: Any) -> Num:
        o = self._num(o)
        return self._apply("sub", self.data - o.data, self, o)

    def __mul__(self, o: Any) -> Num:
        o = self._num(o)
        return self._apply("mul", self.data * o.data, self, o)

    def __truediv__(self, o: Any) -> Num:
        o = self._num(o)
        return self._apply("div", self.data / o.data, self, o)

    def __pow__(self, o: Any) -> Num:
        o = self._num(o)
        return self._apply("pow", self.data**o.data, self, o)

    def __radd__(self, o: Any) -> Num:
        return self._num(o) + self

    def __rsub__(self, o: Any) -> Num:
        return self._num(o) - self

    def __rmul__(self, o: Any) -> Num:
        return self._num(o) * self

    def __rtruediv__(self, o: Any) -> Num:
        return self._num(o) / self

    def __rpow__(self, o: Any) -> Num:
        return self._num(o) ** self

    def __neg__(self) -> Num:
        return self._apply("neg", -self.data, self)

    def exp(self) -> Num:
        return self._apply("exp", math.exp(self.data), self)

    def log(self) -> Num:
        return self._apply("ln", math.log(self.data), self)

    def tanh(self) -> Num:
        return self._apply("tanh", math.tanh(self.data), self)

    def sigmoid(self) -> Num:
        return self._apply("sigmoid", 1 / (1 + math.exp(-self.data)), self)

    def relu(self) -> Num:
        return self._apply("relu", self.data if self.data > 0 else 0.0, self)

    def _local(self) -> tuple[float, ...]:
        """d self / d input for each input, from the op that made self."""
        p = [q.data for q in self._prev]
        y = self.data
        return {
            "add": lambda: (1.0, 1.0),
            "sub": lambda: (1.0, -1.0),
            "mul": lambda: (p[1], p[0]),
            "div": lambda: (1 / p[1], -p[0] / p[1] ** 2),
            "pow": lambda: (p[1] * p[0] ** (p[1] - 1), y * math.log(p[0]) if p[0] > 0 else 0.0),
            "neg": lambda: (-1.0,),
            "exp": lambda: (y,),
            "ln": lambda: (1 / p[0],),
            "tanh": lambda: (1 - y * y,),
            "sigmoid": lambda: (y * (1 - y),),
            "relu": lambda: (1.0 if y > 0 else 0.0,),
        }[self._op]()

    def backward(self) -> None:
        # Count each node's consumers, then release a node once all of them are done.
        nodes, stack, users = [], [self], {}
        while stack:
            node = stack.pop()
            if id(node) in users:
                continue
            users[id(node)] = 0
            nodes.append(node)
            stack.extend(node._prev)
        for node in nodes:
            node.grad = 0.0
            for child in node._prev:
                users[id(child)] += 1
        ready = [self]
        self.grad = 1.0
        while ready:
            node = ready.pop()
            if not node._prev:
                continue
            for child, d in zip(node._prev, node._local()):
                child.grad += d * node.grad
                users[id(child)] -= 1
                if users[id(child)] == 0:
                    ready.append(child)
