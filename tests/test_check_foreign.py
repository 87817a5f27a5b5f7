"""Reading other engines' graphs (`resolve_foreign`), probes, and the pieces of a diagnosis."""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from micrograd.engine import Value as Micrograd

from twingrad.check.cases import CASES_BY_NAME
from twingrad.check.locate import _partial_sum, precision_note
from twingrad.check.probes import first_broken, probe, probe_each, shown
from twingrad.ops import OPS, op_named
from twingrad.parity import LEAF, ResolveError, compare
from twingrad.parity.plan import resolve_foreign

from .check_support import session_for


@dataclass(eq=False)
class Node:
    """A bare foreign node: whatever ``_op`` and ``_prev`` a test gives it."""

    data: float
    _prev: Any = ()
    _op: str = ""
    grad: float = 0.0
    label: str = field(default="")


def test_spellings_beyond_the_table_and_methods() -> None:
    x, y = Node(2.0), Node(8.0)
    assert resolve_foreign(Node(math.log(2.0), (x,), "ln")) == (op_named("log"), (x,))
    assert resolve_foreign(Node(0.25, (x, y), "truediv")) == (op_named("div"), (x, y))
    assert resolve_foreign(Node(4.0, (x,), "**2"))[0] is op_named("pow")
    assert resolve_foreign(x) is LEAF


def test_a_set_loses_the_order_and_the_data_restores_it() -> None:
    x, y = Node(2.0), Node(8.0)
    op, operands = resolve_foreign(Node(6.0, {x, y}, "-"))
    assert op is op_named("sub") and operands == (y, x)  # 8 - 2, whatever the set's order


def test_an_unknown_label_is_read_from_the_data_when_only_one_op_fits() -> None:
    x, y = Node(2.0), Node(8.0)
    assert resolve_foreign(Node(16.0, (x, y), "times")) == (op_named("mul"), (x, y))
    assert resolve_foreign(Node(math.tanh(2.0), (x,), "")) == (op_named("tanh"), (x,))
    with pytest.raises(ResolveError, match="cannot tell which op"):
        resolve_foreign(Node(123.0, (x,), "frobnicate"))


def test_a_forward_bug_keeps_the_label_so_the_comparison_names_that_node() -> None:
    x = Node(2.0)
    assert resolve_foreign(Node(99.0, (x,), "tanh")) == (op_named("tanh"), (x,))
    # `x * 3` keeping the 3 to itself: doubling x would mirror x * x, so say we cannot tell.
    with pytest.raises(ResolveError):
        resolve_foreign(Node(6.0, (x,), "*"))


def test_micrograd_graphs_mirror_node_by_node() -> None:
    a, b = Micrograd(2.0), Micrograd(-3.0)
    out = ((a - b) / a + a**2) * 3  # '+', '*' with -1 and with a lifted 3, '**-1', '**2'
    out.backward()
    assert compare(out, backward=False, resolver=resolve_foreign).ok


@pytest.fixture(scope="module")
def twingrad_prober():
    with session_for("twingrad.engine:Value") as session:
        yield session.probe


@pytest.mark.parametrize(
    "op", [op for op in OPS if op.arity == 1] + [op_named("mul"), op_named("pow")], ids=lambda op: op.name
)
def test_probes_find_nothing_wrong_with_twingrad(twingrad_prober, op) -> None:
    assert probe(twingrad_prober, op) is None
    assert probe(twingrad_prober, op, upstream=2.5) is None


MUL_BUG = """
from micrograd.engine import Value


class MulBug(Value):
    def __mul__(self, other):
        other = other if isinstance(other, Value) else MulBug(other)
        out = MulBug(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += self.data * out.grad  # its own value, not the other's
            other.grad += other.data * out.grad

        out._backward = _backward
        return out
"""


