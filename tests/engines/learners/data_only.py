"""Broken: a Value that only holds numbers -- no operators, no ops, nothing to differentiate.

What a learner has after the first minutes of the lecture: data, grad, a label, and a
backward() that only seeds the output. ``x + y`` raises TypeError for every case.

Expected verdict: exit 2. Nothing can be checked: the run says the class has no
operators (none of + - * / ** and no op method), instead of reporting 35 unsupported
cases as a success.
"""

from __future__ import annotations


class Value:
    def __init__(self, data, label=""):
        self.data = data
        self.grad = 0.0
        self.label = label
        self._prev = ()
        self._op = ""

    def __repr__(self):
        return f"Value(data={self.data}, label={self.label!r})"

    def backward(self):
        self.grad = 1.0
