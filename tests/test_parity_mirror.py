"""The mirror: plans, resolvers (twingrad's own, micrograd's strings, custom) and the torch replay."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from micrograd.engine import Value as MicrogradValue

from twingrad import Constant, Value, op_named
from twingrad.examples import seed_graph
from twingrad.graph import trace
from twingrad.parity import CONSTANT, LEAF, Mirror, ResolveError, compare, make_plan, symbol_resolver
from twingrad.parity.mirror import apply_op, op_vjp
from twingrad.parity.plan import resolve_node


def test_plan_of_the_seed_graph() -> None:
    L = seed_graph()["L"]
    plan = make_plan(L)
    assert plan.graph.nodes == trace(L).nodes
    assert plan.steps == [LEAF, LEAF, op_named("mul"), LEAF, op_named("add"), LEAF, op_named("mul")]
    assert plan.operands[2] == (0, 1) and plan.operands[6] == (4, 5)
    assert plan.differentiable == [True] * 7
    assert plan.leaf_positions() == [0, 1, 3, 5]
    assert plan.uses()[4] == [(6, 0)]


def test_constants_are_not_differentiable_and_ops_on_constants_neither() -> None:
    x = Value(2.0)
    k = Constant(3.0) * Constant(4.0)
    plan = make_plan(x * k)
    assert [plan.kind(i) for i in range(len(plan))] == ["leaf", "constant", "constant", "op", "op"]
    assert plan.differentiable == [True, False, False, False, True]


def test_mirror_values_gradients_and_tensors() -> None:
    nodes = seed_graph()
    mirror = Mirror.of(nodes["L"])
    mirror.run()
    assert list(mirror.values()) == [2.0, -3.0, -6.0, 10.0, 4.0, -2.0, -8.0]
    assert list(mirror.gradients()) == [6.0, -4.0, -2.0, -2.0, -2.0, 4.0, 1.0]
    a = mirror.tensor(nodes["a"])
    assert a.dtype == torch.float64 and a.requires_grad and a.item() == 2.0
    assert a._base is not None and a._base.is_leaf  # an element of the leaves' one tensor
    assert mirror.tensor(nodes["e"]).grad_fn is not None and mirror.tensor(nodes["e"]).item() == -6.0
    assert mirror.root.item() == -8.0


def test_constants_become_tensors_without_grad() -> None:
    x = Value(2.0)
    root = 3 * x
    mirror = Mirror.of(root)
    mirror.run()
    three = mirror.tensor(mirror.plan.nodes[0])
    assert three.item() == 3.0 and not three.requires_grad and three.dtype == torch.float64
    assert math.isnan(mirror.gradients()[0])


def test_a_root_that_depends_on_no_leaf_has_no_torch_gradients() -> None:
    mirror = Mirror.of(Constant(2.0).exp())
    mirror.run()
    assert np.isnan(mirror.gradients()).all()


def test_run_with_other_leaf_values_and_without_grad() -> None:
    x = Value(1.0)
    mirror = Mirror.of(x * x)
    mirror.run([5.0, 0.0], grad=False)
    assert mirror.root.item() == 25.0 and not mirror.root.requires_grad


# -- resolvers ---------------------------------------------------------------------------------------


def test_micrograd_ops_resolve_to_table_entries() -> None:
    a = MicrogradValue(3.0)
    plan = make_plan((a * a + a) ** 2)
    ops = [step.name for step in plan.steps if not isinstance(step, type(LEAF))]
    assert ops == ["mul", "add", "pow"]
    mul = plan.steps.index(op_named("mul"))
    assert plan.operands[mul] == (0, 0)  # the set kept `a` once; `a * a` has it twice
    power = plan.steps.index(op_named("pow"))
    assert plan.literals == [2.0] and plan.operands[power][1] == len(plan)


def test_micrograd_relu_and_negation() -> None:
    a = MicrogradValue(-2.0)
    out = (-a).relu()  # micrograd: a * -1, then 'ReLU'; the -1 is a leaf Value
    report = compare(out)
    assert report.ok
    assert [row.op for row in report.rows if row.op] == ["mul", "relu"]


class LabelledEngine:
    """A minimal engine with its own op names and an ordered `_prev`."""

    def __init__(self, data: float, children: tuple = (), op: str = "") -> None:
        self.data, self.grad, self._prev, self._op = data, 0.0, children, op

    def minus(self, other: LabelledEngine) -> LabelledEngine:
        return LabelledEngine(self.data - other.data, (self, other), "SUBTRACT")

    def backward(self) -> None:
        self.grad = 1.0
        a, b = self._prev
        a.grad += self.grad
        b.grad -= self.grad


def test_symbol_resolver_learns_new_spellings() -> None:
    a, b = LabelledEngine(5.0), LabelledEngine(2.0)
    out = a.minus(b)
    with pytest.raises(ResolveError, match="SUBTRACT"):
        make_plan(out)
    report = compare(out, resolver=symbol_resolver({"subtract": "sub"}))
    assert report.ok and report.rows[2].expression == "n2 = n0 - n1"


def test_unordered_inputs_of_a_non_commutative_op_are_refused() -> None:
    a, b = LabelledEngine(5.0), LabelledEngine(2.0)
    out = LabelledEngine(3.0, {a, b}, "-")
    with pytest.raises(ResolveError, match="unordered"):
        make_plan(out)


def test_a_lone_minus_is_negation_unless_it_is_zero() -> None:
    a = LabelledEngine(5.0)
    assert resolve_node(LabelledEngine(-5.0, (a,), "-")) == (op_named("neg"), None)
    assert resolve_node(LabelledEngine(0.0, (a,), "-")) == (op_named("sub"), (a, a))


def test_wrong_arity_and_bad_resolutions() -> None:
    a = LabelledEngine(5.0)
    with pytest.raises(ResolveError, match="takes 1 inputs, not 2"):
        make_plan(LabelledEngine(1.0, (a, a), "exp"))
    for ambiguous in ("/", "**"):  # x / x, or a divisor kept outside _prev? not guessed
        with pytest.raises(ResolveError, match="takes 2 inputs, not 1"):
            make_plan(LabelledEngine(1.0, (a,), ambiguous))
    with pytest.raises(ResolveError, match="exponent"):
        make_plan(LabelledEngine(1.0, (a,), "**1e"))
    with pytest.raises(ResolveError, match="expected an Op"):
        make_plan(LabelledEngine(1.0, (a,), "x"), resolver=lambda n: LEAF if not n._prev else ("exp", None))
    with pytest.raises(ResolveError, match="resolved as a constant"):
        make_plan(LabelledEngine(1.0, (a,), "x"), resolver=lambda n: CONSTANT)
    stranger = LabelledEngine(1.0)

    def elsewhere(node: LabelledEngine):
        return (op_named("exp"), (stranger,)) if node._prev else LEAF

    with pytest.raises(ResolveError, match="not a node of this graph"):
        make_plan(LabelledEngine(1.0, (a,), "x"), resolver=elsewhere)


def test_a_custom_resolver_with_a_number_operand() -> None:
    a = LabelledEngine(3.0)
    cube = LabelledEngine(27.0, (a,), "cube")

    def resolver(node: LabelledEngine):
        return (op_named("pow"), (node._prev[0], 3)) if node._op == "cube" else LEAF

    plan = make_plan(cube, resolver)
    assert plan.literals == [3.0]
    mirror = Mirror(plan)
    mirror.run()
    assert mirror.root.item() == 27.0 and mirror.gradients()[0] == 27.0


# -- one op at a time --------------------------------------------------------------------------------


def test_apply_op_works_on_columns() -> None:
    out = apply_op(op_named("mul"), [np.array([1.0, 2.0]), np.array([3.0, -1.0])])
    assert list(out) == [3.0, -2.0]


def test_op_vjp_uses_the_engines_output() -> None:
    # With out = 0.5 the tanh rule must give 1 - 0.25, whatever tanh(x) really is.
    grads = op_vjp(op_named("tanh"), [np.array([10.0])], np.array([0.5]), np.array([2.0]))
    assert list(grads[0]) == [1.5]
    a, b = op_vjp(op_named("mul"), [np.array([2.0]), np.array([3.0])], np.array([6.0]), np.array([1.0]))
    assert (a[0], b[0]) == (3.0, 2.0)


# -- the layered replay --------------------------------------------------------------------------------


def test_layers_put_every_op_node_once_after_its_operands() -> None:
    xs = [Value(float(k) / 7) for k in range(6)]
    terms = [(x * 2.5).tanh() + x for x in xs]  # six nodes per depth, made by the same ops
    root = sum(terms[1:], terms[0]) ** 2
    plan = make_plan(root)
    layers = plan.layers
    made: dict[int, int] = {int(i): -1 for i in [*layers.leaves, *layers.constants]}
    for k, layer in enumerate(layers.layers):
        for i in map(int, layer.positions):
            assert plan.steps[i] is layer.op and i not in made
            assert all(made[j] < k for j in plan.node_inputs(i))  # every operand made before
            made[i] = k
    assert sorted(made) == list(range(len(plan)))
    assert len(layers.layers) < len(plan) / 2  # the tanh terms share layers: far fewer calls than nodes
    assert layers.layers[-1].positions.tolist() == [len(plan) - 1]  # the root is alone and last


def test_the_layered_replay_matches_one_torch_op_per_node() -> None:
    # Operands gathered from several earlier layers, literals among them, in any order.
    a, b = Value(0.3), Value(-1.2)
    c = a * b
    d = (c + a).exp() * (b - c).tanh() + c ** 3 - (a / 2.0).sigmoid() * c
    mirror = Mirror.of(d)
    mirror.run()
    plan = mirror.plan
    one_by_one: list[torch.Tensor] = []
    for i, step in enumerate(plan.steps):
        if step is LEAF:
            one_by_one.append(torch.tensor(plan.nodes[i].data, dtype=torch.float64, requires_grad=True))
        elif step is CONSTANT:
            one_by_one.append(torch.tensor(plan.nodes[i].data, dtype=torch.float64))
        else:
            ins = [one_by_one[j] if plan.is_node(j) else torch.tensor(plan.literal(j), dtype=torch.float64)
                   for j in plan.operands[i]]
            one_by_one.append(step.torch(*ins))
    wanted = [t for t, tracked in zip(one_by_one, plan.differentiable) if tracked]
    grads = torch.autograd.grad(one_by_one[-1], wanted)
    np.testing.assert_allclose(mirror.values(), [t.item() for t in one_by_one], rtol=1e-15)
    expected = np.full(len(plan), np.nan)
    expected[np.array(plan.differentiable)] = [g.item() for g in grads]
    np.testing.assert_allclose(mirror.gradients(), expected, rtol=1e-14)
