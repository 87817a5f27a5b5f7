"""The checker's catalogue: small graphs that each exercise one thing a learner's engine can get wrong.

Every case is a function written once against the common API -- operators with Values
or plain numbers on either side, ``**``, ``.exp() .log() .tanh() .relu() .sigmoid()``,
``sum()`` -- so the very same code runs on the engine under test (its inputs made as
``Name(number)``, the only constructor every engine has) and on torch tensors. Inputs
sit away from kinks and domain edges: a disagreement is a bug, never a convention at 0.

Most cases are plain functions: output, input gradients and the nudge are compared with
torch. Two kinds need more: ``backward_twice`` calls backward a second time, where
engines legitimately differ by convention, and the nudge case makes the nudge its point.
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from ..examples import LECTURE_NEURON_BIAS, LECTURE_XS, LECTURE_YS, hinge, make_moons, squared_error
from ..nn import MLP
from ..ops import OPS, Op

Kind = Literal["function", "nudge", "backward_twice"]


@dataclass(frozen=True)
class Case:
    """One check: ``fn(*inputs)`` built from ``Name(x)`` for each x in ``inputs``."""

    name: str
    doc: str  # what it exercises, in a line a learner understands
    fn: Callable[..., Any] = field(repr=False)
    inputs: tuple[float, ...]
    kind: Kind = "function"

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        """The names of ``fn``'s parameters; ``p0, p1 ...`` for ``*p``."""
        names: list[str] = []
        for parameter in inspect.signature(self.fn).parameters.values():
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                names.extend(f"{parameter.name}{i}" for i in range(len(self.inputs) - len(names)))
            else:
                names.append(parameter.name)
        return tuple(names)

    @cached_property
    def op_records(self) -> tuple[Op, ...]:
        """The ops the case uses, as twingrad's engine records them, in order of first use."""
        from ..engine import Value
        from ..graph import trace

        out = self.fn(*(Value(x) for x in self.inputs))
        seen: dict[Op, None] = {}
        for node in trace(out).nodes:
            if node._op:
                seen.setdefault(node._op, None)
        return tuple(seen)

    @property
    def ops(self) -> tuple[str, ...]:
        """`op_records` by their symbols, as a learner writes them: ``('*', '+', 'tanh')``."""
        return tuple(op.symbol for op in self.op_records)


# -- the cases' graphs ----------------------------------------------------------------------


def seed_graph(a: Any, b: Any, c: Any, f: Any) -> Any:
    return (a * b + c) * f


def neuron(x1: Any, x2: Any, w1: Any, w2: Any, b: Any) -> Any:
    return (x1 * w1 + x2 * w2 + b).tanh()


def neuron_tanh_through_exp(x1: Any, x2: Any, w1: Any, w2: Any, b: Any) -> Any:
    n = x1 * w1 + x2 * w2 + b
    e = (2 * n).exp()
    return (e - 1) / (e + 1)


def a_plus_a(a: Any) -> Any:
    return a + a


def a_times_a(a: Any) -> Any:
    return a * a


def three_consumers(a: Any, b: Any, c: Any, d: Any) -> Any:
    h = a * b  # used by three ops, each at a different depth
    return (h + c) * (h * d) + h


def diamond(a: Any) -> Any:
    return (a * 3) * (a + 1)


def stacked_diamonds(x: Any) -> Any:
    for _ in range(8):
        x = (x * 0.8) * ((x + 0.5) * 0.5 + 0.5)  # one short path, one long: order matters
    return x


def deep_chain(x: Any, w: Any, c: Any) -> Any:
    for _ in range(150):  # 300 ops in a row; w and c each feed 150 of them
        x = x * w + c
    return x


def sum_of_a_list(a: Any, b: Any, c: Any, d: Any) -> Any:
    return sum([a, b, c, d])  # starts from 0 + a: needs __radd__


def number_plus_value(x: Any, y: Any) -> Any:
    return y * (1 + x)


def number_minus_value(x: Any, y: Any) -> Any:
    return y * (1 - x)


def number_times_value(x: Any, y: Any) -> Any:
    return y * (3 * x)


