"""`compare_training`: an MLP and its torch twin, trained side by side with SGD.

The twin is an ordinary ``torch.nn.Sequential`` of float64 ``Linear`` layers holding
the engine's initial weights. Each step both sides compute the same loss on the same
data -- the loss function is written once for engine values and tensors -- run
backward, and take the same SGD step; the loss and every parameter's gradient are
compared at every step, the parameters at the end. The twin computes its layers as
matrix products, so it sums in another order than the engine's neurons: agreement is
to the last few bits, not bit for bit, and stays within the default tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..examples import LECTURE_XS, LECTURE_YS, hinge, squared_error
from ..nn import MLP
from .rendering import CheckTable, jsonable, number_text
from .tolerances import Tolerance, difference

LossFunction = Callable[[Sequence[Any], Sequence[float], Sequence[Any]], Any]


LOSSES: dict[str, LossFunction] = {"mse": squared_error, "hinge": hinge}

_ACTIVATIONS: dict[str, Callable[[], torch.nn.Module]] = {
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "sigmoid": torch.nn.Sigmoid,
    "linear": torch.nn.Identity,
}


def mlp_tensors(model: MLP) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """The one conversion of an `MLP` to torch: per layer, its weight matrix (a row per
    neuron), bias vector and activation name, float64 copies of the engine's numbers."""
    layers = []
    for layer in model.layers:
        neurons = layer.neurons
        weight = torch.tensor([[w.data for w in n.w] for n in neurons], dtype=torch.float64)
        bias = torch.tensor([n.b.data for n in neurons], dtype=torch.float64)
        layers.append((weight, bias, neurons[0].activation))
    return layers


