"""The worker protocol, parent side: requests out, validated answers in (docs/protocol.md).

Everything a worker sends is untrusted: it may come from a learner's engine that took
over the worker process, or from an adapter with a bug. `read_answer` turns one line into
typed, checked objects or raises `ProtocolError` naming the first thing wrong, by its
path in the message (``traces[0].observations[1].nodes[4].inputs[0]: node 99 is not in
this observation``). Strings are cut to `TEXT_LIMIT` and their control characters
escaped here, once, so no report downstream ever prints raw engine text.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..ops import Op

PROTOCOL = 1
TEXT_LIMIT = 2000
ERROR_KINDS = ("missing", "raised", "returned", "unreadable")
ROLES = ("data", "grad", "inputs", "op", "label", "backward", "requires_grad")
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# C0 and C1 controls, DEL, and the bidi overrides that can make text read backwards.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class ProtocolError(Exception):
    """A worker's message that breaks the protocol; the text says where and how."""


class StrayLineError(ProtocolError):
    """A line that does not answer the pending request (no matching id and nonce): not the
    worker's answer, perhaps the engine writing to the protocol pipe itself."""


def clean(value: str) -> str:
    """Engine text made safe to show anywhere: cut to the limit, control characters escaped."""
    if len(value) > TEXT_LIMIT:
        value = value[: TEXT_LIMIT - 3] + "..."
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)


# -- requests ---------------------------------------------------------------------------------------


def request(number: int, kind: str, **fields: Any) -> dict[str, Any]:
    """A request with a fresh nonce: an answer must echo it, which nothing can know in advance."""
    return {"id": number, "nonce": secrets.token_hex(12), "type": kind, **fields}


# -- what comes back ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A place in the engine's code, as the worker saw it."""

    file: str
    line: int
    function: str = ""


@dataclass(frozen=True)
class WorkerError:
    kind: str  # one of ERROR_KINDS
    type: str
    message: str
    name: str = ""  # for "missing": what was looked for
    number: float | None = None  # for "returned": the plain number an op gave back
    frames: tuple[Source, ...] = ()
    depth: int = 0

    def describe(self) -> str:
        """``TypeError: message``, as Python prints it."""
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True)
class TracedNode:
    id: int
    data: float
    grad: float | None
    op: str
    inputs: tuple[int, ...]
    unordered: bool
    label: str


@dataclass(frozen=True)
class Observation:
    root: int
    nodes: dict[int, TracedNode]  # in the worker's order


@dataclass(frozen=True)
class StepResult:
    ok: bool
    node: int | None = None  # what a `let` made
    error: WorkerError | None = None
    data: float | None = None  # what a `read` read
    grad: float | None = None
    backward: Source | None = None  # asked by `locate_backward`: where the op's backward rule is written
    backward_inputs: tuple[int | None, ...] = ()  # and the line writing each argument's gradient, if known


@dataclass(frozen=True)
class Trace:
    name: str
    steps: tuple[StepResult, ...]
    observations: tuple[Observation, ...]

    @property
    def failed_at(self) -> int | None:
        last = len(self.steps) - 1
        return last if self.steps and not self.steps[-1].ok else None


@dataclass(frozen=True)
class Definition:
    name: str  # the engine's own name for it: `__mul__`, `tanh`, `mul`, `value_mul` ...
    source: Source
    op: str = ""  # the operation it implements (an `apply` name), when the worker says so


@dataclass(frozen=True)
class EngineInfo:
    name: str
    spellings: dict[str, str | None]
    source: Source | None = None
    definitions: tuple[Definition, ...] = ()

    def defined(self, *names: str) -> Source | None:
        """Where the first of ``names`` the engine defines is."""
        for name in names:
            for definition in self.definitions:
                if definition.name == name:
                    return definition.source
        return None

    def defines(self, op: Op, reflected: bool = False) -> Source | None:
        """Where the engine implements ``op``: the definition that says so (``"op": "mul"``, how
        a worker in any language links its own function), else the Python method of that name
        (``__rmul__`` before ``__mul__`` for a number on the left)."""
        said = next((d.source for d in self.definitions if d.op == op.name), None)
        methods = op.methods[::-1] if reflected and len(op.methods) > 1 else op.methods
        return said or self.defined(*methods)


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    language: str
    version: str


