"""Broken: every backward rule assigns with ``=`` instead of adding with ``+=``, and no
operator wraps a plain number into a Value.

Only Values may meet in an op: ``x + 3.0`` raises AttributeError inside ``__add__``, as
the learner never needed numbers. The ``=`` is the bug that matters: any node used
twice keeps only the last share of its gradient.

Ops: + * (Values only), tanh, exp; ``-`` and ``**`` missing.

Expected verdict: exit 1. reuse_a_plus_a, reuse_a_times_a and the other reuse cases
fail, explained as gradients overwritten (``=`` where ``+=`` belongs) -- never as "add is
wrong on its own" because a probe's ``x + 3.0`` raised; cases adding plain numbers
are errors at ``__add__``/``__mul__``.
"""

import math


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad = out.grad
            other.grad = out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad = (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad = out.data * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo, seen = [], set()

        def build(v):
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
