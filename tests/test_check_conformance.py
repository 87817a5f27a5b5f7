"""``--protocol-only`` on adapters written from docs/protocol.md: numbers JSON has no room for
travel as the protocol spells them, invalid JSON is refused at once, and a foreign engine's
own functions link a report to their lines.

The adapter is `tests/engines/adapters/protocol_adapter.py`, a small engine of its own whose
first argument breaks it one way at a time (its docstring lists the ways).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from twingrad.check import check_engine
from twingrad.check.conformance import (
    SPECIAL_NUMBERS,
    SPECIAL_PROGRAM,
    Conformance,
    _expect_special_numbers,
    conformance,
    special_program,
)
from twingrad.check.protocol import (
    ProtocolError,
    StepResult,
    StrayLineError,
    Trace,
    WorkerError,
    read_answer,
    request,
)
from twingrad.ops import OPS, op_named

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = Path(__file__).parent / "engines" / "adapters" / "protocol_adapter.py"
SCHEMA = json.loads((ROOT / "docs" / "protocol.schema.json").read_text(encoding="utf-8"))


def adapter(mode: str) -> str:
    return f"{sys.executable} {ADAPTER} {mode}"


def test_an_adapter_that_follows_the_docs_conforms_without_a_warning() -> None:
    found = conformance(adapter("good"), 20.0)
    assert (found.problems, found.warnings) == ([], [])


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        # data: null is no number at all; the message says where such a null comes from
        ("stringify", 'steps[1].data: expected a number (or "nan", "inf", "-inf"), got null (NaN is '
                      'written "nan": a plain JSON.stringify writes null)'),
        # grad: null would pass a check as "no gradient": only the number sent shows it is NaN
        ("null-grad", 'grad of x after backward through x * nan came back as null, expected "nan"'),
        ("signless-zero", "data of a leaf made of -0.0 came back as 0.0, expected -0.0"),
        ("bare-nan", 'an answer that is not valid JSON: NaN is not JSON; write "nan"'),
    ],
)
def test_special_numbers_must_come_back_as_sent(mode: str, words: str) -> None:
    found = conformance(adapter(mode), 20.0)
    assert found.problems and all(p.startswith("run 'special numbers': ") for p in found.problems)
    assert words in found.problems[0], found.problems
    assert not any("no answer within" in p for p in found.problems)  # refused at once, not timed out


def test_the_special_program_sends_each_special_number_as_the_protocol_spells_it() -> None:
    steps = special_program()["steps"]
    values = [s["value"] for s in steps if "value" in s and str(s["let"]).startswith("s")]
    assert values == ["nan", "inf", "-inf", -0.0] and len(values) == len(SPECIAL_NUMBERS)
    sent = request(1, "run", programs=[special_program()])
    requests = {k: v for k, v in SCHEMA.items() if k != "oneOf"} | {"$ref": "#/$defs/request"}
    jsonschema.Draft202012Validator(requests).validate(sent)
    text = json.dumps(sent, allow_nan=False)
    assert '"value": -0.0' in text and '{"number": "nan"}' in text


@pytest.mark.parametrize(("kind", "problem"), [("unreadable", True), ("raised", False), ("missing", False)])
def test_a_special_number_the_worker_cannot_give_back_is_a_problem_and_an_engines_refusal_a_warning(
    kind: str, problem: bool
) -> None:
    error = WorkerError(kind, "Error", "no")
    trace = Trace(SPECIAL_PROGRAM, (StepResult(True, node=0), StepResult(False, error=error)), ())
    found = Conformance()
    _expect_special_numbers(found, trace)
    said = found.problems if problem else found.warnings
    assert (len(found.problems), len(found.warnings)) == ((1, 0) if problem else (0, 1))
    assert said[0].startswith(f"run 'special numbers': step 1 (read s0) failed: {kind} Error: no")


def test_an_adapter_whose_definitions_link_no_operation_is_warned_not_failed() -> None:
    found = conformance(adapter("unlinked"), 20.0)
    assert found.problems == []
    [warning] = found.warnings
    assert "none of the 2 definitions links to an operation" in warning and '"op": "mul"' in warning


def test_a_foreign_engines_wrong_operation_is_reported_at_its_own_function() -> None:
    """``times`` is the engine's name for mul: its definition says so, and the report points there."""
    run = check_engine(command=adapter("wrong-times"), only=["seed_graph"])
    [result] = run.results
    assert result.status == "fail" and "mul is wrong on its own" in result.detail
    lines = ADAPTER.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("def times("))
    assert result.source is not None
    assert (Path(result.source.file).resolve(), result.source.line) == (ADAPTER, line)


