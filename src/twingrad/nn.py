"""A small neural-network library on `Value`, as in the micrograd lecture.

`Neuron`, `Layer` and `MLP` build ordinary scalar graphs, so everything twingrad does
with a graph -- backward, drawing, the torch mirror -- works on a network's loss.
Weights come from an explicit `random.Random`: the same seed gives the same network
no matter what else in the program used the global `random` module.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .engine import Value

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


def _make_rng(rng: random.Random | int) -> random.Random:
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, int) and not isinstance(rng, bool):
        return random.Random(rng)
    raise TypeError(f"rng must be a random.Random or an int seed, not {type(rng).__name__}")


def _check_activation(name: Any) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {name!r}")
    return str(name)


class Module:
    """Something with parameters: the base of `Neuron`, `Layer` and `MLP`."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """``activation(w · x + b)`` with weights and bias drawn uniformly from [-1, 1]."""

    def __init__(
        self, nin: int, activation: str = "tanh", rng: random.Random | int = 0
    ) -> None:
        rng = _make_rng(rng)
        self.activation = _check_activation(activation)
        self.w = [Value(rng.uniform(-1.0, 1.0)) for _ in range(nin)]
        self.b = Value(rng.uniform(-1.0, 1.0))

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron expects {len(self.w)} inputs, got {len(x)}")
        # b + w0*x0 + w1*x1 + ...: the lecture's `sum(..., self.b)`, without a generator.
        act = self.b
        for wi, xi in zip(self.w, x):
            act = act + wi * xi
        if self.activation == "linear":
            return act
        return getattr(act, self.activation)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs."""

    def __init__(
        self, nin: int, nout: int, activation: str = "tanh", rng: random.Random | int = 0
    ) -> None:
        rng = _make_rng(rng)
        self.neurons = [Neuron(nin, activation, rng) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        first = self.neurons[0]
        return f"Layer({len(first.w)}, {len(self.neurons)}, activation={first.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(3, [4, 4, 1])`` is the lecture's network.

    ``activation`` is used by every hidden layer, ``output_activation`` by the last
    (it defaults to ``activation``; micrograd's demo uses ``relu`` with a ``linear``
    output). Calling the MLP returns a list of outputs, or the single output `Value`
    when the last layer has one neuron.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        output_activation: str | None = None,
        rng: random.Random | int = 0,
    ) -> None:
        rng = _make_rng(rng)
        if not nouts:
            raise ValueError("MLP needs at least one layer size in nouts")
        sizes = [nin, *nouts]
        last = output_activation if output_activation is not None else activation
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation if i < len(nouts) - 1 else last, rng)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        out: Sequence[Value | float] = x
        for layer in self.layers:
            out = layer(out)
        return out[0] if len(out) == 1 else list(out)  # type: ignore[return-value]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP({', '.join(repr(layer) for layer in self.layers)})"
