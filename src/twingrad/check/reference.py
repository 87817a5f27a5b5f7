"""The expected numbers of a case -- output, input gradients, nudged output -- computed here, in the parent.

Most inputs of a check are drawn afresh for every run (`twingrad.check.inputs`), so
nothing can be recorded ahead of a run and nothing is: the numbers a verdict compares
with are computed in the parent, once per case and run, by the op table's float64 twin
(`twingrad.parity.twin.TABLE`: the formulas of torch's ``derivatives.yaml`` in plain
floats, replayed over twingrad's own graph of the case). That is one mechanism for the
drawn cases and for the fixed lecture cases alike, it needs no torch (a check starts and
ends in well under a second), and it is the same twin that explains a failure node by
node. torch confirms it: `tests/test_check_reference.py` holds these numbers to torch's
own run of every case at drawn inputs, within the default tolerance.

`Reference` also answers what the consistency of an engine's own nudge needs: the exact
higher-order part of the case's change along any step (`Reference.remainder`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .cases import Case
from .programs import NUDGE_STEP


@dataclass(frozen=True)
class Numbers:
    """The case's output and its input gradients at one point."""

    output: float
    grads: tuple[float, ...]


class Reference:
    """The twin's replay of one case: numbers at the case's inputs, or at any other point."""

    def __init__(self, case: Case) -> None:
        from ..engine import Value
        from ..parity.plan import make_plan, read_numbers

        self.case = case
        leaves = [Value(x) for x in case.inputs]
        out = case.fn(*leaves)
        self.plan = make_plan(out)
        self._data = read_numbers(self.plan.graph.nodes, "data")
        self._positions = [self._position(x) for x in leaves]

    def _position(self, leaf: Any) -> int | None:
        try:
            return self.plan.graph.position(leaf)
        except KeyError:  # an input the output does not use: its gradient is 0
            return None

    def values(self, inputs: Sequence[float]) -> list[float]:
        """Every node's value with ``inputs`` in place of the case's (the op table's forward)."""
        from ..parity.numeric import evaluate

        return evaluate(self.plan, self._with(inputs))

    def output(self, inputs: Sequence[float]) -> float:
        return self.values(inputs)[-1]

    def at(self, inputs: Sequence[float]) -> Numbers:
        """Output and input gradients at ``inputs`` (the op table's vector-Jacobian rules)."""
        from ..parity.table import Mirror

        mirror = Mirror(self.plan)
        mirror.run(self._with(inputs))
        values, grads = mirror.values(), mirror.gradients()
        return Numbers(
            float(values[-1]),
            tuple(0.0 if p is None or math.isnan(grads[p]) else float(grads[p]) for p in self._positions),
        )

    def _with(self, inputs: Sequence[float]) -> list[float]:
        data = [float(x) for x in self._data]
        for position, x in zip(self._positions, inputs):
            if position is not None:
                data[position] = float(x)
        return data

    @functools.cached_property
    def numbers(self) -> Numbers:
        """At the case's own inputs."""
        return self.at(self.case.inputs)

    @functools.cached_property
    def after(self) -> float:
        """The output after the nudge ``x + step * grad``, the step taken with these gradients."""
        return self.output(nudged(self.case.inputs, self.numbers.grads))

    def remainder(self, grads: Sequence[float]) -> float:
        """The part of the output's change along ``step * grads`` that the first order does not
        predict: ``F(x + h g) - F(x) - h ∇F(x)·g``, exact up to rounding (h = NUDGE_STEP)."""
        first = NUDGE_STEP * math.fsum(g * d for g, d in zip(grads, self.numbers.grads))
        return self.output(nudged(self.case.inputs, grads)) - self.numbers.output - first


def nudged(inputs: Sequence[float], grads: Sequence[float]) -> list[float]:
    """``x + step * grad`` for each input, in the worker's own arithmetic (docs/protocol.md)."""
    return [x + NUDGE_STEP * g for x, g in zip(inputs, grads)]


@functools.lru_cache(maxsize=512)  # a batch's targets share one run's cases: each computed once
def reference(case: Case) -> Reference:
    return Reference(case)


def installed_torch() -> str:
    """The version of the torch installed beside the checker, read without importing it (reports
    name it: the op table's twin is held to that torch by the tests); "none" without torch."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"
