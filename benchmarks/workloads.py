"""The benchmark workloads, each written once against the micrograd-style API.

A workload is a function of an `Engine` -- how to make a leaf, read a value or a
gradient, clear gradients -- that returns a zero-argument ``run``: build the graph from
fresh inputs and backpropagate through it. Because every engine executes the same
Python expression, the graphs are identical node for node (up to how each engine
represents a number such as the ``1`` in ``1 + x``), and `check` can demand that they
compute the same numbers.

Engines:

* ``twingrad`` -- this project's `Value`;
* ``torch scalar`` -- torch autograd on the identical graph of 0-d float64 tensors,
  one thread;
* ``micrograd`` -- micrograd 0.1.0 from PyPI, which has no ``tanh`` or ``exp`` and whose
  recursive topological sort overflows near 1000 levels of depth;
* ``torch vectorised`` -- the MLP workloads written as idiomatic tensor code: what
  tensors buy, shown for context, not a race on the same graph.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from micrograd.engine import Value as MicrogradValue

from twingrad import Value
from twingrad.examples import lecture_neuron, make_moons, seed_graph
from twingrad.nn import MLP

# Scalar autograd gains nothing from threads, and the machine is shared.
torch.set_num_threads(1)

Run = Callable[[], "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """What a run computed: the root's value and the gradients of its checked leaves."""

    value: float
    grads: list[float]
    info: dict[str, float] = field(default_factory=dict)  # figures worth reporting


# -- engines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """How the workloads drive one micrograd-style scalar engine."""

    name: str
    leaf: Callable[[float], Any]  # a new leaf (for torch: a tensor that requires grad)
    value: Callable[[Any], float]
    grad: Callable[[Any], float]
    zero_grad: Callable[[Sequence[Any]], None]

    def outcome(self, root: Any, checked: Sequence[Any]) -> Outcome:
        return Outcome(self.value(root), [self.grad(node) for node in checked])


def _clear_grads(nodes: Sequence[Any]) -> None:
    for node in nodes:
        node.grad = 0.0