def in_engine_order(layers: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Weights and biases flattened in `MLP.parameters` order: each neuron's w..., then its b.

    Differentiable (a concatenation), so it serves for values, gradients and a loss term.
    """
    return torch.cat([torch.cat([weight, bias[:, None]], dim=1).reshape(-1) for weight, bias in layers])


def torch_twin(model: MLP) -> torch.nn.Sequential:
    """A float64 ``torch.nn.Sequential`` with ``model``'s layers, activations and weights."""
    modules: list[torch.nn.Module] = []
    for weight, bias, activation in mlp_tensors(model):
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        modules += [linear, _ACTIVATIONS[activation]()]
    return torch.nn.Sequential(*modules)


def _linears(twin: torch.nn.Sequential) -> list[torch.nn.Linear]:
    return [module for module in twin if isinstance(module, torch.nn.Linear)]


def twin_parameters(twin: torch.nn.Sequential) -> list[torch.Tensor]:
    """The twin's parameters as 0-dim tensors, in the engine's order (each neuron: w..., b)."""
    return list(in_engine_order((m.weight, m.bias) for m in _linears(twin)).unbind())


def parameter_names(model: MLP) -> list[str]:
    return [
        f"layers[{li}].neurons[{ni}].{'b' if k == len(n.w) else f'w[{k}]'}"
        for li, layer in enumerate(model.layers)
        for ni, n in enumerate(layer.neurons)
        for k in range(len(n.w) + 1)
    ]


@dataclass(frozen=True)
class StepRecord:
    """One SGD step: the loss on both sides and the largest gradient gap."""

    step: int
    learning_rate: float
    engine_loss: float
    torch_loss: float
    loss_ok: bool
    grad_max_abs: float  # greatest |engine grad - torch grad| over the parameters
    grad_worst: str  # which parameter
    grads_ok: bool

    @property
    def ok(self) -> bool:
        return self.loss_ok and self.grads_ok


@dataclass(frozen=True)
class ParameterRecord:
    name: str
    engine: float
    torch: float
    abs: float
    rel: float
    ok: bool


@dataclass(repr=False)
class TrainingReport(CheckTable):
    """Losses per step and final parameters of an MLP and its torch twin."""

    steps: list[StepRecord]
    parameters: list[ParameterRecord]
    tolerance: Tolerance
    loss_name: str
    model: MLP
    twin: torch.nn.Sequential

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps) and all(p.ok for p in self.parameters)

    @property
    def engine_losses(self) -> list[float]:
        return [s.engine_loss for s in self.steps]

    @property
    def torch_losses(self) -> list[float]:
        return [s.torch_loss for s in self.steps]

    @property
    def summary(self) -> str:
        first, last = self.steps[0], self.steps[-1]
        head = (
            f"training parity {'ok' if self.ok else 'MISMATCH'}: {len(self.steps)} SGD steps, "
            f"{self.loss_name} loss {first.engine_loss:.6f} -> {last.engine_loss:.6f} (engine), "
            f"{first.torch_loss:.6f} -> {last.torch_loss:.6f} (torch); {len(self.parameters)} parameters"
        )
        bad_steps = [s for s in self.steps if not s.ok]
        bad_params = [p for p in self.parameters if not p.ok]
        if not bad_steps and not bad_params:
            worst = max(self.parameters, key=lambda p: p.rel)
            return (
                f"{head}; greatest final parameter difference rel {worst.rel:.3g} at {worst.name} "
                f"({self.tolerance.describe()})."
            )
        parts = [head + "."]
        if bad_steps:
            s = bad_steps[0]
            what = "loss" if not s.loss_ok else f"gradient of {s.grad_worst} (abs {s.grad_max_abs:.3g})"
            parts.append(
                f"First mismatch at step {s.step}: {what}; loss engine {number_text(s.engine_loss)}, "
                f"torch {number_text(s.torch_loss)}."
            )
        if bad_params:
            p = bad_params[0]
            parts.append(
                f"{len(bad_params)} final parameter(s) differ, first {p.name}: engine "
                f"{number_text(p.engine)}, torch {number_text(p.torch)}."
            )
        return " ".join(parts)

    HEADERS = ("step", "lr", "loss engine", "loss torch", "max |grad gap|", "ok")

    def _rows(self) -> list[list[str]]:
        return [
            [str(s.step), f"{s.learning_rate:g}", number_text(s.engine_loss), number_text(s.torch_loss),
             f"{s.grad_max_abs:.3g}", "ok" if s.ok else "MISMATCH"]
            for s in self.steps
        ]

    def _row_oks(self) -> list[bool]:
        return [s.ok for s in self.steps]

    def __repr__(self) -> str:
        return f"<TrainingReport {len(self.steps)} steps: {'ok' if self.ok else 'mismatch'}>"

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "ok": self.ok,
                "summary": self.summary,
                "loss": self.loss_name,
                "tolerance": asdict(self.tolerance),
                "steps": [{**vars(s), "ok": s.ok} for s in self.steps],
                "parameters": [vars(p) for p in self.parameters],
            }
        )

    def plot(self, ax: Any = None) -> Any:
        """Both loss curves in one matplotlib axes (created if not given); returns it."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        steps = [s.step for s in self.steps]
        ax.plot(steps, self.engine_losses, "-", lw=2.5, alpha=0.6, label="twingrad engine")
        ax.plot(steps, self.torch_losses, "k--", marker=".", lw=1, label="torch twin")
        ax.set_xlabel("SGD step")
        ax.set_ylabel(f"{self.loss_name} loss")
        ax.legend()
        return ax


def compare_training(
    model: MLP | None = None,
    xs: Sequence[Sequence[float]] = LECTURE_XS,
    ys: Sequence[float] = LECTURE_YS,
    *,
    steps: int = 20,
    learning_rate: float | Callable[[int], float] = 0.05,
    loss: str | LossFunction = "mse",
    rtol: float | None = None,
    atol: float | None = None,
) -> TrainingReport:
    """Train ``model`` (default: the lecture's ``MLP(3, [4, 4, 1], rng=0)``) and its torch
    twin for ``steps`` SGD steps on ``xs``/``ys``; compare loss and gradients at every
    step and the parameters at the end.

    ``loss`` is ``"mse"`` (the lecture's sum of squares), ``"hinge"`` (micrograd's demo)
    or a function ``loss(preds, ys, params)`` written once for engine values and
    tensors. ``learning_rate`` may be a function of the step number. ``model`` is
    trained in place; the report keeps the twin for plots and predictions.
    """
    if steps < 1:
        raise ValueError(f"compare_training needs at least one step, not {steps}")
    if model is None:
        model = MLP(len(xs[0]), [4, 4, 1], rng=0)
    if len(model.layers[-1].neurons) != 1:
        raise ValueError("compare_training needs a model with one output")
    loss_fn = LOSSES[loss] if isinstance(loss, str) else loss
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
    tolerance = Tolerance.of(rtol, atol)
    twin = torch_twin(model)
    params = model.parameters()
    names = parameter_names(model)
    inputs = torch.tensor([list(map(float, x)) for x in xs], dtype=torch.float64)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.0)
    records = []
    for k in range(steps):
        lr = float(learning_rate(k) if callable(learning_rate) else learning_rate)
        engine_loss = loss_fn([model(x) for x in xs], ys, params)
        for p in params:
            p.grad = 0.0
        engine_loss.backward()

        optimizer.zero_grad()
        torch_loss = loss_fn(list(twin(inputs)[:, 0].unbind()), ys, twin_parameters(twin))
        torch_loss.backward()
        torch_grads = _flat(twin, grad=True)
        engine_grads = np.array([p.grad for p in params])
        gaps = np.abs(engine_grads - torch_grads)
        size = _size(torch_grads)
        worst = int(np.nanargmax(gaps)) if np.isfinite(gaps).any() else 0
        records.append(
            StepRecord(
                step=k,
                learning_rate=lr,
                engine_loss=engine_loss.data,
                torch_loss=torch_loss.item(),
                loss_ok=tolerance.close(engine_loss.data, torch_loss.item()),
                grad_max_abs=float(gaps[worst]),
                grad_worst=names[worst],
                grads_ok=bool(tolerance.close_all(engine_grads, torch_grads, size).all()),
            )
        )
        for p in params:
            p.data -= lr * p.grad
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
    engine_final = np.array([p.data for p in params])
    torch_final = _flat(twin)
    final_ok = tolerance.close_all(engine_final, torch_final, _size(torch_final))
    finals = []
    for name, mine, theirs, ok in zip(names, engine_final, torch_final, final_ok):
        absolute, relative, _ = difference(float(mine), float(theirs))
        finals.append(ParameterRecord(name, float(mine), float(theirs), absolute, relative, bool(ok)))
    return TrainingReport(records, finals, tolerance, loss_name, model, twin)


def _size(vector: np.ndarray) -> float:
    """The largest finite magnitude: the scale a whole gradient or parameter vector is judged by."""
    finite = np.abs(vector[np.isfinite(vector)])
    return float(finite.max()) if finite.size else 0.0


def _flat(twin: torch.nn.Sequential, grad: bool = False) -> np.ndarray:
    """The twin's parameter values (or gradients) in the engine's order."""
    linears = _linears(twin)
    pairs = [(m.weight.grad, m.bias.grad) if grad else (m.weight, m.bias) for m in linears]
    return in_engine_order(pairs).detach().numpy()
