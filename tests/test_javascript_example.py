"""The JavaScript example (`examples/javascript/`): its adapter speaks protocol 1, its engine matches ours.

A small protocol client, stdlib and jsonschema only: it starts ``node adapter.js``,
writes requests, and validates every line the adapter writes against
`docs/protocol.schema.json` and against the request it answers (id and nonce echoed,
progress before the answer). The programs are run a second time on twingrad's own
engine, and every node of every observation is compared: structure, op text, data
and grad, within 1e-12 relative.

Broken engines are copies of engine.js, edited here textually, each edit asserted to
have happened, so that an edit of engine.js cannot silently turn a test into a no-op.
"""

from __future__ import annotations

import json
import math
import operator
import re
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from twingrad.engine import Value

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "javascript"
ADAPTER = EXAMPLE / "adapter.js"
ENGINE = EXAMPLE / "engine.js"
SCHEMA = json.loads((ROOT / "docs" / "protocol.schema.json").read_text(encoding="utf-8"))
# Every message on the worker's standard output (the schema's root), and requests.
ANSWER_SCHEMA = jsonschema.Draft202012Validator(SCHEMA)
REQUEST_SCHEMA = jsonschema.Draft202012Validator(
    {"$schema": SCHEMA["$schema"], "$defs": SCHEMA["$defs"], "$ref": "#/$defs/request"}
)
RELATIVE_TOLERANCE = 1e-12
TIMEOUT = 60.0

# -- the client ---------------------------------------------------------------------------


def request(type_: str, **fields: Any) -> dict[str, Any]:
    """A request without its id (given when a session is sent) and with a fresh nonce."""
    return {"nonce": secrets.token_hex(8), "type": type_, **fields}


@dataclass
class Exchange:
    sent: dict[str, Any]
    answer: dict[str, Any]
    progress: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Session:
    exchanges: list[Exchange]
    stderr: str

    def answer(self, type_: str) -> dict[str, Any]:
        (found,) = [e.answer for e in self.exchanges if e.sent["type"] == type_]
        return found


def split_messages(requests: list[dict[str, Any]], stdout: str) -> list[Exchange]:
    """Every stdout line validated, then matched to the request it belongs to, in order."""
    messages = []
    for line in stdout.split("\n")[:-1]:  # every line ends with "\n", the last one too
        message = json.loads(line)
        ANSWER_SCHEMA.validate(message)
        messages.append(message)
    assert stdout.endswith("\n") or stdout == ""
    exchanges = []
    pending = iter(messages)
    for sent in requests:
        progress = []
        for message in pending:
            assert (message["id"], message["nonce"]) == (sent["id"], sent["nonce"]), (message, sent)
            if message["type"] == "progress":
                progress.append(message)
                continue
            assert message["type"] == sent["type"]
            exchanges.append(Exchange(sent, message, progress))
            break
        else:
            raise AssertionError(f"no answer to {sent['type']} request {sent['id']}")
    assert next(pending, None) is None, "a line the adapter wrote answers no request"
    return exchanges


