"""Correct, split over two files: the unary ops live here and ``import engine`` (a sibling).

The learner runs it from its own folder, where ``import engine`` finds ``engine.py``;
this module attaches exp, log, tanh and relu to ``engine.Value`` and re-exports it.

Ops: + - * / ** (number exponents, numbers on either side), neg, exp, log, tanh, relu;
no x ** y (Value exponent), 2 ** x, sigmoid, sin, cos, sqrt, abs.

Expected verdict: exit 0, as for lecture.py: the sibling import works, every case with
its ops passes, the others are unsupported, backward_twice is a note.
"""

from __future__ import annotations

import math

import engine

Value = engine.Value


def _unary(name, forward, local):
    """A method computing ``forward(x)`` whose local derivative is ``local(x, out)``."""

    def op(self):
        out = Value(forward(self.data), (self,), name)

        def _backward():
            self.grad += local(self.data, out.data) * out.grad
        out._backward = _backward
        return out

    op.__name__ = name
    return op


Value.exp = _unary("exp", math.exp, lambda x, out: out)
Value.log = _unary("log", math.log, lambda x, out: 1 / x)
Value.tanh = _unary("tanh", math.tanh, lambda x, out: 1 - out**2)
Value.relu = _unary("relu", lambda x: max(0.0, x), lambda x, out: float(out > 0))
