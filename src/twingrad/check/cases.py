"""The checker's catalogue: small graphs that each exercise one thing a learner's engine can get wrong.

Every case is a function written once against the common API -- operators with Values
or plain numbers on either side, ``**``, ``.exp() .log() .tanh() .relu() .sigmoid()``,
``sum()`` -- so the very same code runs on the engine under test (its inputs made as
``Name(number)``, the only constructor every engine has) and on torch tensors.

Its ``inputs`` are where a case is shown (``--list``) and, for the lecture's cases, where
it is checked: the seed graph's -8.0 -> -7.286496 and the neuron's 0.7071 are the point
there (``draw`` is None). Every other case has a ``draw``: each run checks it at inputs
drawn from a seed no one knows in advance (`twingrad.check.inputs`), in each op's
interesting domain -- log and sqrt near 0 and large, tanh and sigmoid near 0 and
saturating, exp far on both sides, powers of negative bases with integer exponents --
and, for ``drawn_graph``, in a graph whose wiring is drawn too. Drawn inputs keep off
kinks and domain edges by a margin: a disagreement is a bug, never a convention at 0
(the conventions at kinks are the fixed cases' and the probes' business).

Most cases are plain functions: output, input gradients and the nudge are compared with
torch's formulas in float64 (`twingrad.check.reference`). Two kinds need more:
``backward_twice`` calls backward a second time, where engines legitimately differ by
convention, and the nudge case makes the nudge its point.
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
import math
import operator
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from ..examples import LECTURE_NEURON_BIAS, LECTURE_XS, LECTURE_YS, hinge, make_moons, squared_error
from ..nn import MLP
from ..ops import OPS, Op

Kind = Literal["function", "nudge", "backward_twice"]
Sampler = Callable[[random.Random], float]


@dataclass(frozen=True)
class Drawn:
    """What one draw gives a case: its inputs, and for a case whose shape is drawn, its graph."""

    inputs: tuple[float, ...]
    fn: Callable[..., Any] | None = None


Draw = Callable[[random.Random], Drawn]


@dataclass(frozen=True)
class Case:
    """One check: ``fn(*inputs)`` built from ``Name(x)`` for each x in ``inputs``.

    ``draw`` makes the inputs (and maybe the graph) a run checks; None for a fixed case.
    """

    name: str
    doc: str  # what it exercises, in a line a learner understands
    fn: Callable[..., Any] = field(repr=False)
    inputs: tuple[float, ...]
    kind: Kind = "function"
    draw: Draw | None = field(default=None, repr=False, compare=False)

    @property
    def fixed(self) -> bool:
        return self.draw is None

    def drawn(self, rng: random.Random) -> Case:
        """This case at inputs (and in a shape) drawn with ``rng``; itself when it is fixed."""
        if self.draw is None:
            return self
        made = self.draw(rng)
        return Case(self.name, self.doc, made.fn or self.fn, made.inputs, self.kind, self.draw)

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


# -- where drawn inputs come from ---------------------------------------------------------------


def uniform(low: float, high: float) -> Sampler:
    return lambda rng: rng.uniform(low, high)


def magnitude(low: float, high: float, signed: bool = True) -> Sampler:
    """|x| log-uniform in [low, high] (as many small numbers as large ones), either sign if ``signed``."""

    def draw(rng: random.Random) -> float:
        x = math.exp(rng.uniform(math.log(low), math.log(high)))
        return -x if signed and rng.random() < 0.5 else x

    return draw


def negative(sampler: Sampler) -> Sampler:
    return lambda rng: -abs(sampler(rng))


def values(*samplers: Sampler) -> Draw:
    """A draw of one number per input, each from its own sampler."""
    return lambda rng: Drawn(tuple(sample(rng) for sample in samplers))


def same(sampler: Sampler, n: int) -> Draw:
    return values(*(sampler,) * n)


# Each unary op's two interesting regions: the unary case draws x from the first and y from
# the second, so every run meets both. relu and abs see one point each side of their kink,
# 0.01 away at least; log and sqrt numbers near 0 and large ones; tanh and sigmoid near 0
# and saturating -- only so far that the derivative still makes a thousandth of the case's
# gradient, so that a wrong derivative can never pass for rounding. sigmoid stops sooner: its
# derivative σ(1 - σ) and the wrong 1 - σ learners write meet as σ -> 1, and at 9 their gap
# was a rounding-sized 1e-7 of the gradient; at 5.5 it is about 1e-4.
NEAR_ZERO = magnitude(1e-3, 0.5)
_UNARY_REGIONS: dict[str, tuple[Sampler, Sampler]] = {
    "neg": (magnitude(0.01, 1.0), magnitude(1.0, 100.0)),
    "exp": (magnitude(1e-3, 1.0), magnitude(1.0, 20.0)),
    "log": (magnitude(1e-3, 0.5, signed=False), magnitude(2.0, 1e4, signed=False)),
    "sqrt": (magnitude(1e-3, 0.5, signed=False), magnitude(2.0, 1e4, signed=False)),
    "tanh": (NEAR_ZERO, magnitude(2.0, 4.5)),
    "sigmoid": (NEAR_ZERO, magnitude(3.0, 5.5)),
    "sin": (NEAR_ZERO, magnitude(2.0, 50.0)),
    "cos": (NEAR_ZERO, magnitude(2.0, 50.0)),
    "relu": (magnitude(0.01, 50.0, signed=False), negative(magnitude(0.01, 50.0))),
    "abs": (magnitude(0.01, 50.0, signed=False), negative(magnitude(0.01, 50.0))),
}
_SOMEWHERE = (magnitude(0.05, 1.0), magnitude(1.0, 5.0))  # an op added to the table, until it has its own
UPSTREAM = magnitude(0.3, 3.0)  # a gradient arriving from above: never 1, of either sign


def unary_regions(op: Op) -> tuple[Sampler, Sampler]:
    return _UNARY_REGIONS.get(op.name, _SOMEWHERE)


def _unary_case(op: Op, inputs: tuple[float, float, float]) -> Case:
    call = operator_for(op)

    def fn(x: Any, y: Any, k: Any) -> Any:
        # Each input is used again after the op (its gradient arrives there first, so a rule
        # that sets grad with `=` loses it), and k != 1 shows a rule that ignores out.grad.
        return (call(x) * x + call(y) * y) * k

    fn.__name__ = f"unary_{op.name}"
    spelled = op.format("x")
    doc = f"{spelled} at two points, each input used again, under an upstream gradient ≠ 1"
    return Case(f"unary_{op.name}", doc, fn, inputs, draw=values(*unary_regions(op), UPSTREAM))


# Where `--list` shows a unary op: a point each side of its kink (relu, abs), inside its domain (log, sqrt).
_POSITIVE_ONLY = {"log", "sqrt"}


def _unary_inputs(op: Op) -> tuple[float, float, float]:
    return (0.6, 1.9, 1.7) if op.name in _POSITIVE_ONLY else (0.6, -1.3, 1.7)


# -- a graph whose wiring is drawn ----------------------------------------------------------------

# The ops of the drawn graph: what micrograd and the lecture's engine both have, each spelling
# the common API allows (a number on the left runs the reflected method). ("v", "v") takes two
# nodes, ("n", "v") a number and a node, ("v", "k") a node and an integer exponent.
_WIRED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("add", ("v", "v")), ("add", ("n", "v")), ("sub", ("v", "v")), ("sub", ("n", "v")),
    ("mul", ("v", "v")), ("mul", ("v", "n")), ("mul", ("n", "v")), ("div", ("v", "v")),
    ("div", ("n", "v")), ("pow", ("v", "k")), ("pow", ("v", "k")), ("neg", ("v",)),
)
_GRAPH_LEAVES = 4
_BOUND = 30.0  # no node beyond this size: the graph stays where every engine's rounding is alike
_DIVISOR = 0.2  # no division by (or negative power of) anything smaller


@dataclass(frozen=True)
class _Wire:
    op: Op
    args: tuple[tuple[str, float], ...]  # ("node", index) or ("number", value)


def _wiring(rng: random.Random, leaves: Sequence[float]) -> list[_Wire] | None:
    """Each op of `_WIRED`, in a drawn order, on drawn earlier nodes (a node may feed several ops,
    or one op twice); None when no acceptable node can be found for some op."""
    from ..ops import op_named

    nodes = list(leaves)
    wires = []
    for name, kinds in rng.sample(_WIRED, len(_WIRED)):
        op = op_named(name)
        for _ in range(20):
            args: list[tuple[str, float]] = []
            for kind in kinds:
                if kind == "v":
                    args.append(("node", rng.randrange(len(nodes))))
                elif kind == "n":
                    args.append(("number", round(magnitude(0.5, 3.0)(rng), 3)))
                else:
                    args.append(("number", float(rng.choice((2, 3, -1, -2)))))
            numbers = [nodes[int(i)] if what == "node" else i for what, i in args]
            if name in ("div", "pow") and abs(numbers[0 if name == "pow" else 1]) < _DIVISOR:
                continue
            if name in ("div", "sub") and args[0] == args[1]:
                continue  # x / x is 1 whatever x is: a gradient of exactly 0, which any rounding misses
            value = op.forward(*numbers)
            if math.isfinite(value) and 1e-3 < abs(value) < _BOUND:
                break
        else:
            return None
        nodes.append(value)
        wires.append(_Wire(op, tuple(args)))
    return wires


def _wired_graph(wires: Sequence[_Wire]) -> Callable[..., Any]:
    """The graph `_wiring` drew, as a case function: every node no op consumed is added to the output."""

    def drawn_graph(*x: Any) -> Any:
        nodes = list(x)
        used: set[int] = set()
        for wire in wires:
            operands = []
            for what, i in wire.args:
                if what == "node":
                    used.add(int(i))
                    operands.append(nodes[int(i)])
                else:
                    operands.append(int(i) if wire.op.name == "pow" else i)
            nodes.append(operator_for(wire.op)(*operands))
        ends = [node for k, node in enumerate(nodes) if k not in used]
        total = ends[0]
        for node in ends[1:]:
            total = total + node
        return total

    return drawn_graph


def _reused(wires: Sequence[_Wire]) -> tuple[int, int]:
    """How many nodes feed more than one operand slot: all of them, and those made by an op."""
    counts: dict[float, int] = {}
    for wire in wires:
        for what, i in wire.args:
            if what == "node":
                counts[i] = counts.get(i, 0) + 1
    shared = [i for i, n in counts.items() if n > 1]
    return len(shared), sum(i >= _GRAPH_LEAVES for i in shared)


def _draw_graph(rng: random.Random) -> Drawn:
    while True:
        leaves = tuple(magnitude(0.3, 2.0)(rng) for _ in range(_GRAPH_LEAVES))
        wires = _wiring(rng, leaves)
        # Every time, gradients that must add up, and an op's node whose backward must run once.
        if wires is not None and _reused(wires)[0] >= 2 and _reused(wires)[1] >= 1:
            return Drawn(leaves, _wired_graph(wires))


_SHOWN_GRAPH = _draw_graph(random.Random("the drawn graph as --list shows it"))


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


def _weights(model: MLP) -> Draw:
    """Fresh weights and biases for ``model``, as `MLP` initialises them: uniform in [-1, 1]."""
    return same(uniform(-1.0, 1.0), len(model.parameters()))


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
_SEED_INPUTS = (2.0, -3.0, 10.0, -2.0)
_SMALL = magnitude(0.1, 3.0)  # an everyday number of either sign
_APART = magnitude(0.2, 3.0)  # a divisor: never near 0
_POSITIVE = magnitude(0.05, 20.0, signed=False)

CASES: tuple[Case, ...] = (
    # The lecture's own numbers: fixed, because they are the point (-8.0, then -7.286496 after
    # the nudge; o = 0.7071); every op they use is also checked at drawn inputs below.
    Case("seed_graph", "the seed notebook's L = (a*b + c) * f", seed_graph, _SEED_INPUTS),
    Case("lecture_neuron", "the lecture's neuron tanh(x1*w1 + x2*w2 + b)", neuron, _NEURON_INPUTS),
    Case("tanh_through_exp", "a neuron with tanh written as (e^2n - 1)/(e^2n + 1)",
         neuron_tanh_through_exp, _NEURON_INPUTS, draw=same(magnitude(0.3, 1.5), 5)),
    Case("reuse_a_plus_a", "a + a: both operands are one node (its gradient must add up to 2)",
         a_plus_a, (3.0,), draw=values(magnitude(0.1, 10.0))),
    Case("reuse_a_times_a", "a * a: both operands are one node", a_times_a, (3.0,),
         draw=values(magnitude(0.1, 10.0))),
    Case("reuse_three_consumers", "one node feeding three ops at different depths",
         three_consumers, (1.5, -2.0, 0.5, 0.8), draw=same(magnitude(0.2, 2.0), 4)),
    Case("diamond", "a splits into a*3 and a+1 which meet again", diamond, (0.9,), draw=values(_SMALL)),
    Case("stacked_diamonds", "eight diamonds with a short and a long side: a node's gradient must be "
         "complete before it flows on",
         stacked_diamonds, (0.9,), draw=values(magnitude(0.2, 0.95))),  # |x| < 1: no blow-up after the nudge
    Case("deep_chain", "x*w + c, 150 times: a long graph with w and c shared all along",
         deep_chain, (0.5, 0.9, 0.1), draw=values(_SMALL, magnitude(0.5, 0.97), magnitude(0.05, 1.0))),
    Case("sum_of_a_list", "sum([a, b, c, d]), which starts from 0 + a", sum_of_a_list, (0.5, -1.5, 2.0, 3.0),
         draw=same(magnitude(0.1, 10.0), 4)),
    Case("number_plus_value", "1 + x: __radd__", number_plus_value, (0.7, -1.3), draw=same(_SMALL, 2)),
    Case("number_minus_value", "1 - x: __rsub__ (sign and operand order)", number_minus_value, (0.7, -1.3),
         draw=same(_SMALL, 2)),
    Case("number_times_value", "3 * x: __rmul__ must return a Value, or the graph is cut",
         number_times_value, (0.7, -1.3), draw=same(_SMALL, 2)),
    Case("number_over_value", "2 / x: __rtruediv__ (operand order)", number_over_value, (0.7, -1.3),
         draw=values(_APART, _SMALL)),
    Case("numbers_on_the_right", "((x + 1.5) * 3 - 2) / 4: numbers as right operands", numbers_on_the_right,
         (0.7,), draw=values(magnitude(0.1, 5.0))),
    Case("difference_over_value", "(a - b) / c: subtraction and division of Values",
         difference_over_value, (1.5, -0.5, 0.8), draw=values(_SMALL, _SMALL, _APART)),
    Case("integer_powers", "x**2 + x**3, negative bases too", integer_powers, (1.3,), draw=values(_SMALL)),
    Case("fractional_and_negative_powers", "x**0.5 + x**-1 + x**-2.5", fractional_and_negative_powers,
         (1.3,), draw=values(_POSITIVE)),
    Case("value_to_the_value", "x ** y with a Value exponent", value_to_the_value, (1.3, 0.7),
         draw=values(magnitude(0.1, 5.0, signed=False), _SMALL)),
    Case("number_to_the_value", "2 ** x: __rpow__", number_to_the_value, (0.7,),
         draw=values(magnitude(0.01, 5.0))),
    *(_unary_case(op, _unary_inputs(op)) for op in OPS if op.arity == 1),
    Case("softmax_nll", "softmax of three logits and the negative log-likelihood of the first",
         softmax_nll, (1.0, -0.5, 2.0), draw=same(uniform(-6.0, 6.0), 3)),
    Case("mlp_tanh_squared_error", "the lecture's 3-4-4-1 tanh MLP on its four examples, squared error",
         mlp_tanh_squared_error, _initial(_LECTURE_NET), draw=_weights(_LECTURE_NET)),
    Case("mlp_relu_hinge", "micrograd's demo: a 2-6-1 ReLU MLP, hinge loss and L2 on six moons points",
         mlp_relu_hinge, _initial(_MOONS_NET), draw=_weights(_MOONS_NET)),
    Case("drawn_graph", "+ - * / ** and neg, numbers on either side, wired anew each run (reuse, fan-out)",
         _SHOWN_GRAPH.fn, _SHOWN_GRAPH.inputs, draw=_draw_graph),  # type: ignore[arg-type]
    Case("nudge_step", "the seed graph nudged: leaf.data += 0.01 * leaf.grad, then forward again",
         seed_graph, _SEED_INPUTS, kind="nudge"),
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
