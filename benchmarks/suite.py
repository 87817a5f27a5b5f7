"""The table of workloads: which engines run each one, and what to expect of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from benchmarks.rivals import MICROGRAD, TORCH, mlp_sample_vectorised, moons_step_vectorised
from benchmarks.workloads import (
    TWINGRAD,
    Engine,
    Run,
    deep_chain,
    fan_out,
    mlp_sample,
    moons_hessian_vector,
    moons_step,
    neuron,
    parity_compare,
    seed,
    tanh_chain,
    training,
)

ENGINES: dict[str, Engine] = {e.name: e for e in (TWINGRAD, TORCH, MICROGRAD)}
VECTORISED = "torch vectorised"


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
        "moons-hvp", "moons loss: Hessian-vector product by double backward", moons_hessian_vector,
        ("twingrad", "torch scalar"), note="micrograd 0.1.0 cannot differentiate a gradient: not run there",
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
    Workload(
        "parity-compare", "parity.compare on the moons step (twingrad row) vs torch alone", parity_compare,
        ("twingrad", "torch scalar"),
        note="twingrad's row is the whole check: engine graph, backward, torch twin, verdict per node",
    ),
)

WORKLOADS_BY_NAME: dict[str, Workload] = {w.name: w for w in WORKLOADS}


# The workloads an engine failed on, as the results file records them (conftest writes them out).
FAILED = pytest.StashKey[list[dict[str, str]]]()


def record_failure(config: pytest.Config, workload: Workload, engine: str, error: str) -> None:
    config.stash.setdefault(FAILED, []).append(
        {"workload": workload.name, "title": workload.title, "engine": engine, "error": error,
         "note": workload.note}
    )


def cases(exclude: str = "") -> list[Any]:
    """pytest parameters (workload name, engine), one per engine each workload runs on."""
    return [
        pytest.param(w.name, engine, id=f"{w.name}-{engine.replace(' ', '-')}")
        for w in WORKLOADS
        for engine in w.all_engines
        if engine != exclude
    ]