def number_over_value(x: Any, y: Any) -> Any:
    return y * (2 / x)


def numbers_on_the_right(x: Any) -> Any:
    return ((x + 1.5) * 3 - 2) / 4


def difference_over_value(a: Any, b: Any, c: Any) -> Any:
    return (a - b) / c


def integer_powers(x: Any) -> Any:
    return x**2 + x**3


def fractional_and_negative_powers(x: Any) -> Any:
    return x**0.5 + x**-1 + x**-2.5


def value_to_the_value(x: Any, y: Any) -> Any:
    return x**y


def number_to_the_value(x: Any) -> Any:
    return 2**x


def softmax_nll(a: Any, b: Any, c: Any) -> Any:
    exps = [logit.exp() for logit in (a, b, c)]
    total = sum(exps)
    probs = [e / total for e in exps]
    return -probs[0].log()  # the true class is the first


def operator_for(op: Op) -> Callable[..., Any]:
    """The common-API spelling of ``op`` as a callable: ``operator.sub``, ``abs``, ``x.tanh()``."""
    dunder = next((m for m in op.methods if m.startswith("__")), None)
    if dunder is not None:
        return getattr(operator, dunder.strip("_"))
    method = op.methods[0]
    return lambda x: getattr(x, method)()


def _unary_case(op: Op, inputs: tuple[float, float, float]) -> Case:
    call = operator_for(op)

    def fn(x: Any, y: Any, k: Any) -> Any:
        # Each input is used again after the op (its gradient arrives there first, so a rule
        # that sets grad with `=` loses it), and k != 1 shows a rule that ignores out.grad.
        return (call(x) * x + call(y) * y) * k

    fn.__name__ = f"unary_{op.name}"
    spelled = op.format("x")
    doc = f"{spelled} at two points, each input used again, under an upstream gradient ≠ 1"
    return Case(f"unary_{op.name}", doc, fn, inputs)


# Two points per unary op, on both sides of its kink (relu, abs) and inside its domain (log, sqrt).
_POSITIVE_ONLY = {"log", "sqrt"}


def _unary_inputs(op: Op) -> tuple[float, float, float]:
    return (0.6, 1.9, 1.7) if op.name in _POSITIVE_ONLY else (0.6, -1.3, 1.7)


# -- small networks -----------------------------------------------------------------------------


def _network(model: MLP, parameters: Sequence[Any]) -> MLP:
    """``model``'s structure with ``parameters`` (in `MLP.parameters` order) in place of its own:
    the case's inputs become the network's weights and biases, in whatever engine runs it."""
    net = copy.deepcopy(model)
    it = iter(parameters)
    for layer in net.layers:
        for neuron in layer.neurons:
            neuron.w = [next(it) for _ in neuron.w]
            neuron.b = next(it)
    return net


_LECTURE_NET = MLP(3, [4, 4, 1], activation="tanh", rng=0)
_MOONS_NET = MLP(2, [6, 1], activation="relu", output_activation="linear", rng=1)
_MOONS = make_moons(n_samples=6, noise=0.1, rng=1)


def _initial(model: MLP) -> tuple[float, ...]:
    return tuple(p.data for p in model.parameters())


def mlp_tanh_squared_error(*p: Any) -> Any:
    net = _network(_LECTURE_NET, p)
    return squared_error([net(x) for x in LECTURE_XS], LECTURE_YS)


def mlp_relu_hinge(*p: Any) -> Any:
    points, labels = _MOONS
    net = _network(_MOONS_NET, p)
    return hinge([net(x) for x in points], labels, p, alpha=1e-3)


def backward_twice(a: Any) -> Any:
    return a * a + 1


# -- the catalogue ------------------------------------------------------------------------------

_NEURON_INPUTS = (2.0, 0.0, -3.0, 1.0, LECTURE_NEURON_BIAS)

