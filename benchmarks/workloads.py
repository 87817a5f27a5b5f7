"""The benchmark workloads, each written once against the micrograd-style API.

A workload is a function of an `Engine` -- how to make a leaf, read a value or a
gradient, clear gradients -- that returns a zero-argument ``run``: build the graph from
fresh inputs and backpropagate through it. Because every engine executes the same
Python expression, the graphs are identical node for node (up to how each engine
represents a number such as the ``1`` in ``1 + x``), and the agreement test can demand
that they compute the same numbers.

This module imports neither torch nor micrograd (`benchmarks.rivals` holds those), so
``python -m benchmarks.alone`` can time twingrad in a process without them.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twingrad import Value
from twingrad.bench import MEDIAN_STEP
from twingrad.examples import hinge, lecture_neuron, make_moons, seed_graph
from twingrad.nn import MLP

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


def clear_grads(nodes: Sequence[Any]) -> None:
    for node in nodes:
        node.grad = 0.0


TWINGRAD = Engine("twingrad", Value, lambda v: v.data, lambda v: v.grad, clear_grads)


# -- small graphs ----------------------------------------------------------------------------


def lecture_graph(
    builder: Callable[[Any], dict[str, Any]], root: str, checked: Sequence[str]
) -> Callable[[Engine], Run]:
    """A graph from `twingrad.examples`, built with the engine's class; backward from ``root``."""

    def workload(engine: Engine) -> Run:
        def run() -> Outcome:
            nodes = builder(engine.leaf)
            nodes[root].backward()
            return engine.outcome(nodes[root], [nodes[k] for k in checked])

        return run

    return workload


seed = lecture_graph(seed_graph, "L", "abcf")
neuron = lecture_graph(lecture_neuron, "o", ("x1", "x2", "w1", "w2", "b"))


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
    return hinge(scores, labels, model.parameters()), scores


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


def parity_compare(engine: Engine) -> Run:
    """The moons step checked by `twingrad.parity.compare` (twingrad's row) against torch
    building and back-propagating the same scalar graph alone (torch's row, = moons-step).

    twingrad's row builds the engine graph and runs the whole compare: trace, the engine's
    backward, the torch replay of every node (in layers) with its backward, and the verdict on each.
    """
    if engine is not TWINGRAD:
        return moons_step(engine)
    from twingrad.parity import compare  # imports torch: only where this workload runs

    model = port(demo_model(), engine)
    points, labels = MOONS

    def run() -> Outcome:
        loss, _ = moons_loss(engine, model, points, labels)
        report = compare(loss)  # zeroes the engine's grads and runs its backward first
        if not report.ok:
            raise AssertionError(report.summary)
        return engine.outcome(loss, model.parameters())

    return run


def moons_hessian_vector(engine: Engine) -> Run:
    """A second-order gradient of the moons loss: its Hessian times a fixed vector ``v``.

    The gradient is built as a graph (``twingrad.grad`` / ``torch.autograd.grad`` with
    ``create_graph=True``), ``v · gradient`` is differentiated again: double backward on
    the 65,818-node scalar graph, 337 parameters.
    """
    model = port(demo_model(), engine)
    points, labels = MOONS
    params = model.parameters()
    v = [math.cos(k) for k in range(len(params))]
    differentiate = _double_backward(engine)

    def run() -> Outcome:
        loss, _ = moons_loss(engine, model, points, labels)
        first = differentiate(loss, params, True)
        directional = first[0] * v[0]
        for g, vk in zip(first[1:], v[1:]):
            directional = directional + g * vk
        return Outcome(engine.value(loss), [float(x) for x in differentiate(directional, params, False)])

    return run


def _double_backward(engine: Engine) -> Callable[[Any, Sequence[Any], bool], Sequence[Any]]:
    """``grad(output, inputs, create_graph)`` of an engine that can differentiate twice."""
    if engine is TWINGRAD:
        from twingrad import grad

        return grad
    import torch  # only where torch's row runs

    def torch_grad(output: Any, inputs: Sequence[Any], create_graph: bool) -> Sequence[Any]:
        return torch.autograd.grad(output, list(inputs), create_graph=create_graph)

    return torch_grad


def train(engine: Engine, model: MLP, steps: int) -> list[tuple[float, float, float]]:
    """micrograd's demo loop: SGD, learning rate 1 - 0.9·k/100; (loss, accuracy, seconds) per step."""
    points, labels = MOONS
    params = model.parameters()
    history = []
    for k in range(steps):
        start = time.perf_counter()
        loss, scores = moons_loss(engine, model, points, labels)
        engine.zero_grad(params)
        loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in params:
            p.data -= learning_rate * p.grad
        hits = [(yi > 0) == (engine.value(s) > 0) for yi, s in zip(labels, scores)]
        history.append((engine.value(loss), sum(hits) / len(hits), time.perf_counter() - start))
    return history


def training(steps: int) -> Callable[[Engine], Run]:
    def workload(engine: Engine) -> Run:
        def run() -> Outcome:
            model = port(demo_model(), engine)
            history = train(engine, model, steps)
            loss, accuracy, _ = history[-1]
            params = [engine.value(p) for p in model.parameters()]
            # The median step shrugs off a burst of load that the one wall-clock figure cannot.
            median_step = statistics.median(seconds for _, _, seconds in history)
            info = {"steps": steps, "final loss": loss, "accuracy": accuracy, MEDIAN_STEP: median_step}
            return Outcome(loss, params, info)

        return run

    return workload
