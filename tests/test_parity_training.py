"""compare_training: an MLP and its torch twin, step by step."""

from __future__ import annotations

import json

import matplotlib
import pytest
import torch

from twingrad import op_named
from twingrad.examples import LECTURE_XS, make_moons
from twingrad.nn import MLP
from twingrad.parity import compare_training, torch_twin

matplotlib.use("Agg")


def test_lecture_mlp_twenty_steps_agree_at_every_step() -> None:
    report = compare_training()  # MLP(3, [4, 4, 1]), the lecture's four examples, 20 steps
    assert report.ok, report.summary
    assert len(report.steps) == 20 and len(report.parameters) == 41
    assert report.engine_losses[-1] < report.engine_losses[0] / 10
    assert all(s.loss_ok and s.grads_ok for s in report.steps)
    assert report.summary.startswith("training parity ok: 20 SGD steps, mse loss 7.729795 -> 0.055488")
    assert report.parameters[0].name == "layers[0].neurons[0].w[0]"
    assert report.parameters[3].name == "layers[0].neurons[0].b"


def test_twin_computes_what_the_engine_computes() -> None:
    model = MLP(3, [4, 4, 1], rng=3)
    twin = torch_twin(model)
    out = twin(torch.tensor(LECTURE_XS, dtype=torch.float64))[:, 0]
    for x, t in zip(LECTURE_XS, out.tolist()):
        assert model(x).data == pytest.approx(t, rel=1e-14)


def test_micrograd_demo_setup_with_a_learning_rate_schedule() -> None:
    xs, ys = make_moons(20, noise=0.1, rng=1)
    model = MLP(2, [8, 8, 1], activation="relu", output_activation="linear", rng=1)
    report = compare_training(model, xs, ys, steps=5, loss="hinge", learning_rate=lambda k: 1.0 - 0.1 * k)
    assert report.ok, report.summary
    assert [s.learning_rate for s in report.steps] == pytest.approx([1.0, 0.9, 0.8, 0.7, 0.6])
    assert report.loss_name == "hinge"


def test_a_broken_derivative_shows_at_the_first_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(op_named("tanh"), "grad", lambda g, out, a: g * (1.0 - out))
    report = compare_training(steps=3)
    assert not report.ok
    first = report.steps[0]
    assert first.loss_ok and not first.grads_ok  # same loss, different gradients
    assert "First mismatch at step 0: gradient of layers[" in report.summary
    assert not all(p.ok for p in report.parameters)


def test_a_custom_loss_written_once() -> None:
    def absolute(preds, ys, params):
        return sum(abs(p - y) for p, y in zip(preds, ys))

    report = compare_training(loss=absolute, steps=4)
    assert report.ok and report.loss_name == "absolute"


def test_renderings_and_plot() -> None:
    report = compare_training(steps=3)
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert len(data["steps"]) == 3 and data["steps"][0]["ok"] is True
    assert "loss engine" in str(report) and "<table" in report._repr_html_()
    ax = report.plot()
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["twingrad engine", "torch twin"]
    assert list(lines[1].get_ydata()) == report.torch_losses


def test_needs_one_output_and_one_step() -> None:
    with pytest.raises(ValueError, match="one output"):
        compare_training(MLP(3, [4, 2]))
    with pytest.raises(ValueError, match="at least one step"):
        compare_training(steps=0)


def test_one_conversion_to_torch_in_the_engines_order() -> None:
    from twingrad.parity.training import in_engine_order, mlp_tensors, twin_parameters

    model = MLP(2, [3, 1], rng=4)
    engine = [p.data for p in model.parameters()]
    layers = mlp_tensors(model)
    activations = [layer.neurons[0].activation for layer in model.layers]
    assert [(tuple(w.shape), tuple(b.shape), act) for w, b, act in layers] == [
        ((3, 2), (3,), activations[0]), ((1, 3), (1,), activations[1])]
    assert in_engine_order((w, b) for w, b, _ in layers).tolist() == engine
    assert [t.item() for t in twin_parameters(torch_twin(model))] == engine
