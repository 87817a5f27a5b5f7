"""Correct, inside a package: the rules come from a sibling module by a relative import.

Ops: + - * / ** (number exponents, numbers on either side), neg, exp, log, tanh, relu;
no x ** y (Value exponent), 2 ** x, sigmoid, sin, cos, sqrt, abs.

Expected verdict: exit 0, as for lecture.py -- once the checker imports the file as
``learnerpkg.engine`` (its package's parent on the path), not as a lone file, where
``from .rules import`` fails with "attempted relative import with no known parent package".
"""

from __future__ import annotations

from .rules import UNARY, mul_grads, pow_grad


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op

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
            da, db = mul_grads(self.data, other.data)
            self.grad += da * out.grad
            other.grad += db * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        assert isinstance(k, (int, float)), "only number exponents"
        out = Value(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += pow_grad(self.data, k) * out.grad
        out._backward = _backward
        return out

    def _unary(self, name):
        forward, local = UNARY[name]
        out = Value(forward(self.data), (self,), name)

        def _backward():
            self.grad += local(self.data, out.data) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        return self._unary("exp")

    def log(self):
        return self._unary("log")

    def tanh(self):
        return self._unary("tanh")

    def relu(self):
        return self._unary("relu")

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __truediv__(self, other):
        return self * other**-1

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
