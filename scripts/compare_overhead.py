"""How much `compare` costs against torch alone, on micrograd's training-step graph.

The graph is one step of micrograd's demo: a 2-16-16-1 MLP (relu hidden layers, linear
output) on 100 two-moons points, the mean hinge loss ``(1 + -y*score).relu()`` plus
``1e-4 * sum(p*p)`` -- about 69k nodes. "Torch alone" builds the same scalar graph from
0-dim float64 tensors (inputs as plain floats, as a torch user writes it) and runs
backward. `compare` is timed on an engine graph built beforehand (it traces, runs the
engine's backward, replays the graph in torch, runs torch's backward and judges every
node). Runs alternate and the medians are reported.

    .venv/bin/python scripts/compare_overhead.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from twingrad.examples import make_moons
from twingrad.nn import MLP
from twingrad.parity import compare
from twingrad.parity.training import hinge


def step_loss(model: Callable[[Sequence[Any]], Any], params: list[Any], xs: Any, ys: Any) -> Any:
    """One training step's loss: written once for engine Values and torch tensors."""
    return hinge([model(x) for x in xs], ys, params)


class ScalarTorchMLP:
    """The engine's MLP as 0-dim torch tensors, computed in the engine's order."""

    def __init__(self, model: MLP) -> None:
        def leaf(v: Any) -> torch.Tensor:
            return torch.tensor(v.data, dtype=torch.float64, requires_grad=True)

        self.layers = [
            [([leaf(w) for w in n.w], leaf(n.b), n.activation) for n in layer.neurons]
            for layer in model.layers
        ]

    def __call__(self, x: Sequence[Any]) -> Any:
        for layer in self.layers:
            out = []
            for w, b, activation in layer:
                act = b
                for wi, xi in zip(w, x):
                    act = act + wi * xi
                out.append(act if activation == "linear" else act.relu())
            x = out
        return x[0]

    def parameters(self) -> list[torch.Tensor]:
        return [p for layer in self.layers for w, b, _ in layer for p in (*w, b)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    xs, ys = make_moons(100, noise=0.1, rng=0)
    model = MLP(2, [16, 16, 1], activation="relu", output_activation="linear", rng=0)
    loss = step_loss(model, model.parameters(), xs, ys)
    twin = ScalarTorchMLP(model)

    def torch_alone() -> None:
        step_loss(twin, twin.parameters(), xs, ys).backward()

    def parity() -> None:
        report = compare(loss)
        assert report.ok, report.summary

    report = compare(loss)
    print(f"graph: {len(report)} nodes; {report.summary}")
    times: dict[str, list[float]] = {"torch alone": [], "compare": []}
    for _ in range(args.repeats):
        for name, run in (("torch alone", torch_alone), ("compare", parity)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f"{name:12s} median {medians[name]:.3f} s  (min {min(ts):.3f}, max {max(ts):.3f}, n={len(ts)})")
    print(f"compare / torch alone = {medians['compare'] / medians['torch alone']:.2f}")


if __name__ == "__main__":
    main()
