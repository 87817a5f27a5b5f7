"""The worker protocol: real traffic follows the published schema, and bad answers are refused.

docs/protocol.schema.json is the contract an adapter in any language implements; the
parent's own validation (`protocol.read_answer`) must refuse what the schema refuses,
naming the place.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

from twingrad.check import check_engine
from twingrad.check.cases import CASES_BY_NAME
from twingrad.check.conformance import conformance
from twingrad.check.programs import compile_case
from twingrad.check.protocol import ProtocolError, StrayLineError, clean, read_answer, request
from twingrad.check.worker import Worker, python_command

from .check_support import session_for

ROOT = Path(__file__).parents[1]
SCHEMA = json.loads((ROOT / "docs" / "protocol.schema.json").read_text())
ENGINES = Path(__file__).parent / "engines"
PYENV = Path.home() / ".pyenv" / "versions"


def _validator(definition: str | None = None) -> jsonschema.protocols.Validator:
    schema = SCHEMA if definition is None else {**SCHEMA, "$ref": f"#/$defs/{definition}"}
    if definition is not None:
        schema.pop("oneOf")
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_real_traffic_follows_the_schema_both_ways() -> None:
    """Every request a check sends and every line the Python worker answers, over cases that
    pass, fail, lack an op and raise."""
    answers = _validator()
    requests = _validator("request")
    with session_for(f"{ENGINES / 'variants.py'}:NoneTanh") as session:
        assert session.worker is not None
        session.worker.traffic = []
        programs = [
            compile_case(CASES_BY_NAME[name]).program
            for name in ("seed_graph", "unary_tanh", "unary_sin", "backward_twice", "number_minus_value")
        ]
        for program in programs:
            requests.validate(request(7, "run", programs=[program]))
            session.run([program])
        lines = session.worker.traffic
    assert len(lines) >= len(programs)
    kinds = set()
    for line in lines:
        message = json.loads(line)
        answers.validate(message)
        kinds.add(message["type"])
        for trace in message.get("traces", []):
            kinds.update(s["error"]["kind"] for s in trace["steps"] if not s["ok"])
    assert {"run", "progress", "returned"} <= kinds


def _answer(**fields) -> tuple[bytes, dict]:
    sent = request(
        3, "run", programs=[{"name": "p", "steps": [{"let": "a", "value": 1.0}, {"observe": "a"}]}]
    )
    message = {"id": 3, "nonce": sent["nonce"], "type": "run", **fields}
    return json.dumps(message).encode(), sent


def _trace(nodes: list[dict], root: int = 0) -> dict:
    return {
        "name": "p",
        "steps": [{"ok": True, "node": 0}, {"ok": True}],
        "observations": [{"root": root, "nodes": nodes}],
    }


def _node(i: int, inputs: list[int] = (), data: object = 1.0) -> dict:  # type: ignore[assignment]
    return {"id": i, "data": data, "grad": 0.0, "op": "", "inputs": list(inputs)}


def test_a_well_formed_answer_reads_into_typed_traces() -> None:
    line, sent = _answer(traces=[_trace([_node(0, data="nan")])])
    answer = read_answer(line, sent)
    [trace] = answer.traces  # type: ignore[union-attr]
    assert trace.observations[0].nodes[0].data != trace.observations[0].nodes[0].data  # nan


@pytest.mark.parametrize(
    ("traces", "words"),
    [
        ([], "traces: expected 1 traces, got 0"),
        ([_trace([_node(0, [5])])], "node 5 is not in this observation"),
        ([_trace([_node(0, [1]), _node(1, [0])])], "the graph has a cycle"),
        ([_trace([_node(0), _node(0)])], "node 0 is listed twice"),
        ([_trace([_node(0, data=True)])], "data: expected a number"),
        ([_trace([_node(0)], root=4)], "root: node 4 is not in this observation"),
        ([{"name": "q", "steps": [], "observations": []}], "expected the trace of 'p'"),
        (
            [{"name": "p", "steps": [{"ok": True, "node": 0}], "observations": []}],
            "1 of 2 steps answered, and none failed",
        ),
        # Steps that look almost like a well-behaved worker's still get the whole check.
        ([{**_trace([_node(0)]), "steps": [{"ok": True, "node": -1}, {"ok": True}]}],
         r"steps\[0\]\.node: expected an integer >= 0"),
        ([{**_trace([_node(0)]), "steps": [{"ok": True, "node": True}, {"ok": True}]}],
         r"steps\[0\]\.node: expected an integer >= 0, got a boolean"),
        ([{**_trace([_node(0)]), "steps": [{"ok": True, "node": 0, "nod": 1}, {"ok": True}]}],
         r"steps\[0\]: unexpected 'nod'"),
        ([{**_trace([_node(0)]), "steps": [{"ok": True, "node": 0}, {"ok": 1}]}],
         r"steps\[1\]\.ok: expected true or false"),
        (
            [
                {
                    "name": "p",
                    "steps": [{"ok": False, "error": {"kind": "exploded", "type": "X", "message": ""}}],
                    "observations": [],
                }
            ],
            "kind: expected one of missing, raised, returned, unreadable",
        ),
    ],
)
def test_malformed_answers_are_refused_with_their_place(traces: list, words: str) -> None:
    line, sent = _answer(traces=traces)
    pattern = words if "\\" in words else words.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ProtocolError, match=pattern):
        read_answer(line, sent)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"ok": True, "data": 0.5}, "a read answers with the node's data and grad"),
        ({"ok": True, "data": 0.5, "grad": True}, r"steps\[1\]\.grad: expected a number"),
        ({"ok": True, "data": "0.5", "grad": 1.0}, r"steps\[1\]\.data: expected a number"),
    ],
)
def test_a_read_step_answers_with_two_numbers(answer: dict, words: str) -> None:
    sent = request(3, "run", programs=[{"name": "p", "steps": [{"let": "a", "value": 1.0}, {"read": "a"}]}])
    trace = {"name": "p", "steps": [{"ok": True, "node": 0}, answer], "observations": []}
    line = json.dumps({"id": 3, "nonce": sent["nonce"], "type": "run", "traces": [trace]}).encode()
    with pytest.raises(ProtocolError, match=words):
        read_answer(line, sent)
    good = {**trace, "steps": [{"ok": True, "node": 0}, {"ok": True, "data": 0.5, "grad": None}]}
    line = json.dumps({"id": 3, "nonce": sent["nonce"], "type": "run", "traces": [good]}).encode()
    [read] = read_answer(line, sent).traces  # type: ignore[union-attr]
    assert (read.steps[1].data, read.steps[1].grad) == (0.5, None)


def test_lines_that_answer_another_request_are_strays() -> None:
    line, sent = _answer(traces=[])
    other = request(3, "run", programs=sent["programs"])
    with pytest.raises(StrayLineError, match="does not answer request 3"):
        read_answer(line, other)
    with pytest.raises(StrayLineError, match="not a JSON object"):
        read_answer(b'{"id": 3, "data": NaN}', sent)


def test_engine_text_is_cut_and_its_control_characters_escaped() -> None:
    assert clean("ok\x1b[2J\r\u202e") == "ok\\x1b[2J\\r\\u202e"
    assert len(clean("x" * 10_000)) == 2000


@pytest.mark.parametrize("version", ["3.8.18", "3.13.0"])
def test_the_worker_runs_under_other_pythons(version: str) -> None:
    python = PYENV / version / "bin" / "python"
    assert python.exists(), f"pyenv's Python {version} is part of this machine's set-up"
    with Worker(python_command(str(python))) as worker:
        assert worker.start().version == version
    run = check_engine(
        "micrograd.engine:Value", python=str(python), only=["seed_graph", "unary_tanh", "backward_twice"]
    )
    assert [r.status for r in run.results] == ["pass", "unsupported", "note"]


# -- another language: the JavaScript example ----------------------------------------------------

ADAPTER = ROOT / "examples" / "javascript" / "adapter.js"


def _node_command(adapter: Path) -> str:
    node = shutil.which("node")
    assert node is not None, "node is installed by make install"
    return f"{node} {adapter}"


def test_the_javascript_engine_passes_the_whole_catalogue() -> None:
    found = conformance(_node_command(ADAPTER), 30.0)
    assert (found.problems, found.warnings) == ([], [])
    run = check_engine(command=_node_command(ADAPTER))
    assert run.ok and run.summary["pass"] == len(run.results), run


def test_a_wrong_javascript_derivative_is_named(tmp_path: Path) -> None:
    for file in ADAPTER.parent.glob("*.js"):
        shutil.copy(file, tmp_path / file.name)
    engine = tmp_path / "engine.js"
    source = engine.read_text()
    wrong = source.replace("((1 - t) * (1 + t))", "(1 - t)")
    assert wrong != source, "the tanh rule moved: update this test's edit"
    engine.write_text(wrong)
    run = check_engine(command=_node_command(tmp_path / "adapter.js"), only=["unary_tanh", "seed_graph"])
    assert run.exit_code == 1
    verdict = run.result("unary_tanh")
    assert verdict.status == "fail" and "tanh is wrong on its own" in verdict.detail
    assert verdict.source is not None and verdict.source.file.endswith("engine.js")


def test_a_javascript_operation_under_another_name_is_reported_at_its_line(tmp_path: Path) -> None:
    """The engine's `mul` is `times` here: the adapter's OPERATION_METHODS says so, its definitions
    carry "op": "mul", and the report points at `times`, which no Python name would find."""
    for file in ADAPTER.parent.glob("*.js"):
        shutil.copy(file, tmp_path / file.name)
    engine, adapter = tmp_path / "engine.js", tmp_path / "adapter.js"
    source = engine.read_text()
    wrong = source.replace("  mul(other) {", "  times(other) {").replace(
        "this.grad += g * other.data;", "this.grad += g;", 1)
    assert wrong.count("times(other)") == 1 and "this.grad += g;" in wrong, "mul moved: update this edit"
    engine.write_text(wrong)
    adapter.write_text(adapter.read_text().replace("mul: 'mul',", "mul: 'times',"))
    run = check_engine(command=_node_command(adapter), only=["seed_graph"])
    [result] = run.results
    assert result.status == "fail" and "mul is wrong on its own" in result.detail, result
    line = next(n for n, text in enumerate(wrong.splitlines(), 1) if "  times(other) {" in text)
    assert result.source is not None and (result.source.file, result.source.line) == (str(engine), line)


def test_conformance_names_what_a_broken_adapter_gets_wrong(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter.py"
    adapter.write_text(
        textwrap.dedent("""
        import json, sys
        for line in sys.stdin:
            request = json.loads(line)
            answer = {"id": request["id"], "nonce": request["nonce"], "type": request["type"]}
            if request["type"] == "hello":
                answer.update(protocol=1, worker={"name": "broken", "language": "python", "version": "0"})
            elif request["type"] == "load":
                answer.update(ok=True, engine={"name": "V", "spellings": {"data": "d", "grad": "g",
                              "inputs": None, "op": None, "backward": "b"}})
            else:
                answer["traces"] = [{"name": p["name"], "steps": [], "observations": [], "extra": 1}
                                    for p in request["programs"]]
            print(json.dumps(answer), flush=True)
    """)
    )
    problems = conformance(f"{sys.executable} {adapter}", 10.0).problems
    assert problems and "unexpected 'extra'" in problems[0]
    assert problems[0].startswith("run 'probe")


def test_conformance_reports_each_line_a_check_would_skip(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter.py"
    adapter.write_text(
        textwrap.dedent("""
        import json, sys
        print("hello from the engine's import")  # not an answer: a check skips it
        for line in sys.stdin:
            request = json.loads(line)
            answer = {"id": request["id"], "nonce": request["nonce"], "type": request["type"]}
            if request["type"] == "hello":
                answer.update(protocol=1, worker={"name": "chatty", "language": "python", "version": "0"})
            elif request["type"] == "load":
                answer.update(ok=True, engine={"name": "V", "spellings": {"data": "d", "grad": "g",
                              "inputs": None, "op": None, "backward": "b"}})
            else:
                sys.exit(0)
            print(json.dumps(answer), flush=True)
    """)
    )
    problems = conformance(f"{sys.executable} {adapter}", 10.0).problems
    assert problems[0].startswith("hello: skipped a line that answers no request: ")
    skipped = [p for p in problems if "skipped a line" in p]
    assert all(p.startswith("hello: ") for p in skipped)  # once per worker start: its import's print
    assert "run 'probe" in problems[1]  # then what a real request got wrong (the worker ended)



# -- the worker's JSON: json's C half where there is one, json itself elsewhere ----------------


MESSAGES = [
    {"id": 3, "nonce": "ab", "type": "run",
     "programs": [{"name": "p", "steps": [{"let": "a", "value": -0.5}]}]},
    {"text": "caf\u00e9 \u2603 \"quoted\" \\ \n\t\x01", "big": 2**70, "small": -(2**63), "tiny": 5e-324},
    [1, 2.5, 1e300, -0.0, True, False, None, [], {}],
]


@pytest.mark.parametrize("fast", [True, False], ids=["_json", "json"])
def test_the_worker_reads_and_writes_json_as_json_does(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from twingrad.check.untrusted import pyworker

    if not fast:
        monkeypatch.setitem(sys.modules, "_json", None)  # as on an interpreter without it
    loads, dumps = pyworker.json_codec()
    assert loads.__name__ == ("loads" if fast else "json_loads")
    for message in MESSAGES:
        assert loads(dumps(message)) == json.loads(json.dumps(message)) == message
        assert loads(json.dumps(message)) == message
        assert json.loads(dumps(message)) == message
        assert dumps(message) == json.dumps(message, separators=(",", ":"))
    for wrong in ('{"a": NaN}', '{"a": 1} x', "", '{"a": '):
        with pytest.raises(ValueError):
            loads(wrong)
    with pytest.raises(ValueError):
        dumps({"a": math.nan})  # non-finite numbers travel as strings, never as NaN tokens
