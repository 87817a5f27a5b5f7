"""``twingrad check --exec COMMAND --protocol-only``: does a worker speak the protocol right?

For an adapter's author, before any gradient is compared: every message the worker
sends is validated exactly as a real check validates it (`protocol.read_answer`), over
the requests a check makes -- hello, load, and the catalogue's programs, one op at a time
and whole cases. Each problem is reported once, with the request it answered.

Beyond what validation alone can see, one program sends the numbers JSON has no room for
and expects them back as sent: a leaf holds the number it was made with, whatever the
engine, so ``"nan"``, ``"inf"``, ``"-inf"`` and ``-0.0`` must come back as written. An
adapter that encodes with a plain ``JSON.stringify`` (NaN and the infinities become
``null``, -0 becomes 0) fails here, not in a learner's report months later.

Warnings do not fail the check: the engine could not run the special numbers (it lacks
``mul``, it raised), or no ``definitions`` entry links an operation to its line, so a
report can name a wrong op but not point at it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..verdict import json_number
from .cases import CASES
from .programs import compile_case, probe_program, spellings
from .protocol import EngineInfo, ProtocolError, Trace
from .target import TargetError
from .worker import Worker, WorkerDiedError, WorkerTimeoutError, exec_command

# Whole cases that exercise every kind of step: numbers on both sides, reuse, the nudge, two backwards.
_CASES = ("seed_graph", "reuse_a_times_a", "number_minus_value", "sum_of_a_list", "backward_twice")
# The values JSON has no number for, and the zero whose sign JSON libraries drop.
SPECIAL_NUMBERS = (math.nan, math.inf, -math.inf, -0.0)
SPECIAL_PROGRAM = "special numbers"


@dataclass
class Conformance:
    """What ``--protocol-only`` found: problems fail it, warnings are said and pass."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def special_program() -> dict[str, Any]:
    """Leaves made of each special number and read back; ``x * nan`` (a nan gradient for x after
    backward) and ``x * -0.0`` (a negative zero made by the engine); then the whole graph."""
    steps: list[dict[str, Any]] = []
    for k, number in enumerate(SPECIAL_NUMBERS):
        steps += [{"let": f"s{k}", "value": json_number(number), "label": f"s{k}"}, {"read": f"s{k}"}]
    steps += [
        {"let": "x", "value": 2.0, "label": "x"},
        {"let": "t", "apply": "mul", "args": [{"ref": "x"}, {"number": "nan"}]},
        {"let": "z", "apply": "mul", "args": [{"ref": "x"}, {"number": -0.0}]},
        {"backward": "t"},
        {"read": "x"},
        {"read": "z"},
        {"observe": "t"},
    ]
    return {"name": SPECIAL_PROGRAM, "steps": steps}


def conformance(command: str, timeout: float) -> Conformance:
    """Problems and warnings, in the order met; no problem when every message followed the protocol.

    `TargetError` when COMMAND cannot be started at all (no such program, a shell's syntax)."""
    from ..ops import OPS

    found = Conformance()
    programs = [
        probe_program(op, spelled, (0.7, 1.3)[: len(kinds)], kinds, None).program
        for op in OPS
        for spelled, kinds in spellings(op, 0.7, 1.3)
    ]
    programs += [
        compile_case(case, detailed).program
        for case in CASES
        if case.name in _CASES
        for detailed in (False, True)
    ]
    programs.append(special_program())
    run = exec_command(command)
    try:
        worker: Worker | None = Worker(run.argv, copy_in=run.copy_in)
    except (ValueError, OSError) as exc:  # a file that cannot be copied
        raise TargetError(f"cannot prepare the worker ({command}): {exc}") from None
    started = False
    problems = found.problems
    try:
        for index, program in enumerate([None, *programs]):
            if worker is None:
                worker, started = Worker(run.argv, copy_in=run.copy_in), False
            if not started:
                started = True
                if not _step(problems, worker, "hello", lambda w=worker: w.start(timeout)):
                    return found
                loaded = _step(problems, worker, "load", lambda w=worker: w.load(None, {}, timeout))
                if not loaded:
                    return found
                if index == 0 and loaded.engine is not None:
                    found.warnings += _unlinked(loaded.engine)
            if program is None:
                continue
            traces = _step(
                problems, worker, f"run {program['name']!r}", lambda w=worker, p=program: w.run([p], timeout)
            )
            if not traces:
                worker.close()
                worker = None  # a broken answer ends that worker; go on with a fresh one
                if len(problems) >= 5:
                    problems.append(f"... stopped after {index} programs")
                    return found
            elif program["name"] == SPECIAL_PROGRAM:
                _expect_special_numbers(found, traces[0])
    finally:
        if worker is not None:
            worker.close()
    return found