def number_requests(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    numbered = [{"id": index, **sent} for index, sent in enumerate(requests)]
    for sent in numbered:
        REQUEST_SCHEMA.validate(sent)  # the test's own programs follow the contract too
    return numbered


def converse(requests: list[dict[str, Any]], engine: Path | None = None) -> Session:
    """Sends every request, closes stdin, and reads everything: the adapter must exit 0."""
    numbered = number_requests(requests)
    command = ["node", str(ADAPTER)] + ([str(engine)] if engine else [])
    stdin = "".join(json.dumps(sent) + "\n" for sent in numbered)
    finished = subprocess.run(
        command, input=stdin, capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=TIMEOUT
    )
    assert finished.returncode == 0, finished.stderr
    return Session(split_messages(numbered, finished.stdout), finished.stderr)


def run_programs(programs: list[dict[str, Any]], engine: Path | None = None) -> Session:
    return converse(
        [
            request("hello", protocol=1),
            request("load", target=None, path=[], spellings={}),
            request("run", programs=programs),
            request("bye"),
        ],
        engine,
    )


def traces_by_name(session: Session) -> dict[str, dict[str, Any]]:
    return {trace["name"]: trace for trace in session.answer("run")["traces"]}


# -- programs -------------------------------------------------------------------------------


def leaf(name: str, value: float | str) -> dict[str, Any]:
    return {"let": name, "value": value, "label": name}


def apply(name: str, op: str, *args: str | float) -> dict[str, Any]:
    """``args``: a string is the name of an earlier let, anything else a number."""
    return {
        "let": name,
        "apply": op,
        "args": [
            {"ref": arg} if isinstance(arg, str) and arg not in ("nan", "inf", "-inf") else {"number": arg}
            for arg in args
        ],
    }


def backward_and_observe(root: str) -> list[dict[str, Any]]:
    return [{"backward": root}, {"observe": root}]


def program(name: str, *steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "steps": list(steps)}


def one_op(
    name: str, op: str, *args: str | float, a: float | str = 0.7, b: float | str = -1.3
) -> dict[str, Any]:
    return program(name, leaf("a", a), leaf("b", b), apply("out", op, *args), *backward_and_observe("out"))


BINARY_OPS = ("add", "sub", "mul", "div", "pow")
UNARY_OPS = ("neg", "abs", "exp", "log", "tanh", "relu", "sigmoid", "sin", "cos", "sqrt")

PROGRAMS = [
    # Every binary op with two nodes, a number on the left, and a number on the right.
    *[one_op(f"{op}_nodes", op, "a", "b") for op in BINARY_OPS if op != "pow"],
    one_op("pow_nodes", "pow", "a", "b", a=1.7, b=-0.6),
    *[one_op(f"{op}_number_left", op, 3, "b") for op in BINARY_OPS],
    *[one_op(f"{op}_number_right", op, "a", 2.5) for op in BINARY_OPS],
    one_op("pow_integer_exponent", "pow", "b", 3),
    # Every unary op, where it is smooth and on both sides of its kinks.
    *[one_op(f"{op}_at_0.7", op, "a") for op in UNARY_OPS],
    *[
        one_op(f"{op}_at_-1.3", op, "b")
        for op in ("neg", "abs", "exp", "tanh", "relu", "sigmoid", "sin", "cos")
    ],
    # Reuse: one node as both inputs, a node feeding several consumers, a diamond.
    program("a_times_a", leaf("a", -1.5), apply("sq", "mul", "a", "a"), *backward_and_observe("sq")),
    program("a_plus_a", leaf("a", -1.5), apply("twice", "add", "a", "a"), *backward_and_observe("twice")),
    program(
        "fan_out",
        leaf("a", 0.4),
        apply("sq", "mul", "a", "a"),
        apply("cube", "mul", "sq", "a"),
        apply("out", "sub", "cube", "sq"),
        *backward_and_observe("out"),
    ),
    program(
        "diamond",
        leaf("a", 0.3),
        apply("left", "tanh", "a"),
        apply("right", "exp", "a"),
        apply("joined", "mul", "left", "right"),
        apply("out", "add", "joined", "a"),
        *backward_and_observe("out"),
    ),
    # backward() twice adds a fresh gradient to every node, intermediates included.
    program(
        "backward_twice",
        leaf("a", 0.9),
        leaf("b", -0.4),
        apply("product", "mul", "a", "b"),
        apply("out", "tanh", "product"),
        *backward_and_observe("out"),
        *backward_and_observe("out"),
    ),
    # The seed notebook's nudge: new leaves moved along the gradient, a new graph.
    program(
        "nudged",
        leaf("a", 2.0),
        leaf("b", -3.0),
        apply("out", "mul", "a", "b"),
        {"backward": "out"},
        {"let": "a2", "nudged": "a", "step": 0.01, "label": "a"},
        {"let": "b2", "nudged": "b", "step": 0.01, "label": "b"},
        apply("out2", "mul", "a2", "b2"),
        {"observe": "out2"},
    ),
    # A leaf no graph uses still appears in an observation.
    program(
        "detached_leaf", leaf("a", 0.5), leaf("unused", 7.0), apply("out", "exp", "a"), {"observe": "out"}
    ),
    # IEEE values where Python would raise, and torch's conventions at kinks.
    one_op("log_of_zero", "log", "a", a=0.0),
    one_op("log_of_negative", "log", "b"),
    one_op("divide_by_zero", "div", "a", "b", b=0.0),
    one_op("zero_over_zero", "div", "a", "b", a=0.0, b=0.0),
    one_op("sqrt_of_zero", "sqrt", "a", a=0.0),
    one_op("relu_at_zero", "relu", "a", a=0.0),
    one_op("relu_at_negative_zero", "relu", "a", a=-0.0),
    one_op("abs_at_zero", "abs", "a", a=0.0),
    one_op("zero_to_the_minus_one", "pow", "a", -1, a=0.0),
    one_op("negative_to_a_fraction", "pow", "b", 0.5),
    one_op("one_to_the_infinity", "pow", "a", "inf", a=1.0),
    one_op("exp_overflows", "exp", "a", a=1000.0),
    one_op("sigmoid_saturates", "sigmoid", "b", b=-1000.0),
    one_op("tanh_of_infinity", "tanh", "a", a="inf"),
    one_op("exp_of_nan", "exp", "a", a="nan"),
    one_op("sin_of_infinity", "sin", "a", a="-inf"),
]
PROGRAM_NAMES = [p["name"] for p in PROGRAMS]
assert len(set(PROGRAM_NAMES)) == len(PROGRAM_NAMES)

# -- the same programs on twingrad's engine -----------------------------------------------------

TWINGRAD_OPS: dict[str, Callable[..., Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
    "neg": operator.neg,
    "abs": abs,
    **{name: operator.methodcaller(name) for name in UNARY_OPS if name not in ("neg", "abs")},
}


def decode(number: float | int | str) -> float:
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(number, number)  # type: ignore[arg-type]


def reachable(roots: list[Value]) -> list[Value]:
    found: dict[int, Value] = {}
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) not in found:
            found[id(node)] = node
            stack.extend(node._prev)
    return list(found.values())


@dataclass
class Snapshot:
    """twingrad's graph at an `observe` step: the root and each node's numbers then."""

    root: Value
    numbers: dict[int, tuple[float, float]]  # id(node) -> (data, grad)
    nodes: list[Value]


def run_on_twingrad(steps: list[dict[str, Any]]) -> tuple[list[Value | None], list[Snapshot]]:
    """One twingrad node per step (None for backward/observe), and one snapshot per observe."""
    made: list[Value | None] = []
    named: dict[str, Value] = {}
    snapshots = []
    for step in steps:
        node = None
        if "value" in step:
            node = Value(decode(step["value"]), label=step.get("label", ""))
        elif "apply" in step:
            operands = [named[arg["ref"]] if "ref" in arg else decode(arg["number"]) for arg in step["args"]]
            node = TWINGRAD_OPS[step["apply"]](*operands)
        elif "nudged" in step:
            source = named[step["nudged"]]
            node = Value(source.data + decode(step["step"]) * source.grad, label=step.get("label", ""))
        elif "backward" in step:
            named[step["backward"]].backward()
        else:
            root = named[step["observe"]]
            nodes = reachable([root, *(n for n in made if n is not None)])
            snapshots.append(Snapshot(root, {id(n): (n.data, n.grad) for n in nodes}, nodes))
        if node is not None:
            named[step["let"]] = node
        made.append(node)
    return made, snapshots


def same_number(theirs: float | int | str | None, ours: float) -> bool:
    """Equal within RELATIVE_TOLERANCE; NaN matches NaN, and a zero's sign must match."""
    if theirs is None:
        return False
    value = decode(theirs)
    if math.isnan(value) or math.isnan(ours):
        return math.isnan(value) and math.isnan(ours)
    if value == ours:
        return value != 0.0 or math.copysign(1.0, value) == math.copysign(1.0, ours)
    return abs(value - ours) <= RELATIVE_TOLERANCE * max(abs(value), abs(ours))


def differences(program_: dict[str, Any], trace: dict[str, Any]) -> list[str]:
    """Every way the adapter's trace differs from twingrad running the same program."""
    made, snapshots = run_on_twingrad(program_["steps"])
    problems = []
    if not all(step["ok"] for step in trace["steps"]) or len(trace["steps"]) != len(program_["steps"]):
        return [f"steps: {trace['steps']}"]
    if len(trace["observations"]) != len(snapshots):
        return [f"{len(trace['observations'])} observations, expected {len(snapshots)}"]
    for observation, snapshot in zip(trace["observations"], snapshots):
        by_id = {node["id"]: node for node in observation["nodes"]}
        if len(by_id) != len(observation["nodes"]):
            problems.append("two nodes share an id")
        # Pair each JavaScript node with its twingrad twin: the lets by step, the rest by
        # walking inputs side by side.
        twin_of: dict[int, Value] = {}
        pending = [(result["node"], ours) for result, ours in zip(trace["steps"], made) if ours is not None]
        while pending:
            js_id, ours = pending.pop()
            if js_id in twin_of:
                if twin_of[js_id] is not ours:
                    problems.append(f"node {js_id} pairs with two different twingrad nodes")
                continue
            twin_of[js_id] = ours
            inputs = by_id[js_id]["inputs"]
            if len(inputs) != len(ours._prev):
                problems.append(f"node {js_id}: inputs {inputs}, twingrad has {len(ours._prev)}")
                continue
            pending.extend(zip(inputs, ours._prev))
        if twin_of.get(observation["root"]) is not snapshot.root:
            problems.append(f"root {observation['root']} is not the observed node")
        if len(by_id) != len(snapshot.nodes) or len({id(n) for n in twin_of.values()}) != len(twin_of):
            problems.append(f"{len(by_id)} nodes observed, twingrad's graph has {len(snapshot.nodes)}")
        for js_id, node in by_id.items():
            ours = twin_of[js_id]
            data, grad = snapshot.numbers[id(ours)]
            if node["op"] != str(ours._op):
                problems.append(f"node {js_id}: op {node['op']!r}, twingrad {str(ours._op)!r}")
            if node["label"] != ours.label:
                problems.append(f"node {js_id}: label {node['label']!r}, twingrad {ours.label!r}")
            if node["unordered"]:
                problems.append(f"node {js_id}: inputs said to be unordered")
            if not same_number(node["data"], data):
                problems.append(
                    f"node {js_id} ({ours._op or 'leaf'}): data {node['data']!r}, twingrad {data!r}"
                )
            if not same_number(node["grad"], grad):
                problems.append(
                    f"node {js_id} ({ours._op or 'leaf'}): grad {node['grad']!r}, twingrad {grad!r}"
                )
    return problems


# -- tests: the example engine, run through its adapter ---------------------------------------


@pytest.fixture(scope="module")
def session() -> Session:
    """One adapter process runs every program in one `run` request."""
    return run_programs(PROGRAMS)


@pytest.mark.parametrize("program_", PROGRAMS, ids=PROGRAM_NAMES)
def test_every_node_matches_twingrads_engine(session: Session, program_: dict[str, Any]) -> None:
    trace = traces_by_name(session)[program_["name"]]
    assert differences(program_, trace) == []


def test_the_comparison_itself_catches_a_wrong_number(session: Session) -> None:
    """Guard against a comparison that always passes: one changed grad must show."""
    program_ = next(p for p in PROGRAMS if p["name"] == "diamond")
    trace = json.loads(json.dumps(traces_by_name(session)["diamond"]))
    leaf_node = next(n for n in trace["observations"][0]["nodes"] if n["label"] == "a")
    leaf_node["grad"] = leaf_node["grad"] * (1 + 1e-9)
    assert len(differences(program_, trace)) == 1


def test_hello_and_load_answers(session: Session) -> None:
    hello = session.answer("hello")
    assert hello["protocol"] == 1
    assert hello["worker"]["language"] == "javascript"
    engine = session.answer("load")["engine"]
    assert session.answer("load")["ok"] is True
    assert engine["name"] == "Value"
    assert engine["spellings"] == {
        "data": "data",
        "grad": "grad",
        "inputs": "_prev",
        "op": "_op",
        "label": "label",
        "backward": "backward",
        "requires_grad": None,
    }
    lines = ENGINE.read_text(encoding="utf-8").split("\n")
    assert engine["source"]["file"] == "examples/javascript/engine.js"
    assert lines[engine["source"]["line"] - 1].startswith("class Value")


def test_definitions_point_at_each_methods_line(session: Session) -> None:
    definitions = {d["name"]: d for d in session.answer("load")["engine"]["definitions"]}
    lines = ENGINE.read_text(encoding="utf-8").split("\n")
    assert set(BINARY_OPS + UNARY_OPS + ("backward",)) <= set(definitions)
    for name, definition in definitions.items():
        assert definition["file"] == "examples/javascript/engine.js"
        assert re.match(rf"\s*(static |function )?{name}\(", lines[definition["line"] - 1]), definition
    assert definitions["tanh"]["function"] == "Value.tanh"
    # Each operation's method says which operation it is; helpers and backward() say nothing.
    linked = {name: d["op"] for name, d in definitions.items() if "op" in d}
    assert linked == {op: op for op in BINARY_OPS + UNARY_OPS}


def test_ids_are_stable_across_observations_and_never_shared(session: Session) -> None:
    trace = traces_by_name(session)["backward_twice"]
    first, second = ([(n["id"], n["op"], n["data"]) for n in o["nodes"]] for o in trace["observations"])
    assert sorted(first) == sorted(second)
    assert len({node_id for node_id, _, _ in first}) == len(first) == 4
    made = [step["node"] for step in trace["steps"] if "node" in step]
    assert len(set(made)) == len(made) == 4


def test_a_node_used_twice_is_listed_twice_as_an_input(session: Session) -> None:
    trace = traces_by_name(session)["a_times_a"]
    a_id, square_id = trace["steps"][0]["node"], trace["steps"][1]["node"]
    nodes = {n["id"]: n for n in trace["observations"][0]["nodes"]}
    assert nodes[square_id]["inputs"] == [a_id, a_id]
    assert nodes[a_id]["grad"] == -3.0  # d(a²)/da = 2a at -1.5: both edges count


def test_a_number_on_either_side_becomes_a_leaf_in_its_place(session: Session) -> None:
    for name, number_position in (("sub_number_left", 0), ("sub_number_right", 1)):
        trace = traces_by_name(session)[name]
        nodes = {n["id"]: n for n in trace["observations"][0]["nodes"]}
        inputs = nodes[trace["steps"][2]["node"]]["inputs"]
        number = nodes[inputs[number_position]]
        assert (number["op"], number["inputs"], number["label"]) == ("", [], "")
        assert number["data"] == (3 if name == "sub_number_left" else 2.5)


def test_ieee_values_are_written_as_strings(session: Session) -> None:
    nodes = traces_by_name(session)["log_of_zero"]["observations"][0]["nodes"]
    by_label = {n["label"]: n for n in nodes}
    assert by_label["a"]["grad"] == "inf"
    assert [n["data"] for n in nodes if n["op"] == "log"] == ["-inf"]
    negative_zero = traces_by_name(session)["relu_at_negative_zero"]["observations"][0]["nodes"]
    assert all(math.copysign(1.0, n["data"]) == -1.0 for n in negative_zero if n["label"] != "b")


def test_progress_comes_before_backward_and_observe_steps(session: Session) -> None:
    (run,) = [e for e in session.exchanges if e.sent["type"] == "run"]
    expected = [
        at
        for program_ in PROGRAMS
        for at, step in enumerate(program_["steps"])
        if "backward" in step or "observe" in step
    ]
    assert [message["at"] for message in run.progress] == expected


def test_the_adapter_exits_after_bye(session: Session) -> None:
    assert session.answer("bye") == {"id": 3, "nonce": session.exchanges[3].sent["nonce"], "type": "bye"}


# -- tests: broken copies of the engine ------------------------------------------------------


def engine_copy(tmp_path: Path, pattern: str, replacement: str) -> Path:
    """engine.js with exactly one match of ``pattern`` (a regex) replaced, as a new file."""
    source = ENGINE.read_text(encoding="utf-8")
    edited, count = re.subn(pattern, replacement, source, flags=re.MULTILINE | re.DOTALL)
    assert count == 1 and edited != source, f"engine.js no longer matches {pattern!r}"
    copy = tmp_path / "engine.js"
    copy.write_text(edited, encoding="utf-8")
    return copy


def line_of(path: Path, text: str) -> int:
    (line,) = [
        i for i, content in enumerate(path.read_text(encoding="utf-8").split("\n"), 1) if text in content
    ]
    return line


def test_a_wrong_tanh_derivative_gives_a_different_gradient(tmp_path: Path) -> None:
    # The learner's classic slip: 1 - t instead of 1 - t².
    broken = engine_copy(tmp_path, r"(  tanh\(\) \{.*?this\.grad \+= )[^;\n]*;", r"\1g * (1 - t);")
    program_ = one_op("tanh_at_0.7", "tanh", "a")
    [trace] = run_programs([program_], broken).answer("run")["traces"]
    by_label = {n["label"]: n for n in trace["observations"][0]["nodes"]}
    assert by_label["a"]["grad"] == pytest.approx(1 - math.tanh(0.7))
    assert not same_number(by_label["a"]["grad"], 1 - math.tanh(0.7) ** 2)
    problems = differences(program_, trace)
    assert len(problems) == 1 and "grad" in problems[0], problems


def test_an_operation_the_engine_lacks_is_missing(tmp_path: Path) -> None:
    renamed = engine_copy(tmp_path, r"^  sigmoid\(\) \{", "  logistic() {")
    program_ = program(
        "no_sigmoid", leaf("a", 0.5), apply("out", "sigmoid", "a"), *backward_and_observe("out")
    )
    [trace] = run_programs([program_], renamed).answer("run")["traces"]
    assert trace["steps"][0] == {"ok": True, "node": 0}
    # The program stops at the first failing step: backward and observe never run.
    assert len(trace["steps"]) == 2 and trace["observations"] == []
    error = trace["steps"][1]["error"]
    assert (error["kind"], error["name"]) == ("missing", "sigmoid")


def test_an_exception_in_an_operation_is_raised_with_the_engines_frames(tmp_path: Path) -> None:
    throwing = engine_copy(
        tmp_path,
        r"^function asValue\(x\) \{\n",
        "function asValue(x) {\n  if (x === 42) throw new RangeError('no 42');\n",
    )
    program_ = program("times_42", leaf("a", 0.5), apply("out", "mul", "a", 42))
    [trace] = run_programs([program_], throwing).answer("run")["traces"]
    error = trace["steps"][1]["error"]
    assert (error["kind"], error["type"], error["message"]) == ("raised", "RangeError", "no 42")
    # Outermost first: Value.mul called asValue, which threw. No adapter or Node frames.
    assert [(f["function"], f["line"]) for f in error["frames"]] == [
        ("Value.mul", line_of(throwing, "  mul(other) {") + 1),
        ("asValue", line_of(throwing, "throw new RangeError")),
    ]
    assert {f["file"] for f in error["frames"]} == {str(throwing)} and error["depth"] == 2


def test_an_operation_returning_a_number_is_returned(tmp_path: Path) -> None:
    returning = engine_copy(tmp_path, r"^  neg\(\) \{\n", "  neg() {\n    return -this.data;\n")
    [trace] = run_programs([one_op("neg_number", "neg", "a")], returning).answer("run")["traces"]
    error = trace["steps"][2]["error"]
    assert (error["kind"], error["type"], error["number"]) == ("returned", "number", -0.7)


def test_a_grad_that_is_not_a_number_is_unreadable(tmp_path: Path) -> None:
    textual = engine_copy(tmp_path, r"this\.grad = 0;", "this.grad = 'zero';")
    [trace] = run_programs([program("text_grad", leaf("a", 1.0), {"observe": "a"})], textual).answer("run")[
        "traces"
    ]
    error = trace["steps"][1]["error"]
    assert error["kind"] == "unreadable" and "grad" in error["message"]


def test_a_syntax_error_fails_the_load_with_its_line(tmp_path: Path) -> None:
    broken = engine_copy(tmp_path, r"^  exp\(\) \{\n", "  exp() {\n    const = ;\n")
    session_ = run_programs([one_op("exp_at_0.7", "exp", "a")], broken)
    load = session_.answer("load")
    assert load["ok"] is False
    error = load["error"]
    assert (error["kind"], error["type"]) == ("raised", "SyntaxError")
    assert [(f["file"], f["line"]) for f in error["frames"]] == [(str(broken), line_of(broken, "const = ;"))]
    # A run after a failed load fails each program at its first step, with the same error.
    [trace] = session_.answer("run")["traces"]
    assert trace["steps"] == [{"ok": False, "error": error}]


def test_what_the_engine_prints_goes_to_stderr(tmp_path: Path) -> None:
    chatty = engine_copy(
        tmp_path,
        r"^  exp\(\) \{\n",
        "  exp() {\n    console.log('exp called');\n    process.stdout.write('raw write');\n",
    )
    chatty.write_text(
        "console.log('engine loading');\n" + chatty.read_text(encoding="utf-8"), encoding="utf-8"
    )
    session_ = run_programs([one_op("exp_at_0.7", "exp", "a")], chatty)  # every stdout line validated
    assert "engine loading" in session_.stderr and "exp called" in session_.stderr
    assert "raw write" in session_.stderr
    assert differences(one_op("exp_at_0.7", "exp", "a"), session_.answer("run")["traces"][0]) == []


# -- tests: the transport ---------------------------------------------------------------------


def test_requests_split_across_chunks_and_a_last_line_without_newline() -> None:
    """Bytes trickle in, a multi-byte character is cut in two, the last line has no "\\n"."""
    label = "∂L/∂a"
    requests = number_requests(
        [
            request("hello", protocol=1),
            request("load", target=None, path=[], spellings={}),
            request(
                "run",
                programs=[
                    program("p", leaf(label, 2.0), apply("out", "tanh", label), *backward_and_observe("out"))
                ],
            ),
        ]
    )
    data = "\n".join(json.dumps(sent, ensure_ascii=False) for sent in requests).encode("utf-8")
    cut = data.index("∂".encode()) + 1  # inside the character's three bytes
    with subprocess.Popen(
        ["node", str(ADAPTER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    ) as adapter:
        assert adapter.stdin is not None
        for piece in (data[:5], data[5:cut], data[cut : cut + 40], data[cut + 40 :]):
            adapter.stdin.write(piece)
            adapter.stdin.flush()
            time.sleep(0.05)  # long enough for each piece to reach the adapter as a chunk of its own
        stdout, stderr = adapter.communicate(timeout=TIMEOUT)
    assert adapter.returncode == 0, stderr
    exchanges = split_messages(requests, stdout.decode("utf-8"))
    [trace] = exchanges[2].answer["traces"]
    assert trace["observations"][0]["nodes"][-1]["label"] == label


def test_long_strings_are_cut_to_the_protocols_limit() -> None:
    long_label = "x" * 5000
    session_ = run_programs(
        [program("long", leaf("a", 1.0), {"let": "b", "value": 2.0, "label": long_label}, {"observe": "b"})]
    )
    [trace] = session_.answer("run")["traces"]
    label = {n["id"]: n for n in trace["observations"][0]["nodes"]}[trace["steps"][1]["node"]]["label"]
    assert len(label) <= 2000 and label.startswith("x" * 1000)


def test_spellings_from_the_load_request_are_used(tmp_path: Path) -> None:
    renamed = engine_copy(
        tmp_path, r"^    this\.data = data;\n", "    this.value = data;\n    this.data = 'unused';\n"
    )
    session_ = converse(
        [
            request("load", target=None, path=[], spellings={"data": "value"}),
            request("run", programs=[program("p", leaf("a", 3.0), {"observe": "a"})]),
        ],
        renamed,
    )
    assert session_.answer("load")["engine"]["spellings"]["data"] == "value"
    [trace] = session_.answer("run")["traces"]
    assert trace["observations"][0]["nodes"][0]["data"] == 3


# -- tests: the engine on its own -------------------------------------------------------------------


def test_backward_is_iterative_on_a_chain_of_a_million_nodes() -> None:
    script = (
        "const { Value } = require(process.argv[1]);"
        "const x = new Value(0.5); let y = x;"
        "for (let i = 0; i < 1e6; i++) y = y.add(1);"
        "y.backward(); console.log(JSON.stringify([y.data, x.grad]));"
    )
    finished = subprocess.run(
        ["node", "-e", script, str(ENGINE)], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert json.loads(finished.stdout) == [1_000_000.5, 1]


# -- tests: the README says what is true --------------------------------------------------------------


README = EXAMPLE / "README.md"


def test_the_readme_session_gives_the_output_it_shows() -> None:
    blocks = re.findall(r"```(\w*)\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    index = next(i for i, (language, body) in enumerate(blocks) if language == "sh" and "printf" in body)
    command, shown = blocks[index][1], blocks[index + 1][1]
    finished = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=TIMEOUT, check=True
    )
    assert finished.stdout == shown
    split_messages(number_requests([json.loads(re.search(r"'(\{.*\})'", command)[1])]), finished.stdout)


def test_the_readme_states_the_files_sizes_and_the_number_of_programs() -> None:
    readme = README.read_text(encoding="utf-8")
    for path in (ENGINE, ADAPTER):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert f"| `{path.name}` | {lines} |" in readme
    assert f"compares every node of\n{len(PROGRAMS)} small graphs" in readme
