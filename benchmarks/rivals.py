"""The engines twingrad is measured against, and the MLP workloads as tensor code.

* ``torch scalar`` -- torch autograd on the identical graph of 0-d float64 tensors,
  one thread;
* ``micrograd`` -- micrograd 0.1.0 from PyPI, which has no ``tanh`` or ``exp`` and whose
  recursive topological sort overflows near 1000 levels of depth;
* ``torch vectorised`` -- the MLP workloads written as idiomatic tensor code: what
  tensors buy, shown for context, not a race on the same graph.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from micrograd.engine import Value as MicrogradValue

from benchmarks.workloads import MOONS, Engine, Outcome, Run, clear_grads, demo_model
from twingrad.nn import MLP
from twingrad.parity.training import in_engine_order, mlp_tensors

# Scalar autograd gains nothing from threads, and the machine is shared.
torch.set_num_threads(1)


def _torch_leaf(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def _torch_grad(t: torch.Tensor) -> float:
    return 0.0 if t.grad is None else t.grad.item()


def _torch_clear_grads(tensors: Sequence[torch.Tensor]) -> None:
    for t in tensors:
        t.grad = None


TORCH = Engine("torch scalar", _torch_leaf, lambda t: t.item(), _torch_grad, _torch_clear_grads)
MICROGRAD = Engine(
    "micrograd", MicrogradValue, lambda v: float(v.data), lambda v: float(v.grad), clear_grads
)


# -- the same MLP as idiomatic tensor code (context) -------------------------------------------


def tensor_layers(model: MLP) -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    """(weight matrix, bias vector, activation) per layer, float64, requiring grad."""
    return [(w.requires_grad_(), b.requires_grad_(), act) for w, b, act in mlp_tensors(model)]


def tensor_forward(layers: list[tuple[torch.Tensor, torch.Tensor, str]], x: torch.Tensor) -> torch.Tensor:
    for w, b, activation in layers:
        x = x @ w.T + b
        if activation != "linear":
            x = getattr(x, activation)()
    return x


def tensor_grads(layers: list[tuple[torch.Tensor, torch.Tensor, str]]) -> list[float]:
    """The gradients in `MLP.parameters` order: each neuron's weights, then its bias."""
    return in_engine_order((w.grad, b.grad) for w, b, _ in layers).tolist()


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