def test_the_conventions_docs_protocol_md_states_for_gradients() -> None:
    """A leaf whose grad is null after backward() fails; micrograd's second backward() is a note."""
    empty = check_engine(command=adapter("no-leaf-grads"), only=["seed_graph"]).result("seed_graph")
    assert empty.status == "fail"
    assert "empty (None) after backward(): a leaf must receive its gradient" in empty.detail
    twice = check_engine(command=adapter("good"), only=["backward_twice"]).result("backward_twice")
    assert twice.status == "note" and "propagates again the gradients the nodes kept" in twice.detail


# -- the parent's side, message by message ---------------------------------------------------------


def _load_answer(definitions: list[dict]) -> tuple[bytes, dict]:
    sent = request(1, "load", target=None, path=[], spellings={})
    spellings = {"data": "data", "grad": "grad", "inputs": None, "op": None, "backward": "backward"}
    engine = {"name": "Value", "spellings": spellings, "definitions": definitions}
    answer = {"id": 1, "nonce": sent["nonce"], "type": "load", "ok": True, "engine": engine}
    jsonschema.Draft202012Validator(SCHEMA).validate(answer)
    return json.dumps(answer).encode(), sent


def test_a_definition_that_names_its_operation_wins_over_a_python_name() -> None:
    line, sent = _load_answer([
        {"name": "__mul__", "file": "engine.c", "line": 3},
        {"name": "value_mul", "file": "engine.c", "line": 40, "function": "value_mul", "op": "mul"},
        {"name": "value_tanh", "file": "engine.c", "line": 50, "op": "tanh"},
    ])
    engine = read_answer(line, sent).engine  # type: ignore[union-attr]
    assert engine is not None
    assert engine.defines(op_named("mul")).line == 40  # type: ignore[union-attr]
    assert engine.defines(op_named("mul"), reflected=True).line == 40  # type: ignore[union-attr]
    assert engine.defines(op_named("tanh")).line == 50  # type: ignore[union-attr]
    assert engine.defines(op_named("exp")) is None


def test_a_definition_naming_an_unknown_operation_is_refused() -> None:
    line, sent = _load_answer([{"name": "f", "file": "engine.c", "line": 3}])
    bad = line.replace(b'"line": 3}', b'"line": 3, "op": "matmul"}')
    with pytest.raises(ProtocolError, match=r"definitions\[0\]\.op: expected an operation's name .*'matmul'"):
        read_answer(bad, sent)


def test_the_schemas_operations_are_the_op_tables() -> None:
    assert sorted(SCHEMA["$defs"]["op_name"]["enum"]) == sorted(op.name for op in OPS)


def test_broken_json_carrying_the_nonce_is_the_workers_mistake_and_without_it_a_stray() -> None:
    sent = request(3, "run", programs=[])
    mine = f'{{"id": 3, "nonce": "{sent["nonce"]}", "type": "run", "traces": [NaN]}}'.encode()
    with pytest.raises(ProtocolError, match="not valid JSON: NaN is not JSON") as raised:
        read_answer(mine, sent)
    assert not isinstance(raised.value, StrayLineError)
    with pytest.raises(StrayLineError, match="not a JSON object"):
        read_answer(b'{"id": 3, "data": NaN}', sent)  # the engine's own print: skipped
