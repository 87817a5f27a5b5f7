"""Broken, with its backward pass as a function at module level: ``backward(loss)``, not a
method, as some learners write it. Its tanh derivative is ``1 - x**2`` (x the input).

Ops: + * (numbers on either side), tanh; no -, /, **.

Expected verdict: exit 1, found without help (backward via backward_function:backward()):
the tanh cases fail naming 1 − x²; the rest passes or is unsupported.
"""

import math


class Value:
    def __init__(self, data, _children=()):
        self.data = data
        self.grad = 0.0
        self._prev = tuple(_children)
        self._backward = lambda: None

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    __radd__ = __add__
    __rmul__ = __mul__

    def tanh(self):
        x = self.data
        out = Value(math.tanh(x), (self,))

        def _backward():
            self.grad += (1 - x**2) * out.grad  # the input squared, where tanh(x) belongs
        out._backward = _backward
        return out


def backward(loss):
    """The whole backward pass, from ``loss``: nodes in topological order, then each rule."""
    order, seen = [], set()
    stack = [(loss, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev)
    loss.grad = 1.0
    for node in reversed(order):
        node._backward()
