"""`compare_nudge`: one step along the gradient on both sides, then every node again.

The seed notebook's nudge is ``leaf.data += step * leaf.grad`` followed by a fresh
forward pass; with a positive step the root grows by about ``step * Σ grad²``. Here the
engine takes that step with its own gradients and re-evaluates itself (``recompute``),
torch takes it with its gradients and replays the graph, and the two are compared
node by node -- before the step (data and grad) and after it (data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..engine import Value, mark_nudged
from .comparison import both_sides, judge
from .mirror import Mirror
from .plan import LEAF, Plan, Resolver, make_plan, read_numbers
from .rendering import html_table, jsonable, nudge_sides, text_table
from .report import TABLE_ROWS, Columns, ParityReport, reproducer_text
from .tolerances import Tolerance
from .twin import gc_paused


@dataclass
class NudgeReport:
    """Both sides of a nudge: L before and after, the first-order prediction, two reports."""

    step: float
    leaves: list[int]  # the positions that were nudged
    before: ParityReport  # data and grad, before the step
    after: ParityReport  # data, after the step
    engine_before: float
    engine_after: float
    torch_before: float
    torch_after: float
    engine_predicted: float  # step * Σ grad² over the nudged leaves, engine's grads
    torch_predicted: float

    @property
    def ok(self) -> bool:
        return self.before.ok and self.after.ok

    @property
    def root_name(self) -> str:
        return self.before.names[-1]

    @property
    def summary(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        name = self.root_name
        return (
            f"nudge {verdict}: step {self.step:g} on {len(self.leaves)} leaves; "
            f"{name} {self.engine_before:.6f} -> {self.engine_after:.6f} (engine), "
            f"{self.torch_before:.6f} -> {self.torch_after:.6f} (torch); change "
            f"{self.engine_after - self.engine_before:+.6f}, first-order prediction step * sum(grad^2) "
            f"{self.engine_predicted:+.6f} (torch {self.torch_predicted:+.6f}).\n"
            f"Before: {self.before.summary}\nAfter: {self.after.summary}"
        )

    def _sides(self) -> list[list[str]]:
        return [
            ["engine", f"{self.engine_before!r}", f"{self.engine_after!r}", f"{self.engine_predicted!r}"],
            ["torch", f"{self.torch_before!r}", f"{self.torch_after!r}", f"{self.torch_predicted!r}"],
        ]

    _HEADERS = ("side", "before", "after", "predicted change")

    def __str__(self) -> str:
        return (
            f"{self.summary}\n\n{text_table(self._HEADERS, self._sides())}\n\n"
            f"after the nudge:\n{self.after.table()}"
        )

    def _repr_html_(self) -> str:
        sides = [[(cell, "tg-text" if k == 0 else "") for k, cell in enumerate(row)] for row in self._sides()]
        return html_table(self._HEADERS, sides, self.summary.splitlines()[0]) + self.after._repr_html_()

    def reproducer(self) -> str:
        """Python that rebuilds the graph as it was before the step and nudges it again."""
        names = self.before.names
        arguments = [f"step={self.step!r}"]
        if self.leaves != self.before.plan.leaf_positions():
            arguments.append(f"leaves=[{', '.join(names[i] for i in self.leaves)}]")
        return self.before.reproducer("compare_nudge", arguments)

    def failure_message(self) -> str:
        failing = [r.failure_message(reproducer=False) for r in (self.before, self.after) if not r.ok]
        parts = [self.summary, *failing]
        if len(self.before) <= TABLE_ROWS:
            parts.append(reproducer_text(self.reproducer))
        return "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "ok": self.ok,
                "summary": self.summary,
                "step": self.step,
                "leaves": self.leaves,
                **nudge_sides(
                    (self.engine_before, self.engine_after, self.engine_predicted),
                    (self.torch_before, self.torch_after, self.torch_predicted),
                ),
                "before": self.before.to_dict(rows="mismatched"),
                "after": self.after.to_dict(rows="mismatched"),
            }
        )

    def __repr__(self) -> str:
        return f"<NudgeReport step {self.step:g}: {'ok' if self.ok else 'mismatch'}>"


def compare_nudge(
    root: Any,
    step: float = 0.01,
    leaves: Iterable[Any] | None = None,
    *,
    backward: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    resolver: Resolver | None = None,
) -> NudgeReport:
    """Nudge ``leaves`` (default: every user leaf) by ``step * grad`` on both sides and compare.

    ``backward=True`` runs the engine's backward on fresh gradients first; with
    ``backward=False`` the engine steps along the gradients it holds (set by hand, say)
    while torch steps along its own. The engine's graph is left nudged, as the seed's
    cell leaves it. The engine must re-evaluate itself (``root.recompute()``); for one
    that cannot, `check_function` re-runs a function on nudged inputs instead.
    """
    if not callable(getattr(root, "recompute", None)):
        raise TypeError(
            f"compare_nudge needs an engine that re-evaluates its graph: {type(root).__name__} has no "
            "recompute(); use check_function to re-run a function on nudged inputs"
        )
    tolerance = Tolerance.of(rtol, atol)
    step = float(step)
    with gc_paused():
        plan = make_plan(root, resolver)
        positions = _leaf_positions(plan, leaves)
        columns = both_sides(plan, backward=backward)
        data_before, torch_data, grad_before, torch_grad = columns
        before = judge(
            plan, tolerance, columns, title="before the nudge", backward=backward, resolver=resolver
        )

        for i in positions:  # the seed's cell, on the engine's own numbers
            node = plan.nodes[i]
            node.data += step * node.grad
        root.recompute()
        if isinstance(root, Value):
            mark_nudged(root, root.data)  # a drawing of the graph now says its grads predate this
        data_after = read_numbers(plan.nodes, "data")

        torch_start = torch_data.copy()
        torch_start[positions] = _step(torch_data[positions], step, torch_grad[positions])
        mirror = Mirror(plan)
        mirror.run(torch_start, grad=False)
        torch_after = mirror.values()
        del mirror

        def stepped(leaf_positions: list[int]) -> np.ndarray:
            return _step(data_before[leaf_positions], step, grad_before[leaf_positions])

        misled = [i for i in positions if not before.row(i).grad_ok]  # stepped along a wrong gradient
        after = judge(
            plan, tolerance, Columns(data_after, torch_after, grad_before, torch_grad),
            grads=False, leaf_data=stepped, tainted=misled, title="after the nudge",
        )
        after.note = "after the nudge: data compared; grad (both sides) from before it"
    return NudgeReport(
        step=step,
        leaves=positions,
        before=before,
        after=after,
        engine_before=float(data_before[-1]),
        engine_after=float(data_after[-1]),
        torch_before=float(torch_data[-1]),
        torch_after=float(torch_after[-1]),
        engine_predicted=step * float(np.sum(grad_before[positions] ** 2)),
        torch_predicted=step * float(np.sum(torch_grad[positions] ** 2)),
    )


def _step(data: np.ndarray, step: float, grad: np.ndarray) -> np.ndarray:
    """``data + step * grad`` as torch computes it (a product, then a sum: no fused multiply-add)."""
    return (torch.from_numpy(data) + step * torch.from_numpy(grad)).numpy()


def _leaf_positions(plan: Plan, leaves: Iterable[Any] | None) -> list[int]:
    if leaves is None:
        return plan.leaf_positions()
    positions = []
    for node in leaves:
        try:
            i = plan.graph.position(node)
        except KeyError:
            raise ValueError(f"{node!r} is not a node of this graph") from None
        if plan.steps[i] is not LEAF:
            raise ValueError(f"{node!r} is a {plan.kind(i)}, not a user leaf: only leaves are nudged")
        positions.append(i)
    return positions
