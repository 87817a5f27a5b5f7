"""Correct, torch-style opt-in under names of its own: ``Value(x, require_grad=True)`` (no
s, as a learner of the held-out sample spells it) is a parameter, and the engine keeps that
as ``.tracked`` (a name no checker guesses). A node
is tracked when any input is; after backward(), untracked nodes are left at 0.

Ops: + - * / ** (number exponents, numbers on either side), neg, exp, log, tanh, relu;
no x ** y (Value exponent), 2 ** x, sigmoid, sin, cos, sqrt, abs.

Expected verdict: exit 0, as requires_grad.py: the checker makes its inputs with
``require_grad=True`` since the constructor takes it.
"""

from __future__ import annotations

import math


class Value:
    def __init__(self, data, _children=(), _op="", require_grad=False):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op
        self.tracked = require_grad or any(c.tracked for c in self._prev)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        assert isinstance(k, (int, float)), "only number exponents"
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += (1 / self.data) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(0.0, self.data), (self,), "relu")

        def _backward():
            self.grad += (out.data > 0) * out.grad
        out._backward = _backward
        return out

    # the rest is built from the ops above, as in the lecture
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * other**-1

    __radd__ = __add__  # a number on the left: addition and multiplication commute
    __rmul__ = __mul__

    def __rsub__(self, other):
        return other + (-self)

    def __rtruediv__(self, other):
        return other * self**-1

    def backward(self):
        topo, seen = [], set()

        def visit(v):
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    visit(child)
                topo.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()
        for v in topo:  # constants take part in the rules but keep no gradient
            if not v.tracked:
                v.grad = 0.0
