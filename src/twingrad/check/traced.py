"""An observation of the engine's graph, rebuilt in the parent as plain micrograd-style nodes.

The worker reports nodes as numbers and ids (`protocol.Observation`); `rebuild` turns
them back into objects with ``data``, ``grad``, ``_prev``, ``_op`` and ``label``, so that
everything twingrad already does with any micrograd-style graph -- mirror it in torch,
compare node by node, name the first divergence, draw it -- works on an engine that
runs in another process, or in another language. These nodes hold only what the worker
said: no code of the engine comes with them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .protocol import Observation


class UnorderedInputs(frozenset):  # type: ignore[type-arg]
    """Inputs an engine kept in a set: unordered for the resolvers (they test for a frozenset),
    but always iterated in one canonical order, so a report reads the same on every run."""

    _order: tuple[TracedValue, ...]

    def __new__(cls, items: tuple[TracedValue, ...]) -> UnorderedInputs:
        made = super().__new__(cls, items)
        made._order = items
        return made

    def __iter__(self) -> Iterator[TracedValue]:
        return iter(self._order)


class TracedValue:
    """One node as the worker reported it."""

    __slots__ = ("data", "grad", "_prev", "_op", "label", "trace_id")

    def __init__(self, trace_id: int, data: float, grad: float | None, op: str, label: str) -> None:
        self.trace_id = trace_id
        self.data = data
        self.grad = grad
        self._op = op
        self.label = label
        self._prev: tuple[TracedValue, ...] | UnorderedInputs = ()

    def backward(self) -> None:  # what makes a node "micrograd-style"; the engine's own already ran
        raise TypeError("a traced node holds the engine's numbers; it cannot run backward()")

    def __repr__(self) -> str:
        return f"TracedValue(data={self.data!r}, grad={self.grad!r}, op={self._op!r})"


def rebuild(observation: Observation, rank: Mapping[int, int] | None = None) -> dict[int, TracedValue]:
    """Nodes by id, linked as the engine linked them. ``rank`` orders unordered inputs (the
    program step that made each node); unranked ones follow by their numbers."""
    rank = rank or {}
    unranked = len(rank) + 1

    def canonical(v: TracedValue) -> tuple[int, str, str]:
        return rank.get(v.trace_id, unranked), repr(v.data), v._op

    nodes = {i: TracedValue(i, n.data, n.grad, n.op, n.label) for i, n in observation.nodes.items()}
    for i, n in observation.nodes.items():
        inputs = tuple(nodes[j] for j in n.inputs)
        if n.unordered:
            nodes[i]._prev = UnorderedInputs(tuple(sorted(inputs, key=canonical)))
        else:
            nodes[i]._prev = inputs
    return nodes
