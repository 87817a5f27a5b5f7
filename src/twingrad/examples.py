"""The graphs and data sets of the micrograd lecture, written once for every consumer.

The demo, the tests, the notebooks, the checker's cases and the benchmarks all take
their examples from here. The graph builders accept any micrograd-style `Value` class,
so the same expression can be built with twingrad, with a learner's engine or with
micrograd itself.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Sequence
from typing import Any

from .engine import Value

# The lecture's tiny data set: four examples of three inputs, and their targets.
LECTURE_XS: list[list[float]] = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
LECTURE_YS: list[float] = [1.0, -1.0, -1.0, 1.0]

# The bias that makes the lecture neuron's output exactly tanh(0.8813...) = 1/√2.
LECTURE_NEURON_BIAS = 6.8813735870195432


def name(node: Any, label: str) -> Any:
    """Set ``node.label`` where the class allows it; return the node.

    micrograd's Value takes no label in its constructor, so labels are attributes set
    afterwards; a class with ``__slots__`` and no label simply stays unnamed.
    """
    with contextlib.suppress(AttributeError):
        node.label = label
    return node


def labelled(value_cls: Any, data: float, label: str) -> Any:
    """``value_cls(data)``, labelled ``label``."""
    return name(value_cls(data), label)


def seed_graph(value_cls: Any = Value) -> dict[str, Any]:
    """The seed notebook's graph ``L = (a*b + c) * f``; returns every node by label.

    With twingrad: L = -8, and dL/d(a, b, c, e, d, f) = (6, -4, -2, -2, -2, 4).
    """
    a = labelled(value_cls, 2.0, "a")
    b = labelled(value_cls, -3.0, "b")
    c = labelled(value_cls, 10.0, "c")
    f = labelled(value_cls, -2.0, "f")
    e = a * b
    d = e + c
    L = d * f
    for node, label in ((e, "e"), (d, "d"), (L, "L")):
        name(node, label)
    return {"a": a, "b": b, "c": c, "e": e, "d": d, "f": f, "L": L}


def lecture_neuron(value_cls: Any = Value) -> dict[str, Any]:
    """The lecture's neuron ``o = tanh(x1*w1 + x2*w2 + b)``, o = 1/√2 at its inputs."""
    x1 = labelled(value_cls, 2.0, "x1")
    x2 = labelled(value_cls, 0.0, "x2")
    w1 = labelled(value_cls, -3.0, "w1")
    w2 = labelled(value_cls, 1.0, "w2")
    b = labelled(value_cls, LECTURE_NEURON_BIAS, "b")
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    n = x1w1 + x2w2 + b
    o = n.tanh()
    nodes = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "x1w1": x1w1, "x2w2": x2w2, "n": n, "o": o}
    for label in ("x1w1", "x2w2", "n", "o"):
        name(nodes[label], label)
    return nodes


def squared_error(preds: Sequence[Any], ys: Sequence[float], params: Sequence[Any] = ()) -> Any:
    """The lecture's loss: ``sum((pred - y) ** 2)`` (``params`` unused; it has no L2 term)."""
    return sum((p - y) ** 2 for p, y in zip(preds, ys))


def hinge(preds: Sequence[Any], ys: Sequence[float], params: Sequence[Any], alpha: float = 1e-4) -> Any:
    """micrograd demo's loss: mean of ``(1 - y*score).relu()`` plus ``alpha * sum(p*p)``.

    Written as in the demo, ``(1 + -y * score)``, so every engine builds the same graph.
    """
    losses = [(1 + -y * p).relu() for p, y in zip(preds, ys)]
    data_loss = sum(losses) * (1.0 / len(losses))
    return data_loss + alpha * sum(p * p for p in params)


def make_moons(
    n_samples: int = 100, noise: float = 0.1, rng: random.Random | int = 0
) -> tuple[list[tuple[float, float]], list[int]]:
    """Two interleaving half circles with Gaussian noise; labels -1 and +1.

    The data set of micrograd's demo, generated with an explicit seeded `random.Random`.
    """
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    n_upper = n_samples // 2
    points: list[tuple[float, float]] = []
    labels: list[int] = []
    for i in range(n_samples):
        upper = i < n_upper
        k = i if upper else i - n_upper
        count = n_upper if upper else n_samples - n_upper
        t = math.pi * k / max(count - 1, 1)
        x, y = (math.cos(t), math.sin(t)) if upper else (1.0 - math.cos(t), 0.5 - math.sin(t))
        points.append((x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)))
        labels.append(-1 if upper else 1)
    order = list(range(n_samples))
    rng.shuffle(order)
    return [points[i] for i in order], [labels[i] for i in order]
