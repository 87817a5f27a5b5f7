"""Probes: one op of the engine, alone, at chosen points -- the checker's way of naming the culprit.

A failing case says *that* something is wrong; the node where the numbers first part
says *where*; a probe says *which op* and *how*. It builds a single operation from fresh
Values, in each spelling the common API allows (``x - y``, ``x - 2.0``, ``2.0 - x``),
and compares its result type, its value and, after ``backward()``, its local derivatives
with torch's in float64. An op the engine does not have is skipped, not blamed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..ops import Op, op_named
from ..parity.tolerances import DEFAULT_RTOL, Tolerance
from .cases import operator_for
from .failures import is_node

# Points away from every kink and domain edge (log, sqrt and fractional powers need x > 0);
# distinct, so that swapped operands show.
PROBE_X, PROBE_Y = 0.7, 1.3


@dataclass(frozen=True)
class Finding:
    """What a probe found wrong with one op."""

    op: Op
    spelled: str  # the expression that misbehaves, e.g. "2.0 - x"
    problem: str  # e.g. "gives -1.3 where torch gives 1.3"
    kind: str  # "type", "data", "grad", "precision" or "raises"
    composite: bool = False  # the engine builds this op from others (micrograd's x - y)

    def __str__(self) -> str:
        return f"`{self.spelled}` {self.problem}"


def close(x: float, y: float, rtol: float = DEFAULT_RTOL) -> bool:
    """Within parity's tolerance (or a looser ``rtol``, for telling rounding from error)."""
    return Tolerance(rtol=rtol).close(x, y)


def shown(*numbers: float) -> list[str]:
    """Numbers with as few digits as still tell them apart: 6 usually, up to all 17."""
    for digits in (6, 10, 17):
        texts = [f"{x:.{digits}g}" for x in numbers]
        if len(set(texts)) == len(set(numbers)):
            return texts
    return [repr(x) for x in numbers]


def _precision(got: float, want: float) -> str:
    """A note when two numbers differ only as float32 rounding would make them."""
    if close(got, want, 1e-6):
        return f": a relative difference of {abs(got - want) / max(abs(want), 1e-300):.1g}, float32 precision"
    return ""


def _spellings(op: Op, x: float, y: float) -> list[tuple[str, tuple[float | None, ...]]]:
    """(expression, operands) for each spelling; None marks where a Value goes, else a number."""
    if op.arity == 1:
        return [(op.format("x"), (None,))]
    return [
        (op.format("x", "y"), (None, None)),
        (op.format("x", repr(y)), (None, y)),
        (op.format(repr(x), "y"), (x, None)),
    ]


def _torch_reference(op: Op, operands: Sequence[float],
                     as_value: Sequence[bool]) -> tuple[float, list[float]]:
    """torch's value and its derivatives for the Value operands (float64)."""
    import torch

    tensors = [
        torch.tensor(v, dtype=torch.float64, requires_grad=True) if is_value else v
        for v, is_value in zip(operands, as_value)
    ]
    out = op.torch(*tensors)
    out.backward()
    grads = [t.grad.item() for t, is_value in zip(tensors, as_value) if is_value]
    return out.item(), grads


def _check(engine: Any, op: Op, spelled: str, call: Callable[..., Any], points: Sequence[float],
           slots: Sequence[float | None], upstream: float | None,
           declined: Callable[[BaseException], bool]) -> Finding | None:
    as_value = [slot is None for slot in slots]
    args = [engine(p) if v else s for p, v, s in zip(points, as_value, slots)]
    try:
        out = call(*args)
    except Exception as exc:
        if declined(exc):
            return None
        return Finding(op, spelled, f"raises {type(exc).__name__}: {exc}", "raises")
    if not is_node(out):
        return Finding(op, spelled, f"returns a {type(out).__name__} ({out!r}), not a Value: "
                       "nothing before it gets a gradient", "type")
    composite = any(list(getattr(child, "_prev", ())) for child in getattr(out, "_prev", ()))
    want, want_grads = _torch_reference(op, points, as_value)
    got = float(out.data)
    if not close(got, want):
        mine, torch_s = shown(got, want)
        return Finding(op, spelled, f"gives {mine} where torch gives {torch_s}{_precision(got, want)}",
                       "precision" if _precision(got, want) else "data", composite)
    root = out if upstream is None else out * engine(upstream)
    try:
        root.backward()
    except Exception as exc:
        return Finding(op, spelled, f"backward() raises {type(exc).__name__}: {exc}", "raises", composite)
    scale = 1.0 if upstream is None else upstream
    values = [(name, a) for name, a, v in zip(("x", "y"), args, as_value) if v]
    for (name, arg), want_grad in zip(values, want_grads):
        got = float(arg.grad)
        if close(got, want_grad * scale):
            continue
        mine, torch_s = shown(got, want_grad * scale)
        if upstream is not None:
            problem = (f"passes d/d{name} = {mine} back under an upstream gradient of {upstream:g}, "
                       f"where torch passes {torch_s}: the rule must multiply by out.grad")
        else:
            problem = f"gives d/d{name} = {mine} where torch gives {torch_s}"
        at = ", ".join(f"{n}={p:.6g}" for n, p, v in zip(("x", "y"), points, as_value) if v)
        tiny = _precision(got, want_grad * scale)
        return Finding(op, spelled, f"{problem} (at {at}){tiny}", "precision" if tiny else "grad", composite)
    return None


def probe(engine: Any, op: Op, x: float = PROBE_X, y: float = PROBE_Y,
          declined: Callable[[BaseException], bool] = lambda exc: False,
          upstream: float | None = None) -> Finding | None:
    """The first thing wrong with ``op`` in ``engine`` at (x, y), or None if it is right.

    ``declined`` tells an exception that means "the engine has no such op" (skipped) from
    one that is a bug (reported). With ``upstream``, the op's output is multiplied by a
    Value of that size before backward: a rule that forgets ``out.grad`` shows (trust it
    only once ``*`` itself probes clean).
    """
    call = operator_for(op)
    for spelled, slots in _spellings(op, x, y):
        points = (x, y)[: len(slots)]
        finding = _check(engine, op, spelled, call, points, slots, upstream, declined)
        if finding is not None:
            return finding
    return None


def first_broken(engine: Any, ops: Sequence[Op],
                 declined: Callable[[BaseException], bool] = lambda exc: False) -> Finding | None:
    """Probe each op at the standard points, then under an upstream gradient; the first finding.

    An op the engine builds from others is blamed only when none of its own ops is: a
    broken ``*`` also breaks micrograd's ``x - y``, and the learner should hear about ``*``.
    """
    findings = [f for op in ops if (f := probe(engine, op, declined=declined)) is not None]
    if not findings and probe(engine, op_named("mul"), declined=declined) is None:
        findings = [f for op in ops if (f := probe(engine, op, declined=declined, upstream=2.5)) is not None]
    findings.sort(key=lambda f: f.composite)  # stable: table order within each group
    return findings[0] if findings else None
