"""`lecture.py` with the lecture's classic bug: `__add__`'s backward assigns (`=`), not adds (`+=`)."""

from __future__ import annotations

from lecture import Value as Correct


class Value(Correct):
    def __add__(self, other):
        other = other if isinstance(other, Correct) else Value(other)  # Correct's ops make Correct nodes
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad = out.grad
            other.grad = out.grad

        out._backward = _backward
        return out
