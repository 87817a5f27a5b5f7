"""Engines for the checker's tests, each the reference engine with one change.

Buggy ones carry one classic mistake of a learner's engine; the others are correct
engines written differently, on which the checker must raise no alarm. The checker loads
them by path, e.g. ``tests/engines/variants.py:TanhGrad``.
"""

from __future__ import annotations

import math
import os
import struct
from typing import Any

from reference import Value


def _override(name: str, rule: Any) -> dict[str, Any]:
    return {**Value.local, name: rule}


# -- a wrong local derivative in one op ------------------------------------------------


class TanhGrad(Value):
    local = _override("tanh", lambda x, out: 1 - out)  # forgot the square


class ExpGrad(Value):
    local = _override("exp", lambda x, out: x)  # d/dx e^x taken as x


class LogGrad(Value):
    local = _override("log", lambda x, out: 1 / out)  # divided by the output


class PowGrad(Value):
    local = _override("pow", lambda x, k, out: k * x**k)  # exponent not lowered


class SigmoidGrad(Value):
    local = _override("sigmoid", lambda x, out: 1 - out)  # dropped a factor


class ReluGrad(Value):
    local = _override("relu", lambda x, out: out)  # passes the output, not the step


class MulGrad(Value):
    local = _override("mul", lambda a, b, out: (a, b))  # each side gets its own value


class NanLogGrad(Value):
    local = _override("log", lambda x, out: math.nan)  # e.g. a 0/0 on the way


# -- bookkeeping bugs ---------------------------------------------------------------------


class Overwrite(Value):
    def accumulate(self, g: float) -> None:
        self.grad = g  # `=` instead of `+=`: a node used twice keeps one contribution


class AddOverwrite(Value):
    def __add__(self, other: Any) -> Value:
        out = super().__add__(other)

        def _backward() -> None:  # the lecture's first version: `=`, so `a + a` keeps one share
            for child in out._prev:
                child.grad = out.grad

        out._backward = _backward
        return out


class TanhOverwrite(Value):
    def tanh(self) -> Value:
        out = super().tanh()

        def _backward() -> None:
            self.grad = (1 - out.data**2) * out.grad  # `=`: what reached self before is lost

        out._backward = _backward
        return out


class WrongOrder(Value):
    def order(self) -> list[Value]:
        # Breadth-first from the root, reversed so backward still starts at the root: a
        # node reached early by a short path runs its backward before all its gradient arrived.
        seen = {id(self)}
        level = [self]
        walk: list[Value] = []
        while level:
            walk.extend(level)
            nxt = []
            for node in level:
                for child in node._prev:
                    if id(child) not in seen:
                        seen.add(id(child))
                        nxt.append(child)
            level = nxt
        return walk[::-1]


class RsubSign(Value):
    def __rsub__(self, other: Any) -> Value:
        return self - other  # 1 - x computed as x - 1


class RdivOrder(Value):
    def __rtruediv__(self, other: Any) -> Value:
        return self / other  # 2 / x computed as x / 2


class RmulFloat(Value):
    def __rmul__(self, other: Any) -> Any:
        return other * self.data  # a plain float: the graph is cut here


class Float32(Value):
    @staticmethod
    def store(x: float) -> float:
        return struct.unpack("f", struct.pack("f", x))[0]


# -- engines that misbehave in ways the harness must survive -------------------------------


class Hang(Value):
    def backward(self) -> None:
        while True:
            pass


class Crash(Value):
    def backward(self) -> None:
        os._exit(3)  # the process dies without a word


class NoneTanh(Value):
    def tanh(self) -> Any:
        self.data = float("nan")  # damages its input, then forgets to return
        return None


class Chatty(Value):
    def backward(self) -> None:
        print("backward!")  # engines print; the checker's own output must not mind
        super().backward()


# -- correct engines written differently --------------------------------------------------


class SetChildren(Value):
    children = set  # as micrograd: `a + a` has one child


class ListChildren(Value):
    children = list


class RecursiveOrder(Value):
    def order(self) -> list[Value]:
        topo: list[Value] = []
        seen: set[int] = set()

        def visit(node: Value) -> None:
            if id(node) not in seen:
                seen.add(id(node))
                for child in node._prev:
                    visit(child)
                topo.append(node)

        visit(self)
        return topo