CASES: tuple[Case, ...] = (
    Case("seed_graph", "the seed notebook's L = (a*b + c) * f", seed_graph, (2.0, -3.0, 10.0, -2.0)),
    Case("lecture_neuron", "the lecture's neuron tanh(x1*w1 + x2*w2 + b)", neuron, _NEURON_INPUTS),
    Case("tanh_through_exp", "the same neuron with tanh written as (e^2n - 1)/(e^2n + 1)",
         neuron_tanh_through_exp, _NEURON_INPUTS),
    Case("reuse_a_plus_a", "a + a: both operands are one node (its gradient must add up to 2)",
         a_plus_a, (3.0,)),
    Case("reuse_a_times_a", "a * a: both operands are one node", a_times_a, (3.0,)),
    Case("reuse_three_consumers", "one node feeding three ops at different depths",
         three_consumers, (1.5, -2.0, 0.5, 0.8)),
    Case("diamond", "a splits into a*3 and a+1 which meet again", diamond, (0.9,)),
    Case("stacked_diamonds", "eight diamonds with a short and a long side: a node's gradient must be "
         "complete before it flows on",
         stacked_diamonds, (0.9,)),
    Case("deep_chain", "x*w + c, 150 times: a long graph with w and c shared all along",
         deep_chain, (0.5, 0.9, 0.1)),
    Case("sum_of_a_list", "sum([a, b, c, d]), which starts from 0 + a", sum_of_a_list, (0.5, -1.5, 2.0, 3.0)),
    Case("number_plus_value", "1 + x: __radd__", number_plus_value, (0.7, -1.3)),
    Case("number_minus_value", "1 - x: __rsub__ (sign and operand order)", number_minus_value, (0.7, -1.3)),
    Case("number_times_value", "3 * x: __rmul__ must return a Value, or the graph is cut",
         number_times_value, (0.7, -1.3)),
    Case("number_over_value", "2 / x: __rtruediv__ (operand order)", number_over_value, (0.7, -1.3)),
    Case("numbers_on_the_right", "((x + 1.5) * 3 - 2) / 4: numbers as right operands", numbers_on_the_right,
         (0.7,)),
    Case("difference_over_value", "(a - b) / c: subtraction and division of Values",
         difference_over_value, (1.5, -0.5, 0.8)),
    Case("integer_powers", "x**2 + x**3", integer_powers, (1.3,)),
    Case("fractional_and_negative_powers", "x**0.5 + x**-1 + x**-2.5", fractional_and_negative_powers,
         (1.3,)),
    Case("value_to_the_value", "x ** y with a Value exponent", value_to_the_value, (1.3, 0.7)),
    Case("number_to_the_value", "2 ** x: __rpow__", number_to_the_value, (0.7,)),
    *(_unary_case(op, _unary_inputs(op)) for op in OPS if op.arity == 1),
    Case("softmax_nll", "softmax of three logits and the negative log-likelihood of the first",
         softmax_nll, (1.0, -0.5, 2.0)),
    Case("mlp_tanh_squared_error", "the lecture's 3-4-4-1 tanh MLP on its four examples, squared error",
         mlp_tanh_squared_error, _initial(_LECTURE_NET)),
    Case("mlp_relu_hinge", "micrograd's demo: a 2-6-1 ReLU MLP, hinge loss and L2 on six moons points",
         mlp_relu_hinge, _initial(_MOONS_NET)),
    Case("nudge_step", "the seed graph nudged: leaf.data += 0.01 * leaf.grad, then forward again",
         seed_graph, (2.0, -3.0, 10.0, -2.0), kind="nudge"),
    Case("backward_twice", "a*a + 1, backward() called twice: compared with torch's accumulation",
         backward_twice, (2.0,), kind="backward_twice"),
)

CASES_BY_NAME: dict[str, Case] = {case.name: case for case in CASES}


def select(patterns: Iterable[str] | None) -> list[Case]:
    """The cases whose names match any of ``patterns`` (names or globs), in catalogue order.

    Raises ``KeyError`` naming a pattern that matches nothing, so a typo never silently
    checks less.
    """
    if patterns is None:
        return list(CASES)
    chosen: set[str] = set()
    for pattern in patterns:
        hits = fnmatch.filter(CASES_BY_NAME, pattern)
        if not hits:
            raise KeyError(pattern)
        chosen.update(hits)
    return [case for case in CASES if case.name in chosen]
