"""The plan: what each node is, read without torch; operands and literals read one way."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from twingrad import Value
from twingrad.ops import op_named
from twingrad.parity.plan import LEAF, make_plan


def test_planning_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "import twingrad.parity, twingrad.parity.plan, twingrad.parity.numeric, twingrad.parity.recipe\n"
        "import twingrad.parity.report, twingrad.parity.rendering\n"
        "from twingrad.examples import seed_graph\n"
        "from twingrad.parity.numeric import evaluate\n"
        "plan = twingrad.parity.plan.make_plan(seed_graph()['L'])\n"
        "print(evaluate(plan, [n.data for n in plan.nodes])[-1], 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["-8.0", "False"]


class PowerNode:
    """A micrograd-style node keeping its exponent outside ``_prev``, as ``'**2'`` does."""

    def __init__(self, data: float, prev: tuple = (), op: str = "") -> None:
        self.data, self.grad, self._prev, self._op = data, 0.0, prev, op


def test_operand_helpers_tell_nodes_from_literals() -> None:
    x = PowerNode(3.0)
    y = PowerNode(9.0, (x,), "**2")
    z = PowerNode(18.0, (y, y), "+")
    plan = make_plan(z)
    assert plan.steps == [LEAF, op_named("pow"), op_named("add")]
    assert plan.operands[1] == (0, 3) and plan.literals == [2.0]  # position 3: the literal 2
    assert [plan.is_node(j) for j in (0, 2, 3)] == [True, True, False]
    assert plan.node_inputs(1) == (0,) and plan.node_inputs(2) == (1, 1)
    assert plan.operand_values([3.0, 9.0, 18.0], 1) == [3.0, 2.0]
    assert plan.with_literals([3.0, 9.0, 18.0]) == [3.0, 9.0, 18.0, 2.0]
    assert list(plan.operand_column(np.array([3.0, 9.0, 18.0]), [1, 2], 1)) == [2.0, 9.0]
    assert plan.uses() == [[(1, 0)], [(2, 0), (2, 1)], []]


def test_differentiable_follows_leaves_not_literals() -> None:
    a = Value(2.0, label="a")
    plan = make_plan((2.0 * a) ** 3.0 + 1.0)
    assert plan.differentiable[-1] and not plan.differentiable[0]  # the Constant 2.0