def _step(problems: list[str], worker: Worker, what: str, call: Callable[[], Any]) -> Any:
    """``call()``'s answer, or None with the problem added."""
    before = len(problems)
    answer = _ran(problems, what, call)
    # Lines the worker wrote that answered nothing, before what went wrong: a check skips them.
    problems[before:before] = [f"{what}: skipped a line that answers no request: {w}" for w in worker.stray]
    worker.stray.clear()
    return answer


def _ran(problems: list[str], what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ProtocolError, WorkerTimeoutError) as exc:
        problems.append(f"{what}: {exc}")
    except WorkerDiedError as exc:
        problems.append(f"{what}: the worker died: {exc}")
    except OSError as exc:
        problems.append(f"{what}: cannot start the worker: {exc}")
    return None


def _unlinked(engine: EngineInfo) -> list[str]:
    """A warning when no operation can be pointed at in the engine's code (`EngineInfo.defines`)."""
    from ..ops import OPS

    linked = [op.name for op in OPS if engine.defines(op) is not None]
    if linked:
        return []
    count = len(engine.definitions)
    if not count:
        return ["load: the answer lists no definitions, so a report cannot point at the line of a wrong "
                'operation (docs/protocol.md, "load")']
    return [
        f"load: none of the {count} definitions links to an operation, so a report cannot point at the "
        'line of a wrong one: give each the operation it implements ("op": "mul"; docs/protocol.md, "load")'
    ]


def _expect_special_numbers(found: Conformance, trace: Trace) -> None:
    """The special-number program's numbers, each as sent (`special_program`)."""
    what = f"run {SPECIAL_PROGRAM!r}"
    program = special_program()["steps"]
    if trace.failed_at is not None:
        k = trace.failed_at
        error = trace.steps[k].error
        assert error is not None
        said = f"{what}: step {k} ({_step_text(program[k])}) failed: {error.kind} {error.describe()}"
        if error.kind == "unreadable":  # a number the worker was given that it cannot give back
            found.problems.append(f"{said}; a worker reads \"nan\", \"inf\", \"-inf\" and -0.0 as numbers")
        else:
            found.warnings.append(f"{said}; the special numbers after it were not checked")
    expected: list[tuple[str, float | None, float]] = []  # what, got, sent
    nodes: dict[str, int] = {}
    for k, (step, result) in enumerate(zip(program, trace.steps)):
        if not result.ok:
            break
        if "let" in step and result.node is not None:
            nodes[step["let"]] = result.node
        if "read" in step and step["read"].startswith("s"):
            expected.append((f"step {k}: data of a leaf made of {_shown(_sent(step['read']))}", result.data,
                             _sent(step["read"])))
        elif step.get("read") == "x":
            expected.append((f"step {k}: grad of x after backward through x * nan", result.grad, math.nan))
        elif step.get("read") == "z":
            expected.append((f"step {k}: data of x * -0.0", result.data, -0.0))
    if trace.observations:
        observed = trace.observations[0].nodes
        for name, node in nodes.items():
            if name.startswith("s"):
                expected.append((f"the observation: data of leaf {name}", observed[node].data, _sent(name)))
        if "x" in nodes:
            expected.append(("the observation: grad of x", observed[nodes["x"]].grad, math.nan))
    for where, got, sent in expected:
        if not _same(got, sent):
            found.problems.append(f"{what}: {where} came back as {_shown(got)}{_hint(got, sent)}")


def _sent(leaf: str) -> float:
    return SPECIAL_NUMBERS[int(leaf[1:])]


def _same(got: float | None, sent: float) -> bool:
    """The same number, bit for bit as far as a float tells: nan is nan, and a zero keeps its sign."""
    if got is None:
        return False
    if math.isnan(sent):
        return math.isnan(got)
    return got == sent and math.copysign(1.0, got) == math.copysign(1.0, sent)


def _shown(number: float | None) -> str:
    """As the protocol writes it."""
    if number is None:
        return "null"
    return repr(json_number(number)).replace("'", '"')


def _hint(got: float | None, sent: float) -> str:
    if got is None and math.isnan(sent):
        return ', expected "nan" (a plain JSON.stringify writes NaN as null; write "nan")'
    if got == 0.0 and sent == 0.0:
        return ", expected -0.0 (the sign of a zero is compared; JSON.stringify(-0) writes 0)"
    return f", expected {_shown(sent)}"


def _step_text(step: dict[str, Any]) -> str:
    """A step of `special_program` in a few words, its numbers as the request wrote them."""
    if "value" in step:
        return f"a leaf of {json.dumps(step['value'])}"
    if "apply" in step:
        return f"x * {json.dumps(step['args'][1]['number'])}"
    return next(f"{key} {value}" for key, value in step.items())
