"""The third witness: central differences in float64, computed from the op table.

When the engine and torch disagree about a gradient, neither can settle it; the slope
of the function itself can. ``d root / d node`` is estimated by moving one node's value
by ``±h`` and re-evaluating everything downstream of it with the table's ``forward``
(plain Python floats; neither the engine nor torch is involved). For a leaf that is the
lecture's numerical gradient; for an intermediate node it is the gradient backward
propagation assigns it.

A central difference is accurate to about 1e-8 relative, so it referees wrong
derivatives, not last-bit differences. At a kink (relu or abs at 0, ...) the one-sided
slopes differ and stay apart as ``h`` shrinks: the witness says so instead of taking a
side, because there the derivative is a convention.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ops import Op
from .plan import Plan

EPS = sys.float_info.epsilon
RELATIVE_STEP = 1e-6  # h = 1e-6 * max(1, |x|), as torch's gradcheck uses 1e-6
SHRINK = 16.0  # the second, smaller step that tells a kink from curvature
AGREEMENT = 1e-6  # how close (relative) an estimate must come to support a value


@dataclass(frozen=True)
class Witness:
    """The numeric estimate of ``d root / d node`` at one node, and whom it supports.

    ``verdict`` is one of ``'both'`` (engine and torch both agree with it, or cannot be
    told apart by it), ``'torch'``, ``'engine'``, ``'neither'``, ``'kink'`` (one-sided
    slopes ``left`` and ``right`` differ: the derivative is a convention) or
    ``'undefined'`` (the function is not finite around the point).
    """

    position: int
    estimate: float
    left: float
    right: float
    step: float
    verdict: str
    uncertainty: float
    reference: str = "torch"  # the twin that verdict "torch" stands for ("twingrad": the op table)

    @property
    def side(self) -> str:
        """Whom the estimate supports, the twin by its name: ``both``, ``engine``, ``torch`` ..."""
        return self.reference if self.verdict == "torch" else self.verdict

    def describe(self) -> str:
        if self.verdict == "undefined":
            return "no numeric estimate: the function is not finite around this point"
        if self.verdict == "kink":
            return (
                f"a kink: one-sided slopes {self.left:.6g} and {self.right:.6g} differ, so the "
                "derivative here is a convention; the estimate takes no side"
            )
        estimate = f"numeric estimate {self.estimate:.10g}"
        return {
            "both": f"{estimate} agrees with both (or cannot tell them apart)",
            "torch": f"{estimate} supports {self.reference}",
            "engine": f"{estimate} supports the engine",
            "neither": f"{estimate} supports neither",
        }[self.verdict]


def evaluate(plan: Plan, data: Sequence[float]) -> list[float]:
    """Every node's value from the leaves and constants in ``data``, by the op table."""
    values = plan.with_literals([float(x) for x in data])
    for i, step in enumerate(plan.steps):
        if isinstance(step, Op):
            values[i] = step.forward(*[values[j] for j in plan.operands[i]])
    return values[: len(plan)]


def downstream(plan: Plan, position: int) -> list[int]:
    """The op nodes whose value depends on node ``position``, in topological order."""
    n = len(plan)
    affected = [False] * n
    affected[position] = True
    cone = []
    for i in range(position + 1, n):
        if any(affected[j] for j in plan.node_inputs(i)):
            affected[i] = True
            cone.append(i)
    return cone


def witness(
    plan: Plan,
    base: Sequence[float],
    position: int,
    engine_grad: float,
    torch_grad: float,
    reference: str = "torch",
) -> Witness:
    """Estimate ``d root / d node[position]`` around the values ``base`` (see `evaluate`);
    ``torch_grad`` is the twin's, ``reference`` its name."""
    values = plan.with_literals(base)
    cone = downstream(plan, position)
    steps, operands = plan.steps, plan.operands
    root = len(plan) - 1

    def f(x: float) -> float:
        values[position] = x
        for i in cone:
            values[i] = steps[i].forward(*[values[j] for j in operands[i]])  # type: ignore[union-attr]
        return values[root]

    found = slope_witness(f, float(base[position]), position, engine_grad, torch_grad, reference)
    f(float(base[position]))  # leave `values` as found
    return found


def slope_witness(
    f: Callable[[float], float],
    x: float,
    position: int,
    engine_grad: float,
    torch_grad: float,
    reference: str = "torch",
) -> Witness:
    """Central differences of ``f`` at ``x`` against the engine's and the twin's slope there.

    The referee of `witness` for any function of one number: a gradient's change along
    a leaf is how `twingrad.parity.higher` checks a second derivative.
    """
    h = RELATIVE_STEP * max(1.0, abs(x))
    f0 = f(x)
    slopes = [_slopes(f, x, f0, h), _slopes(f, x, f0, h / SHRINK)]
    (central, left, right, _), (central2, left2, right2, size2) = slopes
    numbers = (f0, central, left, right, central2, left2, right2)
    if not all(math.isfinite(v) for v in numbers):
        return Witness(position, math.nan, left, right, h, "undefined", math.inf, reference)
    noise = 8.0 * EPS * size2 / (h / SHRINK)  # rounding in f, divided by the small step
    jump, jump2 = abs(right - left), abs(right2 - left2)
    scale = max(abs(left2), abs(right2), 1e-300)
    if jump2 > 100.0 * noise and jump2 > 1e-6 * scale and jump2 > 0.5 * jump:
        return Witness(position, central2, left2, right2, h, "kink", jump2, reference)
    # A 16 times smaller step has 256 times less truncation error (and 16 times more
    # rounding noise): the gap between the two estimates bounds the error of either.
    uncertainty = abs(central - central2) + noise
    allowed = 8.0 * uncertainty + AGREEMENT * max(abs(central), 1e-300)
    engine_ok = abs(engine_grad - central) <= allowed
    torch_ok = abs(torch_grad - central) <= allowed
    verdict = {(True, True): "both", (False, True): "torch", (True, False): "engine"}.get(
        (engine_ok, torch_ok), "neither"
    )
    return Witness(position, central, left, right, h, verdict, uncertainty, reference)


def _slopes(f: Callable[[float], float], x: float, f0: float, h: float) -> tuple[float, float, float, float]:
    """Central, left and right difference quotients at step ``h``, and the size of f."""
    up, down = x + h, x - h
    f_up, f_down = f(up), f(down)
    if up == x or down == x:  # h vanished against a huge x
        return math.nan, math.nan, math.nan, math.nan
    # Divide by the steps actually taken: x + h is rounded.
    central = (f_up - f_down) / (up - down)
    right = (f_up - f0) / (up - x)
    left = (f0 - f_down) / (x - down)
    return central, left, right, max(abs(f0), abs(f_up), abs(f_down))
