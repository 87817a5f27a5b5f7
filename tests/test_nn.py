"""twingrad.nn: shapes, parameters, seeded initialisation, activations."""

from __future__ import annotations

import random

import pytest

from twingrad import Value
from twingrad.examples import LECTURE_XS, LECTURE_YS
from twingrad.nn import MLP, Layer, Neuron


def test_lecture_mlp_shape_and_parameter_count() -> None:
    model = MLP(3, [4, 4, 1])
    assert len(model.parameters()) == (3 + 1) * 4 + (4 + 1) * 4 + (4 + 1) * 1
    out = model([2.0, 3.0, -1.0])
    assert isinstance(out, Value) and -1.0 < out.data < 1.0
    assert isinstance(MLP(3, [4, 2])([1.0, 2.0, 3.0]), list)


def test_same_seed_same_network_whatever_the_global_random_state() -> None:
    random.seed(1)
    a = [p.data for p in MLP(3, [4, 4, 1], rng=7).parameters()]
    random.seed(2)
    b = [p.data for p in MLP(3, [4, 4, 1], rng=random.Random(7)).parameters()]
    assert a == b
    assert a != [p.data for p in MLP(3, [4, 4, 1], rng=8).parameters()]
    state = random.getstate()
    MLP(2, [16, 16, 1])
    assert random.getstate() == state  # the global generator was never touched


def test_activations() -> None:
    x = [0.3, -0.2]
    for activation, op in (("tanh", "tanh"), ("relu", "relu"), ("sigmoid", "sigmoid")):
        assert Neuron(2, activation)(x)._op == op
    assert Neuron(2, "linear")(x)._op == "+"
    model = MLP(2, [16, 16, 1], activation="relu", output_activation="linear")
    assert [layer.neurons[0].activation for layer in model.layers] == ["relu", "relu", "linear"]
    with pytest.raises(ValueError, match="activation must be one of"):
        Neuron(2, "gelu")


def test_wrong_input_length_is_named() -> None:
    with pytest.raises(ValueError, match="expects 3 inputs, got 2"):
        MLP(3, [4, 1])([1.0, 2.0])


def test_rng_must_be_a_generator_or_seed() -> None:
    with pytest.raises(TypeError, match="rng must be"):
        Layer(2, 2, rng="seed")


def test_lecture_training_reduces_the_loss() -> None:
    model = MLP(3, [4, 4, 1], rng=0)
    losses = []
    for _ in range(20):
        preds = [model(x) for x in LECTURE_XS]
        loss = sum((p - y) ** 2 for p, y in zip(preds, LECTURE_YS))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        losses.append(loss.data)
    assert losses[-1] < losses[0] / 2
    assert all(p.grad != 0.0 for p in model.parameters()[:3])
