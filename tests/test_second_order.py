"""Second and higher derivatives: `twingrad.grad` against torch's double backward.

The op table holds one derivative rule per op, run on floats by ``backward()`` and on
Values by ``grad(create_graph=True)``. These tests hold the two modes to each other, and
the derivatives of every order to torch: every op at ordinary points and at the points
where torch has a convention, an MLP's Hessian against
``torch.autograd.functional.hessian``, and `compare_higher`'s verdicts.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest
import torch

from tests.floats import same_bits, ulps
from twingrad import OPS, Constant, Value, grad, op_named
from twingrad.engine import _check_rules_build_graphs
from twingrad.examples import LECTURE_XS, LECTURE_YS, seed_graph, squared_error
from twingrad.nn import MLP
from twingrad.ops import Op, ieee_cos, number
from twingrad.parity import compare, compare_higher
from twingrad.parity.higher import derivatives, hessian_vector
from twingrad.parity.tolerances import Tolerance
from twingrad.parity.training import in_engine_order, mlp_tensors

inf, nan = math.inf, math.nan
F64 = torch.float64
TOLERANCE = Tolerance()

ORDINARY_UNARY = [0.3, -0.7, 1.5, 2.5, -3.0, 1e-9, -1e-5, 0.55]
# Where torch has a convention or an edge: kinks, poles, saturation, overflow, nan.
CONVENTION_UNARY = [0.0, -0.0, 20.0, 710.0, 1000.0, -1000.0, 1e-300, inf, -inf, nan]
ORDINARY_BINARY = [0.5, -1.0, 2.0, -3.0, 1 / 3, 3.0]
CONVENTION_BINARY = [0.0, -0.0, inf, nan]

# Shapes of a binary op: both operands leaves, or a number on one side (``2.0 ** x``).
BOTH, NUMBER_LEFT, NUMBER_RIGHT = (False, False), (True, False), (False, True)


def build(op: Op, args: tuple[float, ...], numbers: tuple[bool, ...]) -> tuple[Value, list[Value]]:
    """``op`` on twingrad leaves (a plain number where ``numbers`` says), as a user writes it."""
    operands = [x if is_number else Value(x) for x, is_number in zip(args, numbers)]
    if op.arity == 1:
        out = getattr(operands[0], op.methods[0])()
    elif numbers[0]:
        out = getattr(operands[1], op.methods[1])(operands[0])
    else:
        out = getattr(operands[0], op.methods[0])(operands[1])
    return out, [x for x in operands if isinstance(x, Value)]


def torch_derivatives(op: Op, args: tuple[float, ...], numbers: tuple[bool, ...], order: int) -> dict:
    """Every entry of torch's ``order``-th derivative of the same expression (0 where torch's
    derivative no longer depends on the input, as ours then is a constant)."""
    tensors = [torch.tensor(x, dtype=F64, requires_grad=not n) for x, n in zip(args, numbers)]
    wrt = [t for t, n in zip(tensors, numbers) if not n]
    level = {(): op.torch(*tensors)}
    for depth in range(order):
        deeper = {}
        for index, t in level.items():
            if t.requires_grad:
                found = torch.autograd.grad(
                    t, wrt, create_graph=depth < order - 1, retain_graph=True, materialize_grads=True
                )
            else:
                found = [torch.zeros((), dtype=F64)] * len(wrt)
            deeper.update({(*index, j): g for j, g in enumerate(found)})
        level = deeper
    return {index: float(t) for index, t in level.items()}


def agree(ours: float, theirs: float) -> bool:
    """Within parity's tolerance, or the same edge value. Not a few ULP: near a zero of a
    derivative (sigmoid'' near 0) both sides subtract numbers rounded an ULP apart."""
    if math.isfinite(ours) and math.isfinite(theirs) and ours != 0.0 and theirs != 0.0:
        return TOLERANCE.close(ours, theirs)
    return ours == theirs or (ours != ours and theirs != theirs)


def where_leak(op: Op, args: tuple[float, ...], ours: float, theirs: float) -> bool:
    """The one documented difference (`twingrad.ops`): torch masks pow's terms at a == 0 or
    b == 0 with ``where``, whose zero meets an infinite partial one order up (nan); ours
    is a constant mask, 0 at every order."""
    return op.name == "pow" and 0.0 in args and math.isnan(theirs) and not math.isnan(ours)


def cases(op: Op, unary: list[float], binary: list[float], extra: list[float]) -> list:
    if op.arity == 1:
        return [((x,), (False,)) for x in unary]
    pairs = [p for p in itertools.product(binary + extra, repeat=2) if not extra or set(p) & set(extra)]
    return [(p, shape) for p in pairs for shape in (BOTH, NUMBER_LEFT, NUMBER_RIGHT)]


def disagreements(op: Op, points: list) -> tuple[list[str], int]:
    failures, leaks = [], 0
    for args, numbers in points:
        out, wrt = build(op, args, numbers)
        for order in (2, 3):
            ours = derivatives(out, wrt, order)
            theirs = torch_derivatives(op, args, numbers, order)
            for index, mine in ours.items():
                if agree(mine, theirs[index]):
                    continue
                if where_leak(op, args, mine, theirs[index]):
                    leaks += 1
                    continue
                failures.append(
                    f"{op.format(*map(repr, args))} numbers={numbers} order {order} {index}: "
                    f"ours {mine!r}, torch {theirs[index]!r}"
                )
    return failures, leaks


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_second_and_third_derivatives_at_ordinary_points_match_torch(op: Op) -> None:
    failures, leaks = disagreements(op, cases(op, ORDINARY_UNARY, ORDINARY_BINARY, []))
    assert not failures and not leaks, "\n".join(failures[:20])


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_second_and_third_derivatives_at_convention_points_match_torch(op: Op) -> None:
    points = cases(op, CONVENTION_UNARY, ORDINARY_BINARY[:3], CONVENTION_BINARY)
    failures, _ = disagreements(op, points)
    assert not failures, f"{len(failures)} disagreements with torch:\n" + "\n".join(failures[:20])


def test_torch_leaks_nan_through_a_masked_pow_term_and_we_give_zero() -> None:
    # d²(0 ** b)/db² at b = 2: torch's where() sends 0 into out · log(0) = 0 · -inf.
    out, (b,) = build(op_named("pow"), (0.0, 2.0), NUMBER_LEFT)
    assert derivatives(out, [b], 2) == {(0, 0): 0.0}
    assert math.isnan(torch_derivatives(op_named("pow"), (0.0, 2.0), NUMBER_LEFT, 2)[(0, 0)])


@pytest.mark.parametrize(
    ("name", "x"), [("relu", 0.0), ("relu", 1.0), ("relu", -1.0), ("abs", 0.0), ("abs", -2.0)]
)
def test_kinks_have_zero_second_and_third_derivative_like_torch(name: str, x: float) -> None:
    out, wrt = build(op_named(name), (x,), (False,))
    theirs = torch_derivatives(op_named(name), (x,), (False,), 3)
    assert derivatives(out, wrt, 2) == {(0, 0): 0.0}
    assert derivatives(out, wrt, 3) == {(0, 0, 0): 0.0} == theirs


# -- the two modes of one rule -----------------------------------------------------------------


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_the_graph_gradient_has_the_numbers_of_the_float_gradient(op: Op) -> None:
    mismatched = []
    for args, numbers in cases(op, ORDINARY_UNARY + CONVENTION_UNARY, ORDINARY_BINARY, CONVENTION_BINARY):
        out, wrt = build(op, args, numbers)
        on_floats = grad(out, wrt)
        as_graph = grad(out, wrt, create_graph=True)
        for mine, built in zip(on_floats, as_graph):
            assert isinstance(built, Value)
            # tanh's graph rule is 1 - out² near 0, where the float rule's product may differ by an ULP
            close = built.data == mine or ulps(built.data, mine) <= (1 if op.name == "tanh" else 0)
            if not (close or same_bits(built.data, mine)):
                mismatched.append(f"{op.format(*map(repr, args))}: graph {built.data!r}, floats {mine!r}")
    assert not mismatched, "\n".join(mismatched[:20])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (lambda g, out, a: g * ieee_cos(a), "does not run on Values"),  # a float-only function
        (lambda g, out, a: g * math.cos(number(a)), "a number where a graph belongs"),  # order 1 only
    ],
)
def test_import_refuses_a_rule_that_cannot_build_the_backward_graph(monkeypatch, rule, message: str) -> None:
    monkeypatch.setattr(op_named("sin"), "grad", rule)
    with pytest.raises(ValueError, match=f"op table entry 'sin': .*{message}"):
        _check_rules_build_graphs()


def test_grad_gives_backwards_numbers_and_leaves_grad_alone() -> None:
    nodes = seed_graph()
    L = nodes["L"]
    found = grad(L, [nodes[k] for k in "abcfed"])
    assert all(node.grad == 0.0 for node in nodes.values())
    L.backward()
    assert found == [nodes[k].grad for k in "abcfed"] == [6.0, -4.0, -2.0, 4.0, -2.0, -2.0]


def test_grad_takes_one_node_or_a_list_and_gives_zero_for_an_unused_input() -> None:
    x, unused = Value(3.0), Value(1.0)
    y = x * x
    assert grad(y, x) == 6.0
    assert grad(y, [x, unused]) == [6.0, 0.0]
    zero = grad(y, unused, create_graph=True)
    assert isinstance(zero, Constant) and zero.data == 0.0
    assert grad(y, y) == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: grad(2.0, x), "output must be a Value, not float"),
        (lambda x: grad(x * x, [x, 3.0]), "input 1 must be a Value, not float"),
        (lambda x: grad(x * x, x, create_graph=1), "create_graph must be True or False"),
    ],
)
def test_grad_refuses_bad_arguments_in_one_line(call, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call(Value(1.0))


def test_derivatives_of_any_order_of_a_power() -> None:
    x = Value(2.0)
    d = x ** 5.0
    found = []
    for _ in range(6):
        d = grad(d, x, create_graph=True)
        found.append(d.data)
    assert found == [80.0, 160.0, 240.0, 240.0, 120.0, 0.0]  # 5x⁴, 20x³, 60x², 120x, 120, 0


# -- the lecture's MLP: the Hessian of its loss --------------------------------------------------


def test_hessian_of_the_lecture_mlp_loss_matches_torch_functional_hessian() -> None:
    model = MLP(3, [4, 4, 1], rng=1)
    params = model.parameters()
    loss = squared_error([model(x) for x in LECTURE_XS], LECTURE_YS)
    ours = derivatives(loss, params, 2)
    n = len(params)

    layers = mlp_tensors(model)
    theta = in_engine_order((w, b) for w, b, _ in layers).detach()

    def torch_loss(flat: torch.Tensor) -> torch.Tensor:
        out, start = torch.tensor(LECTURE_XS, dtype=F64), 0
        for weight, _, activation in layers:
            rows, cols = weight.shape
            block = flat[start : start + rows * (cols + 1)].reshape(rows, cols + 1)
            start += rows * (cols + 1)
            out = getattr(out @ block[:, :cols].T + block[:, cols], activation)()
        return ((out[:, 0] - torch.tensor(LECTURE_YS, dtype=F64)) ** 2).sum()

    assert torch_loss(theta).item() == pytest.approx(loss.data, rel=1e-13)
    theirs = torch.autograd.functional.hessian(torch_loss, theta)
    assert theirs.shape == (n, n) == (41, 41)
    size = float(theirs.abs().max())
    # Judged against the Hessian's size: a matmul's sums come in another order than the graph's.
    worst = max(abs(ours[(i, j)] - float(theirs[i, j])) for i in range(n) for j in range(n))
    assert worst <= 1e-12 * size, f"largest gap {worst:.3g} against a Hessian of size {size:.3g}"
    # ... and the scalar twin agrees node for node, entry by entry, at the default tolerance.
    report = compare_higher(loss, params, 2, witness="none")
    assert report.ok, report.failure_message()
    assert report.matrix() == [[ours[(i, j)] for j in range(n)] for i in range(n)]


# -- compare on a gradient graph, compare_higher -------------------------------------------------


def test_compare_proves_a_gradient_graph_node_by_node() -> None:
    x, w = Value(0.4, label="x"), Value(-1.2, label="w")
    y = (x * w).tanh() + (x * x).sigmoid()
    dy_dx = grad(y, x, create_graph=True)
    report = compare(dy_dx, witness="all")
    assert report.ok, report.failure_message()
    assert w.grad == grad(dy_dx, w)  # compare's backward wrote d²y/dx dw
    assert len(report.plan) > len(compare(y).plan)  # the backward nodes and the forward ones they read


def test_compare_higher_third_derivatives_and_hessian_vector_product() -> None:
    a, b = Value(0.7, label="a"), Value(-0.4, label="b")
    f = (a * b).sin() * a.exp() + (b ** 3.0) / a
    third = compare_higher(f, [a, b], 3, witness="all")
    assert third.ok, third.failure_message()
    assert len(third.entries) == 8 and {e.witness.verdict for e in third.entries} == {"both"}
    v = [0.5, -2.0]
    hv = compare_higher(f, [a, b], vector=v, witness="all")
    assert hv.ok, hv.failure_message()
    h = compare_higher(f, [a, b]).matrix()
    expected = [h[i][0] * v[0] + h[i][1] * v[1] for i in range(2)]
    assert hv.ours == pytest.approx(expected, rel=1e-13) == hessian_vector(f, [a, b], v)


def test_compare_higher_catches_a_rule_right_at_first_order_only(monkeypatch) -> None:
    # A tanh rule that reads out's number as a constant: every first derivative is right,
    # but the graph loses d(out)/dx, so tanh'' comes out 0.
    tanh = op_named("tanh")
    monkeypatch.setattr(tanh, "grad", lambda g, out, a: g * (1.0 - number(out) ** 2))
    x = Value(0.8, label="x")
    y = x.tanh()
    assert grad(y, x) == pytest.approx(1 - math.tanh(0.8) ** 2)
    report = compare_higher(y, [x])
    assert not report.ok
    (entry,) = report.mismatches()
    assert entry.ours == 0.0 and entry.witness.verdict == "torch"
    assert "MISMATCH" in str(report) and "supports torch" in entry.witness.describe()


def test_compare_higher_leaves_the_graph_as_it_found_it() -> None:
    x = Value(0.3, label="x")
    y = (x * x).tanh()
    compare_higher(y, [x], witness="all")
    assert x.data == 0.3 and y.data == math.tanh(0.09)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"order": 1}, "order must be an int of at least 2"),
        ({"order": 3, "vector": [1.0]}, "a Hessian-vector product is a second derivative"),
        ({"vector": [1.0, 2.0]}, "vector has 2 numbers but there are 1 inputs"),
        ({"witness": "some"}, "witness must be one of auto, all, none"),
    ],
)
def test_compare_higher_refuses_bad_options(options: dict, message: str) -> None:
    x = Value(1.0)
    with pytest.raises(ValueError, match=message):
        compare_higher(x.tanh(), [x], **options)


def test_compare_higher_differentiates_by_leaves_of_the_graph_only() -> None:
    x, stranger = Value(1.0), Value(2.0)
    h = x * x
    with pytest.raises(ValueError, match=r"input 0 .* is not a user leaf"):
        compare_higher(h.tanh(), [h])
    with pytest.raises(ValueError, match=r"input 0 .* is not part of the output's graph"):
        compare_higher(h.tanh(), [stranger])


def test_the_code_of_docs_second_order_runs() -> None:
    page = Path(__file__).resolve().parents[1] / "docs" / "second-order.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(page), "exec"), {})  # each block asserts what the page says
