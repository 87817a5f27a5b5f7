"""Case programs: what the worker is asked to build (docs/protocol.md, "Programs").

A case of the catalogue is a Python function written against the common API. Calling
it once on `Symbol`s records every operation it performs -- operator, reflected operator
(``1 - x``), ``abs``, method -- as the steps of a program, so the catalogue stays plain
readable Python and the worker, in any language, only replays steps.

Every case program has the same shape, so the judge knows where to look:

1. ``let`` each input; the forward steps; ``backward`` of the output; ``observe`` it;
2. the nudge: a ``nudged`` leaf per input (``x + step * x.grad``, read from the engine),
   the forward steps again on them, ``observe`` the new output;
3. for the ``backward_twice`` case, ``backward`` of the first output again, ``observe``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..ops import OPS, Op
from ..verdict import json_number
from .cases import Case

NUDGE_STEP = 0.01  # the seed notebook's step
Step = dict[str, Any]


class Symbol:
    """A stand-in for a Value that writes down what is done to it."""

    __slots__ = ("name", "_recorder")

    def __init__(self, name: str, recorder: _Recorder) -> None:
        self.name = name
        self._recorder = recorder

    def _apply(self, op: str, *args: Any) -> Symbol:
        return self._recorder.apply(op, args)


def _recording(op: Op, reflected: bool) -> Callable[..., Symbol]:
    if op.arity == 1:
        return lambda self: self._apply(op.name, self)
    if reflected:  # ``2 - x``: Python called x.__rsub__(2)
        return lambda self, other: self._apply(op.name, other, self)
    return lambda self, other: self._apply(op.name, self, other)


# Every method of the op table, as twingrad's Value gets them (engine._install_op_methods):
# a case written against the table is recorded whatever ops it uses.
for _op in OPS:
    for _k, _method in enumerate(_op.methods):
        setattr(Symbol, _method, _recording(_op, reflected=_op.arity == 2 and _k == 1))


class _Recorder:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.steps: list[Step] = []

    def apply(self, op: str, args: Sequence[Any]) -> Symbol:
        name = f"{self.prefix}t{len(self.steps)}"
        self.steps.append({"let": name, "apply": op, "args": [_arg(a) for a in args]})
        return Symbol(name, self)


def _arg(value: Any) -> dict[str, Any]:
    if isinstance(value, Symbol):
        return {"ref": value.name}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"a case may combine Values with numbers only, not {type(value).__name__}")
    return {"number": value if isinstance(value, int) else json_number(float(value))}


def record(fn: Callable[..., Any], names: Sequence[str], prefix: str = "") -> tuple[list[Step], str]:
    """The forward steps ``fn`` performs on inputs named ``names``, and the name of its result."""
    recorder = _Recorder(prefix)
    out = fn(*(Symbol(name, recorder) for name in names))
    if not isinstance(out, Symbol):
        raise TypeError(f"{getattr(fn, '__name__', fn)} must return a Value, not {type(out).__name__}")
    return recorder.steps, out.name


@dataclass(frozen=True)
class CaseProgram:
    """A case's program and where its parts are.

    ``detailed`` programs ``observe`` the whole graph (after the first backward, after the
    nudge, after a second backward); the others only ``read`` the numbers a verdict needs,
    each ``reads`` entry naming what it read: ``("out", k)``, ``("in", k)`` for the inputs,
    ``("out'", k)`` and ``("in'", k)`` after the nudge, ``("again", k)`` after a second backward.
    """

    case: Case
    program: dict[str, Any]
    output: str  # the let name of the output
    nudged_output: str
    nudge_start: int  # index of the first nudged input
    reads: tuple[tuple[str, int], ...] = ()

    @property
    def steps(self) -> list[Step]:
        return self.program["steps"]

    def step_at(self, index: int) -> Step:
        return self.steps[index]


# A case's programs are the same for every engine: compiled once per run's case (a batch's
# targets share them); bounded, since every run draws new cases.
@functools.lru_cache(maxsize=512)
def compile_case(case: Case, detailed: bool = True) -> CaseProgram:
    names = case.input_names
    inputs: list[Step] = [
        {"let": n, "value": _arg(x)["number"], "label": n} for n, x in zip(names, case.inputs)
    ]
    forward, out = record(case.fn, names)
    nudged = [{"let": f"{n}'", "nudged": n, "step": NUDGE_STEP, "label": n} for n in names]
    again, out_again = record(case.fn, [f"{n}'" for n in names], prefix="'")

    def look(role: str, output: str, leaves: list[str]) -> list[tuple[str, Step]]:
        if detailed:
            return [("", {"observe": output})]
        return [(role, {"read": output}), *((f"in{role[3:]}", {"read": n}) for n in leaves)]

    parts: list[tuple[str, Step]] = [("", s) for s in (*inputs, *forward, {"backward": out})]
    parts += look("out", out, list(names))
    nudge_start = len(parts)
    parts += [("", s) for s in (*nudged, *again)]
    parts += look("out'", out_again, [f"{n}'" for n in names])
    if case.kind == "backward_twice":
        parts.append(("", {"backward": out}))
        parts += [("", {"observe": out})] if detailed else [("again", {"read": n}) for n in names]
    steps = [step for _, step in parts]
    reads = tuple((role, k) for k, (role, _) in enumerate(parts) if role)
    name = case.name if detailed else f"{case.name} (numbers)"
    return CaseProgram(case, {"name": name, "steps": steps}, out, out_again, nudge_start, reads)


# -- probes: one op alone -----------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeProgram:
    """One op in one spelling at chosen points, optionally under an upstream gradient."""

    op: Op
    spelled: str  # as the learner writes it: "2.0 - x"
    points: tuple[float, ...]  # x (and y)
    as_value: tuple[bool, ...]  # which operands are Values (the others are the numbers themselves)
    upstream: float | None
    program: dict[str, Any]


def spellings(op: Op, x: float, y: float) -> list[tuple[str, tuple[bool, ...]]]:
    """Each way the common API writes ``op``: both Values, a number on the right, on the left."""
    if op.arity == 1:
        return [(op.format("x"), (True,))]
    return [
        (op.format("x", "y"), (True, True)),
        (op.format("x", repr(y)), (True, False)),
        (op.format(repr(x), "y"), (False, True)),
    ]


def probe_program(
    op: Op, spelled: str, points: Sequence[float], as_value: Sequence[bool], upstream: float | None
) -> ProbeProgram:
    steps: list[Step] = []
    args = []
    for name, point, is_value in zip(("x", "y"), points, as_value):
        if is_value:
            steps.append({"let": name, "value": json_number(point), "label": name})
            args.append({"ref": name})
        else:
            args.append({"number": json_number(point)})
    # locate_backward: the worker also says where the op's backward rule is written, if it can
    steps.append({"let": "out", "apply": op.name, "args": args, "locate_backward": True})
    root = "out"
    if upstream is not None:
        steps += [
            {"let": "up", "value": json_number(upstream), "label": "up"},
            {"let": "scaled", "apply": "mul", "args": [{"ref": "out"}, {"ref": "up"}]},
        ]
        root = "scaled"
    steps += [{"backward": root}, {"observe": root}]
    name = f"probe {spelled}" + (f" under {upstream:g}" if upstream is not None else "")
    return ProbeProgram(op, spelled, tuple(points), tuple(as_value), upstream, {"name": name, "steps": steps})