@dataclass
class Answer:
    """A validated final answer: the request's type and its fields, typed."""

    type: str
    protocol: int = 0
    worker: WorkerInfo | None = None
    ok: bool = True
    engine: EngineInfo | None = None
    error: WorkerError | None = None
    traces: list[Trace] = field(default_factory=list)


# -- validation ------------------------------------------------------------------------------------


class _At:
    """A position in a message, for error texts: ``traces[0].steps[3]``.

    Spelled out only when an error needs it: a trace has hundreds of positions and no error.
    """

    __slots__ = ("_parent", "_key")

    def __init__(self, parent: _At | None = None, key: str | int = "") -> None:
        self._parent = parent
        self._key = key

    def __truediv__(self, key: str | int) -> _At:
        return _At(self, key)

    @property
    def path(self) -> str:
        if self._parent is None:
            return ""
        above, key = self._parent.path, self._key
        if isinstance(key, int):
            return f"{above}[{key}]"
        return f"{above}.{key}" if above else key

    def fail(self, problem: str) -> ProtocolError:
        return ProtocolError(f"{self.path or 'the message'}: {problem}")

    def object(self, value: Any, required: Sequence[str], optional: Sequence[str] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"expected an object, got {_kind(value)}")
        missing = [k for k in required if k not in value]
        if missing:
            raise self.fail(f"missing {', '.join(map(repr, missing))}")
        extra = [k for k in value if k not in required and k not in optional]
        if extra:
            raise self.fail(f"unexpected {', '.join(map(repr, extra))}")
        return value

    def integer(self, value: Any, low: int = 0) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise self.fail(f"expected an integer >= {low}, got {_kind(value)}")
        return value

    def text(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(f"expected a string, got {_kind(value)}")
        return clean(value)

    def boolean(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(f"expected true or false, got {_kind(value)}")
        return value

    def number(self, value: Any) -> float:
        if isinstance(value, str) and value in _NON_FINITE:
            return _NON_FINITE[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # null is what JavaScript's JSON.stringify makes of NaN and the infinities.
            hint = ' (NaN is written "nan": a plain JSON.stringify writes null)' if value is None else ""
            raise self.fail(f'expected a number (or "nan", "inf", "-inf"), got {_kind(value)}{hint}')
        number = float(value)
        if not math.isfinite(number):  # a parser's NaN or Infinity token, or a huge integer
            raise self.fail('non-finite numbers are written "nan", "inf" or "-inf"')
        return number

    def array(self, value: Any, limit: int | None = None) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(f"expected an array, got {_kind(value)}")
        if limit is not None and len(value) > limit:
            raise self.fail(f"at most {limit} items, got {len(value)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)


def _source(at: _At, value: Any) -> Source:
    raw = at.object(value, ("file", "line"), ("function",))
    return Source(
        at.text(raw["file"]), at.integer(raw["line"]), (at / "function").text(raw.get("function", ""))
    )


def _error(at: _At, value: Any) -> WorkerError:
    raw = at.object(value, ("kind", "type", "message"), ("name", "number", "frames", "depth"))
    kind = (at / "kind").text(raw["kind"])
    if kind not in ERROR_KINDS:
        raise (at / "kind").fail(f"expected one of {', '.join(ERROR_KINDS)}, got {kind!r}")
    frames = tuple(
        _source(at / "frames" / k, f) for k, f in enumerate((at / "frames").array(raw.get("frames", []), 30))
    )
    number = (at / "number").number(raw["number"]) if "number" in raw else None
    return WorkerError(
        kind,
        (at / "type").text(raw["type"]),
        (at / "message").text(raw["message"]),
        (at / "name").text(raw.get("name", "")),
        number,
        frames,
        (at / "depth").integer(raw.get("depth", len(frames))),
    )


def _engine(at: _At, value: Any) -> EngineInfo:
    raw = at.object(value, ("name", "spellings"), ("source", "definitions"))
    spelled = (at / "spellings").object(
        raw["spellings"], ("data", "grad", "inputs", "op", "backward"), ("label", "requires_grad")
    )
    spellings: dict[str, str | None] = {}
    for role in ROLES:
        given = spelled.get(role)
        if given is None and role in ("data", "grad", "backward"):
            raise (at / "spellings" / role).fail("a worker must say how it reads this")
        spellings[role] = None if given is None else (at / "spellings" / role).text(given)
    definitions = []
    for k, item in enumerate((at / "definitions").array(raw.get("definitions", []), 200)):
        where = at / "definitions" / k
        entry = where.object(item, ("name", "file", "line"), ("function", "op"))
        op = (where / "op").text(entry.get("op", ""))
        if op and op not in _op_names():
            raise (where / "op").fail(f"expected an operation's name ({', '.join(_op_names())}), got {op!r}")
        definitions.append(
            Definition(
                (where / "name").text(entry["name"]),
                _source(where, {k: v for k, v in entry.items() if k in ("file", "line", "function")}),
                op,
            )
        )
    source = raw.get("source")
    return EngineInfo(
        (at / "name").text(raw["name"]),
        spellings,
        None if source is None else _source(at / "source", source),
        tuple(definitions),
    )


def _op_names() -> tuple[str, ...]:
    """The operations a program's `apply` may name: the op table's (pure Python, no torch)."""
    from ..ops import OPS

    return tuple(op.name for op in OPS)


_NODE_KEYS = frozenset({"id", "data", "grad", "op", "inputs", "unordered", "label"})


def _plain_node(item: Any) -> TracedNode | None:
    """A node as a well-behaved worker writes it, read without building error paths (a large
    graph has thousands); None sends anything unusual through the full, explaining check."""
    if type(item) is not dict or not _NODE_KEYS.issuperset(item) or len(item) < 5:
        return None
    ident, data, grad, op, inputs = (
        item.get("id"),
        item.get("data"),
        item.get("grad"),
        item.get("op"),
        item.get("inputs"),
    )
    label, unordered = item.get("label", ""), item.get("unordered", False)
    if type(ident) is not int or ident < 0 or type(op) is not str or type(label) is not str:
        return None
    if type(data) is not float or type(unordered) is not bool or type(inputs) is not list:
        return None
    if (
        not (grad is None or type(grad) is float)
        or not math.isfinite(data)
        or (grad is not None and not math.isfinite(grad))
    ):
        return None
    if not all(type(i) is int and i >= 0 for i in inputs):
        return None
    if len(op) > TEXT_LIMIT or len(label) > TEXT_LIMIT or not (op.isprintable() and label.isprintable()):
        return None  # cut and escaped by the full check
    return TracedNode(ident, data, grad, op, tuple(inputs), unordered, label)


_OK = StepResult(True)


def _plain_step(item: Any, planned: Mapping[str, Any]) -> StepResult | None:
    """A step that worked, as a well-behaved worker writes it, read without the full check (a
    case has hundreds); None sends anything else (a failure, an odd type) through that check."""
    if type(item) is not dict or item.get("ok") is not True:
        return None
    if "let" in planned:
        node = item.get("node")
        return StepResult(True, node=node) if len(item) == 2 and type(node) is int and node >= 0 else None
    if "read" in planned:
        data, grad = item.get("data"), item.get("grad", 0)
        if len(item) != 3 or type(data) is not float or not math.isfinite(data):
            return None
        if grad is None:
            return StepResult(True, data=data)
        return StepResult(True, data=data, grad=grad) if type(grad) is float and math.isfinite(grad) else None
    return _OK if len(item) == 1 else None


def _observation(at: _At, value: Any) -> Observation:
    raw = at.object(value, ("root", "nodes"))
    nodes: dict[int, TracedNode] = {}
    for k, item in enumerate((at / "nodes").array(raw["nodes"])):
        quick = _plain_node(item)
        if quick is not None and quick.id not in nodes:
            nodes[quick.id] = quick
            continue
        where = at / "nodes" / k
        node = where.object(item, ("id", "data", "grad", "op", "inputs"), ("unordered", "label"))
        ident = (where / "id").integer(node["id"])
        if ident in nodes:
            raise (where / "id").fail(f"node {ident} is listed twice")
        grad = node["grad"]
        nodes[ident] = TracedNode(
            ident,
            (where / "data").number(node["data"]),
            None if grad is None else (where / "grad").number(grad),
            (where / "op").text(node["op"]),
            tuple(
                (where / "inputs" / j).integer(i)
                for j, i in enumerate((where / "inputs").array(node["inputs"]))
            ),
            (where / "unordered").boolean(node.get("unordered", False)),
            (where / "label").text(node.get("label", "")),
        )
    root = (at / "root").integer(raw["root"])
    if root not in nodes:
        raise (at / "root").fail(f"node {root} is not in this observation")
    for ident, node in nodes.items():
        for j, i in enumerate(node.inputs):
            if i not in nodes:
                raise (at / "nodes" / ident / "inputs" / j).fail(f"node {i} is not in this observation")
    _refuse_cycles(at, nodes)
    return Observation(root, nodes)


def _refuse_cycles(at: _At, nodes: Mapping[int, TracedNode]) -> None:
    """A computation graph has no cycle; a worker that reports one is wrong (or lying)."""
    state: dict[int, int] = {}  # 1 on the current path, 2 done
    for start in nodes:
        if start in state:
            continue
        stack = [(start, iter(nodes[start].inputs))]
        state[start] = 1
        while stack:
            ident, pending = stack[-1]
            nxt = next(pending, None)
            if nxt is None:
                state[ident] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise at.fail(f"the graph has a cycle through node {nxt}")
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(nodes[nxt].inputs)))


def _trace(at: _At, value: Any, program: Mapping[str, Any]) -> Trace:
    raw = at.object(value, ("name", "steps", "observations"))
    name = (at / "name").text(raw["name"])
    if name != clean(program["name"]):
        raise (at / "name").fail(f"expected the trace of {program['name']!r}, got {name!r}")
    planned = program["steps"]
    results = (at / "steps").array(raw["steps"], len(planned))
    steps = []
    for k, item in enumerate(results):
        quick = _plain_step(item, planned[k])
        if quick is not None:
            steps.append(quick)
            continue
        where = at / "steps" / k
        entry = where.object(item, ("ok",), ("node", "error", "data", "grad", "backward", "backward_inputs"))
        ok = (where / "ok").boolean(entry["ok"])
        if not ok:
            if k != len(results) - 1:
                raise where.fail("a failed step must be the last one run")
            steps.append(StepResult(False, error=_error(where / "error", entry.get("error"))))
        elif "let" in planned[k]:
            backward = entry.get("backward")  # optional: a worker that cannot tell leaves it out
            lines = (where / "backward_inputs").array(entry.get("backward_inputs", []), 2)
            steps.append(StepResult(
                True,
                node=(where / "node").integer(entry.get("node")),
                backward=None if backward is None else _source(where / "backward", backward),
                backward_inputs=tuple(
                    None if n is None else (where / "backward_inputs" / j).integer(n)
                    for j, n in enumerate(lines)
                ),
            ))
        elif "read" in planned[k]:
            if "data" not in entry or "grad" not in entry:
                raise where.fail("a read answers with the node's data and grad")
            grad = entry["grad"]
            steps.append(
                StepResult(
                    True,
                    data=(where / "data").number(entry["data"]),
                    grad=None if grad is None else (where / "grad").number(grad),
                )
            )
        else:
            steps.append(StepResult(True))
    finished = len(steps) == len(planned) and (not steps or steps[-1].ok)
    if not finished and (not steps or steps[-1].ok):
        raise (at / "steps").fail(f"{len(steps)} of {len(planned)} steps answered, and none failed")
    observed = [k for k, step in enumerate(planned[: len(steps)]) if "observe" in step and steps[k].ok]
    observations = [
        _observation(at / "observations" / k, o)
        for k, o in enumerate((at / "observations").array(raw["observations"]))
    ]
    if len(observations) != len(observed):
        raise (at / "observations").fail(f"expected {len(observed)} observations, got {len(observations)}")
    _check_lets(at, planned, steps, observations, observed)
    return Trace(name, tuple(steps), tuple(observations))


def _check_lets(
    at: _At,
    planned: Sequence[Mapping[str, Any]],
    steps: Sequence[StepResult],
    observations: Sequence[Observation],
    observed: Sequence[int],
) -> None:
    """Each observation must include every value made before it, under the id its let reported."""
    for observation, k in zip(observations, observed):
        for j in range(k):
            node = steps[j].node
            if node is not None and node not in observation.nodes:
                raise (at / "steps" / j / "node").fail(f"node {node} is missing from a later observation")


def read_answer(line: bytes, sent: Mapping[str, Any]) -> Answer | int:
    """Validate one line from the worker against the request ``sent``.

    Returns the step index of a progress message, or the final `Answer`.
    """
    try:
        # json.loads(line, parse_constant=_refuse_constant), without a new decoder for every line
        message = _DECODER.decode(line.decode(json.detect_encoding(line), "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        # A line holding this request's nonce is the worker's own (nothing else can know the
        # nonce): broken JSON there, a bare NaN say, is the worker's mistake, not a stray line.
        if sent["nonce"].encode() in line:
            raise ProtocolError(f"an answer that is not valid JSON: {clean(str(exc))}") from None
        raise StrayLineError(f"not a JSON object: {clean(str(exc))}") from None
    at = _At()
    if not isinstance(message, dict):
        raise at.fail(f"expected an object, got {_kind(message)}")
    if message.get("id") != sent["id"] or message.get("nonce") != sent["nonce"]:
        raise StrayLineError(
            f"a message that does not answer request {sent['id']} (its id and nonce must be echoed): "
            f"{clean(line[:120].decode('utf-8', 'replace'))}"
        )
    kind = message.get("type")
    if kind == "progress":
        raw = at.object(message, ("id", "nonce", "type", "at"))
        return (at / "at").integer(raw["at"])
    if kind != sent["type"]:
        raise (at / "type").fail(f"expected {sent['type']!r} or 'progress', got {clean(str(kind))!r}")
    envelope = ("id", "nonce", "type")
    if kind == "hello":
        raw = at.object(message, (*envelope, "protocol", "worker"))
        worker = (at / "worker").object(raw["worker"], ("name", "language", "version"))
        return Answer(
            "hello",
            protocol=(at / "protocol").integer(raw["protocol"], 1),
            worker=WorkerInfo(
                *((at / "worker" / k).text(worker[k]) for k in ("name", "language", "version"))
            ),
        )
    if kind == "load":
        raw = at.object(message, (*envelope, "ok"), ("engine", "error"))
        if (at / "ok").boolean(raw["ok"]):
            return Answer("load", engine=_engine(at / "engine", raw.get("engine")))
        return Answer("load", ok=False, error=_error(at / "error", raw.get("error")))
    if kind == "run":
        raw = at.object(message, (*envelope, "traces"))
        programs = sent["programs"]
        traces = (at / "traces").array(raw["traces"])
        if len(traces) != len(programs):
            raise (at / "traces").fail(f"expected {len(programs)} traces, got {len(traces)}")
        return Answer(
            "run", traces=[_trace(at / "traces" / k, t, p) for k, (t, p) in enumerate(zip(traces, programs))]
        )
    if kind == "bye":
        at.object(message, envelope)
        return Answer("bye")
    raise (at / "type").fail(f"unknown message type {clean(str(kind))!r}")


def _refuse_constant(token: str) -> None:
    raise ValueError(f'{token} is not JSON; write "nan", "inf" or "-inf" as strings')


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
