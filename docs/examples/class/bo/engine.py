"""Bo's submission: written another way (`.val`, `_children`, `backprop()`), with one bug in
tanh's derivative (docs/class.md)."""

import math


class Value:
    def __init__(self, val, _children=(), op=""):
        self.val = val
        self.grad = 0.0
        self._children = tuple(_children)
        self.op = op
        self._grad_fn = None  # how to pass this node's gradient to its children

    def _wrap(self, x):
        return x if isinstance(x, Value) else Value(x)

    def _made(self, val, children, op, local):
        """A new node whose children get ``local[i] * grad`` each when backprop reaches it."""
        out = Value(val, children, op)

        def pass_down():
            for child, slope in zip(children, local):
                child.grad += slope * out.grad

        out._grad_fn = pass_down
        return out

    def __add__(self, other):
        other = self._wrap(other)
        return self._made(self.val + other.val, (self, other), "+", (1.0, 1.0))

    def __mul__(self, other):
        other = self._wrap(other)
        return self._made(self.val * other.val, (self, other), "*", (other.val, self.val))

    def __pow__(self, k):
        return self._made(self.val**k, (self,), "**", (k * self.val ** (k - 1),))

    def exp(self):
        e = math.exp(self.val)
        return self._made(e, (self,), "exp", (e,))

    def tanh(self):
        x = self.val
        return self._made(math.tanh(x), (self,), "tanh", (1 - x**2,))  # the bug: 1 - x², not 1 - tanh(x)²

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-self._wrap(other))

    def __truediv__(self, other):
        return self * self._wrap(other) ** -1

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other):
        return self._wrap(other) - self

    def __rtruediv__(self, other):
        return self._wrap(other) / self

    def backprop(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._children)
        self.grad = 1.0
        for node in reversed(order):
            if node._grad_fn is not None:
                node._grad_fn()