def _torch_leaf(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def _torch_grad(t: torch.Tensor) -> float:
    return 0.0 if t.grad is None else t.grad.item()


def _torch_clear_grads(tensors: Sequence[torch.Tensor]) -> None:
    for t in tensors:
        t.grad = None


TWINGRAD = Engine("twingrad", Value, lambda v: v.data, lambda v: v.grad, _clear_grads)
TORCH = Engine("torch scalar", _torch_leaf, lambda t: t.item(), _torch_grad, _torch_clear_grads)
MICROGRAD = Engine(
    "micrograd", MicrogradValue, lambda v: float(v.data), lambda v: float(v.grad), _clear_grads
)
ENGINES: dict[str, Engine] = {e.name: e for e in (TWINGRAD, TORCH, MICROGRAD)}
VECTORISED = "torch vectorised"
ALL_ENGINES = (*ENGINES, VECTORISED)


# -- small graphs ----------------------------------------------------------------------------


def seed(engine: Engine) -> Run:
    def run() -> Outcome:
        nodes = seed_graph(engine.leaf)
        nodes["L"].backward()
        return engine.outcome(nodes["L"], [nodes[k] for k in "abcf"])

    return run


def neuron(engine: Engine) -> Run:
    def run() -> Outcome:
        nodes = lecture_neuron(engine.leaf)
        nodes["o"].backward()
        return engine.outcome(nodes["o"], [nodes[k] for k in ("x1", "x2", "w1", "w2", "b")])

    return run


def tanh_chain(length: int) -> Callable[[Engine], Run]:
    def workload(engine: Engine) -> Run:
        def run() -> Outcome:
            x = engine.leaf(0.5)
            y = x
            for _ in range(length):
                y = y.tanh()
            y.backward()
            return engine.outcome(y, [x])

        return run

    return workload


# -- depth and width -------------------------------------------------------------------------


def deep_chain(length: int) -> Callable[[Engine], Run]:
    """``x + 1 + 1 + ...``: depth ``length``, the shape recursion cannot walk."""

    def workload(engine: Engine) -> Run:
        def run() -> Outcome:
            x = engine.leaf(0.0)
            y = x
            for _ in range(length):
                y = y + 1.0
            y.backward()
            return engine.outcome(y, [x])

        return run

    return workload


def tree_sum(terms: Sequence[Any]) -> Any:
    """The sum of ``terms`` added in pairs, so the graph is log2(n) deep, not n."""
    level = list(terms)
    while len(level) > 1:
        paired = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def fan_out(width: int) -> Callable[[Engine], Run]:
    """One leaf ``x`` used by ``width`` products ``x * w_i``, summed in a balanced tree.

    Wide rather than deep (the deep chain covers depth): ``x`` collects its gradient
    from ``width`` consumers.
    """

    def workload(engine: Engine) -> Run:
        weights = [math.sin(i) for i in range(width)]

        def run() -> Outcome:
            x = engine.leaf(0.5)
            ws = [engine.leaf(w) for w in weights]
            root = tree_sum([x * w for w in ws])
            root.backward()
            return engine.outcome(root, [x, ws[0], ws[-1]])

        return run

    return workload


# -- the micrograd demo: an MLP on two moons -----------------------------------------------


def demo_model() -> MLP:
    """micrograd's demo network (its biases start at 0, ours uniform: same cost)."""
    return MLP(2, [16, 16, 1], activation="relu", output_activation="linear", rng=0)


MOONS = make_moons(100, noise=0.1, rng=0)


def port(model: MLP, engine: Engine) -> MLP:
    """A copy of ``model`` whose parameters are ``engine``'s leaves with the same values.

    The forward pass stays twingrad's `MLP` code: it only adds, multiplies and calls
    the activation method, which every engine here has.
    """
    twin = copy.deepcopy(model)
    for layer in twin.layers:
        for n in layer.neurons:
            n.w = [engine.leaf(w.data) for w in n.w]
            n.b = engine.leaf(n.b.data)
    return twin


def moons_loss(
    engine: Engine, model: MLP, points: Sequence[tuple[float, float]], labels: Sequence[int]
) -> tuple[Any, list[Any]]:
    """micrograd's demo loss: mean hinge loss plus 1e-4 · Σ p²; also returns the scores."""
    inputs = [[engine.leaf(x0), engine.leaf(x1)] for x0, x1 in points]
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * score).relu() for yi, score in zip(labels, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum(p * p for p in model.parameters())
    return data_loss + reg_loss, scores


def mlp_sample(engine: Engine) -> Run:
    """The demo MLP's forward and backward on one input point."""
    model = port(demo_model(), engine)
    (x0, x1) = MOONS[0][0]

    def run() -> Outcome:
        engine.zero_grad(model.parameters())
        score = model([engine.leaf(x0), engine.leaf(x1)])
        score.backward()
        return engine.outcome(score, model.parameters())

    return run


def moons_step(engine: Engine) -> Run:
    """One step of micrograd's demo without the update: loss on all 100 points, backward."""
    model = port(demo_model(), engine)
    points, labels = MOONS

    def run() -> Outcome:
        engine.zero_grad(model.parameters())
        loss, _ = moons_loss(engine, model, points, labels)
        loss.backward()
        return engine.outcome(loss, model.parameters())

    return run


def train(engine: Engine, model: MLP, steps: int) -> list[tuple[float, float]]:
    """micrograd's demo loop: SGD with learning rate 1 - 0.9·k/100; (loss, accuracy) per step."""
    points, labels = MOONS
    params = model.parameters()
    history = []
    for k in range(steps):
        loss, scores = moons_loss(engine, model, points, labels)
        engine.zero_grad(params)
        loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in params:
            p.data -= learning_rate * p.grad
        hits = [(yi > 0) == (engine.value(s) > 0) for yi, s in zip(labels, scores)]
        history.append((engine.value(loss), sum(hits) / len(hits)))
    return history


def training(steps: int) -> Callable[[Engine], Run]:
    def workload(engine: Engine) -> Run:
        def run() -> Outcome:
            model = port(demo_model(), engine)
            history = train(engine, model, steps)
            loss, accuracy = history[-1]
            params = [engine.value(p) for p in model.parameters()]
            return Outcome(loss, params, {"steps": steps, "final loss": loss, "accuracy": accuracy})

        return run

    return workload


# -- the same MLP as idiomatic tensor code (context) -------------------------------------------


def tensor_layers(model: MLP) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """(weight matrix, bias vector, activation) per layer, float64, requiring grad."""
    layers = []
    for layer in model.layers:
        w = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        layers.append((w.requires_grad_(), b.requires_grad_(), layer.neurons[0].activation))
    return layers


def tensor_forward(layers: list[tuple[torch.Tensor, torch.Tensor, str]], x: torch.Tensor) -> torch.Tensor:
    for w, b, activation in layers:
        x = x @ w.T + b
        if activation != "linear":
            x = getattr(x, activation)()
    return x


def tensor_grads(layers: list[tuple[torch.Tensor, torch.Tensor, str]]) -> list[float]:
    """The gradients in `MLP.parameters` order: each neuron's weights, then its bias."""
    per_layer = [torch.cat([w.grad, b.grad[:, None]], dim=1).flatten() for w, b, _ in layers]
    return torch.cat(per_layer).tolist()


def _clear_tensor_grads(layers: list[tuple[torch.Tensor, torch.Tensor, str]]) -> None:
    for w, b, _ in layers:
        w.grad = b.grad = None


def mlp_sample_vectorised() -> Run:
    layers = tensor_layers(demo_model())
    point = MOONS[0][0]

    def run() -> Outcome:
        _clear_tensor_grads(layers)
        score = tensor_forward(layers, torch.tensor(point, dtype=torch.float64)).sum()
        score.backward()
        return Outcome(score.item(), tensor_grads(layers))

    return run


def moons_step_vectorised() -> Run:
    layers = tensor_layers(demo_model())
    points = torch.tensor(MOONS[0], dtype=torch.float64)
    labels = torch.tensor(MOONS[1], dtype=torch.float64)

    def run() -> Outcome:
        _clear_tensor_grads(layers)
        scores = tensor_forward(layers, points).squeeze(1)
        data_loss = (1 - labels * scores).relu().mean()
        reg_loss = 1e-4 * sum((p * p).sum() for w, b, _ in layers for p in (w, b))
        loss = data_loss + reg_loss
        loss.backward()
        return Outcome(loss.item(), tensor_grads(layers))

    return run


# -- the table of workloads ---------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """A graph to time on every engine that can build it.

    ``fails`` names the engines expected to raise, and what: the suite records the
    failure instead of a time. ``long`` workloads run once, not repeatedly; ``smoke``
    is the reduced version that runs where timing is off (``make test``).
    """

    name: str
    title: str
    build: Callable[[Engine], Run]
    engines: tuple[str, ...] = tuple(ENGINES)
    vectorised: Callable[[], Run] | None = None
    fails: dict[str, type[BaseException]] = field(default_factory=dict)
    long: bool = False
    smoke: Callable[[Engine], Run] | None = None
    note: str = ""

    def make(self, engine_name: str, smoke: bool = False) -> Run:
        if engine_name == VECTORISED:
            assert self.vectorised is not None
            return self.vectorised()
        build = self.smoke if smoke and self.smoke else self.build
        return build(ENGINES[engine_name])

    @property
    def all_engines(self) -> tuple[str, ...]:
        return (*self.engines, VECTORISED) if self.vectorised else self.engines


NO_TANH = "micrograd 0.1.0 has no tanh (nor exp): not run there"
NO_DEPTH = "micrograd's recursive topological sort raises RecursionError near 1000 levels"
TANH_ENGINES = ("twingrad", "torch scalar")

WORKLOADS: tuple[Workload, ...] = (
    Workload("seed", "seed graph L = (a*b + c) * f", seed),
    Workload("neuron", "lecture neuron tanh(x1*w1 + x2*w2 + b)", neuron, TANH_ENGINES, note=NO_TANH),
    Workload("tanh-10", "tanh chain, 10 deep", tanh_chain(10), TANH_ENGINES, note=NO_TANH),
    Workload("tanh-100", "tanh chain, 100 deep", tanh_chain(100), TANH_ENGINES, note=NO_TANH),
    Workload("tanh-10k", "tanh chain, 10^4 deep", tanh_chain(10_000), TANH_ENGINES, note=NO_TANH),
    Workload(
        "mlp-sample", "MLP 2-16-16-1, one sample, forward + backward", mlp_sample,
        vectorised=mlp_sample_vectorised,
    ),
    Workload(
        "moons-step", "moons training step: 2-16-16-1 MLP, 100 points, hinge + L2", moons_step,
        vectorised=moons_step_vectorised,
    ),
    Workload(
        "deep-100k", "deep chain x + 1 + 1 ..., 10^5 deep", deep_chain(100_000),
        fails={"micrograd": RecursionError}, note=NO_DEPTH,
    ),
    Workload("fan-out-100k", "fan-out: x * w_i for 10^5 weights, tree-summed", fan_out(100_000)),
    Workload(
        "deep-1M", "deep chain x + 1 + 1 ..., 10^6 deep", deep_chain(1_000_000), ("twingrad",), long=True,
        note="twingrad only: the depth target (micrograd fails at 10^3, see the 10^5 chain)",
    ),
    Workload(
        "train-100", "moons training, 100 SGD steps (micrograd's demo)", training(100), long=True,
        smoke=training(2),
    ),
    # parity.compare on the moons step against torch alone goes here once twingrad.parity
    # lands: a Workload whose build runs the step under parity.compare.
)

WORKLOADS_BY_NAME: dict[str, Workload] = {w.name: w for w in WORKLOADS}


def cases(exclude: str = "") -> list[Any]:
    """pytest parameters (workload name, engine), one per engine each workload runs on."""
    return [
        pytest.param(w.name, engine, id=f"{w.name}-{engine.replace(' ', '-')}")
        for w in WORKLOADS
        for engine in w.all_engines
        if engine != exclude
    ]