def _beside_micrograd(tmp_path: Path, name: str, source: str) -> Path:
    """An engine built on micrograd, with micrograd copied beside it: the sandbox shows a worker
    no installed package (docs/sandbox.md), so an engine brings what it imports."""
    import micrograd

    shutil.copytree(Path(micrograd.__file__).parent, tmp_path / "micrograd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / name).write_text(source)
    return tmp_path / name


def test_probes_blame_the_op_itself_before_the_ops_built_from_it(tmp_path) -> None:
    _beside_micrograd(tmp_path, "mulbug.py", MUL_BUG)
    with session_for(f"{tmp_path / 'mulbug.py'}:MulBug") as session:
        finding = first_broken(session.probe, [op_named("sub"), op_named("mul")])
    assert finding is not None and finding.op is op_named("mul")  # not sub, which micrograd builds from *
    assert str(finding) == (
        "`x * y` gives d/dx = 0.7, expected 1.3 (at x=0.7, y=1.3): "
        "your multiplication derivative equals x for x and y for y "
        "(each operand gets its own value, not the other's), not y for x and x for y"
    )


def test_numbers_are_shown_with_the_digits_that_tell_them_apart() -> None:
    assert shown(0.1464466094067262, 0.04289321881345247) == ["0.146447", "0.0428932"]
    assert shown(2.059999942779541, 2.06) == ["2.059999943", "2.06"]


def test_an_overwritten_gradient_is_a_partial_sum_of_its_shares() -> None:
    assert _partial_sum(1.0, [1.0, 1.0]) == 1
    assert _partial_sum(-4.4, [-1.0, -2.4, -2.0]) == 2  # two of three shares (one was lost)
    assert _partial_sum(2.0, [1.0, 1.0]) == 0  # the sum: nothing was lost
    assert _partial_sum(7.0, [1.0, 2.0]) == 0  # not a partial sum: some other mistake


def test_precision_loss_says_float32_when_every_value_is_one() -> None:
    assert "float32" in precision_note([0.6000000238418579, 2.0])
    assert "last digits" in precision_note([0.6])


def test_operators_without_their_method_are_missing_by_name(tmp_path) -> None:
    """Python's dispatch finding nothing is "missing", named by the method it looked for."""
    (tmp_path / "plain.py").write_text(
        "class Value:\n"
        "    def __init__(self, data):\n        self.data, self.grad, self._prev = data, 0.0, ()\n"
        "    def __add__(self, other):\n        return Value(self.data + other.data)\n"
        "    def backward(self):\n        self.grad = 1.0\n"
    )
    with session_for(f"{tmp_path / 'plain.py'}:Value") as session:
        for op, args, wanted in (
            ("sub", [{"number": 1}, {"ref": "x"}], "__rsub__"),
            ("pow", [{"number": 2}, {"ref": "x"}], "__rpow__"),
            ("abs", [{"ref": "x"}], "__abs__"),
            ("tanh", [{"ref": "x"}], "tanh"),
        ):
            program = {
                "name": op,
                "steps": [{"let": "x", "value": 0.5}, {"let": "y", "apply": op, "args": args}],
            }
            [trace] = session.run([program])
            error = trace.steps[-1].error
            assert error is not None and (error.kind, error.name) == ("missing", wanted)


def test_a_drawing_of_a_big_graph_keeps_the_culprits_neighbourhood() -> None:
    from twingrad import Value

    case = CASES_BY_NAME["deep_chain"]
    out = case.fn(*(Value(x) for x in case.inputs))
    report = compare(out)
    kept = report.around(150, size=40)
    assert 150 in kept and 30 <= len(kept) <= 40
    # The links of the chain next to it (and the leaves w and c they use), not the whole chain.
    assert sum(abs(k - 150) <= 40 for k in kept) >= len(kept) - 2


FORGETS_UPSTREAM = """
from micrograd.engine import Value


class ForgetsUpstream(Value):
    def __mul__(self, other):
        other = other if isinstance(other, Value) else ForgetsUpstream(other)
        out = ForgetsUpstream(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data  # the local derivative alone: out.grad is forgotten
            other.grad += self.data

        out._backward = _backward
        return out
"""


def test_a_probe_under_an_upstream_gradient_finds_a_rule_that_forgets_it(tmp_path) -> None:
    _beside_micrograd(tmp_path, "forgets.py", FORGETS_UPSTREAM)
    with session_for(f"{tmp_path / 'forgets.py'}:ForgetsUpstream") as session:
        assert probe(session.probe, op_named("mul")) is None  # out.grad is 1 at the output itself
        finding = probe(session.probe, op_named("mul"), upstream=2.5)
    assert finding is not None and "under an upstream gradient of 2.5" in finding.problem


def test_probing_many_points_in_one_request_finds_what_probing_each_finds(tmp_path) -> None:
    _beside_micrograd(tmp_path, "mulbug.py", MUL_BUG)
    points = [(op_named("mul"), 0.7, 1.3), (op_named("add"), 0.7, 1.3), (op_named("mul"), 2.0, 2.0),
              (op_named("mul"), -1.5, 0.25)]
    with session_for(f"{tmp_path / 'mulbug.py'}:MulBug") as session:
        requests: list[int] = []

        def counted(programs):
            requests.append(len(programs))
            return session.probe(programs)

        each = [probe(session.probe, op, x, y) for op, x, y in points]
        together = probe_each(counted, points)
        assert len(requests) == 1  # every point's spellings in one request

        def loses_big_requests(programs):  # as when one probe of the batch hangs the worker
            return [] if len(programs) > 3 else session.probe(programs)

        one_by_one = probe_each(loses_big_requests, points)
    assert [str(f) for f in together] == [str(f) for f in each] == [str(f) for f in one_by_one]
    assert each[0] is not None and each[1] is None and each[2] is None  # x * x at 2: both rules agree
    assert each[3] is not None
