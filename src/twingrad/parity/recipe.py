"""A graph as Python source: names for its nodes, a line per node, a runnable reproducer.

Reports print expressions (``e = a * b``), failing fuzzer cases print snippets, and both
come from here, so a name in a report is the name in its reproducer. Names are the
nodes' labels where those are unique Python identifiers, otherwise ``n<position>``; a
constant used once beside a node is written inline as a number (``2.0 * x``), which is
how the engine met it.
"""

from __future__ import annotations

import keyword
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..ops import Op
from .plan import CONSTANT, LEAF, Plan

# Names the reproducer itself uses; a node labelled so is renamed.
_RESERVED = frozenset({"Value", "Constant", "math", "assert_parity"})


def literal(x: float) -> str:
    """``x`` as Python source that evaluates to the same float (``math.inf``, ``(-2.0)``)."""
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "(-math.inf)"
    text = repr(float(x))
    # Parenthesised so that `(-2.0) ** x` stays what it says.
    return f"({text})" if text.startswith("-") else text


def node_names(plan: Plan) -> list[str]:
    """A unique Python identifier for every node, from its label where possible."""
    labels = [str(getattr(node, "label", "") or "") for node in plan.nodes]
    usable = [
        label.isidentifier() and not keyword.iskeyword(label) and label not in _RESERVED for label in labels
    ]
    counts = Counter(label for label, ok in zip(labels, usable) if ok)
    names = []
    for i, (label, ok) in enumerate(zip(labels, usable)):
        if not ok:
            names.append(f"n{i}")
        else:
            names.append(label if counts[label] == 1 else f"{label}_{i}")
    # A label may collide with another node's generated name ("n3"): number it away.
    taken: set[str] = set()
    for i, name in enumerate(names):
        while name in taken:
            name = f"{name}_{i}"
        taken.add(name)
        names[i] = name
    return names


class Recipe:
    """The source of a planned graph, with the leaves' and constants' values in ``data``."""

    def __init__(self, plan: Plan, data: Sequence[float], names: list[str] | None = None) -> None:
        self.plan = plan
        self.data = [float(x) for x in data]
        self.names = names if names is not None else node_names(plan)
        uses = Counter(j for ins in plan.operands for j in ins)
        n = len(plan)
        self.inline = [False] * n
        for i, step in enumerate(plan.steps):
            if isinstance(step, Op) and step.arity == 2:
                a, b = plan.operands[i]
                for mine, other in ((a, b), (b, a)):
                    alone = plan.is_node(mine) and plan.steps[mine] is CONSTANT and uses[mine] == 1
                    if alone and _is_node_op(plan, other):
                        self.inline[mine] = True

    def operand(self, j: int) -> str:
        if not self.plan.is_node(j):
            return literal(self.plan.with_literals(self.data)[j])
        return literal(self.data[j]) if self.inline[j] else self.names[j]

    def expression(self, i: int) -> str:
        """The right-hand side that builds node ``i``: ``a * b``, ``Value(2.0)``, ``2.0``."""
        step = self.plan.steps[i]
        if step is LEAF:
            label = str(getattr(self.plan.nodes[i], "label", "") or "")
            suffix = f", label={label!r}" if label else ""
            return f"Value({literal(self.data[i])}{suffix})"
        if step is CONSTANT:
            return f"Constant({literal(self.data[i])})"
        ins = self.plan.operands[i]
        texts = [self.operand(j) for j in ins]
        if all(self._written_as_number(j) for j in ins):
            texts[0] = f"Constant({texts[0]})"  # numbers alone would compute a float, not a node
        return step.format(*texts)  # type: ignore[union-attr]

    def _written_as_number(self, j: int) -> bool:
        return not self.plan.is_node(j) or self.inline[j]

    def lines(self) -> list[str]:
        out = []
        for i, node in enumerate(self.plan.nodes):
            if self.inline[i]:
                continue
            name = self.names[i]
            out.append(f"{name} = {self.expression(i)}")
            label = str(getattr(node, "label", "") or "")
            if label and isinstance(self.plan.steps[i], Op):
                out.append(f"{name}.label = {label!r}")
        return out

    def source(self, check: str | None = "assert_parity") -> str:
        """A runnable snippet that rebuilds the graph and, with ``check``, runs that check on it."""
        body = self.lines()
        text = "\n".join(body)
        imports = ["import math"] if "math." in text else []
        engine = ["Value"] + (["Constant"] if "Constant(" in text else [])
        imports.append(f"from twingrad import {', '.join(sorted(engine))}")
        tail = []
        if check:
            imports.append(f"from twingrad.parity import {check}")
            tail = ["", f"{check}({self.names[-1]})"]
        return "\n".join([*imports, "", *body, *tail]) + "\n"

    def build(self) -> Any:
        """Run the snippet (without the check) and return its root."""
        namespace: dict[str, Any] = {}
        exec(compile(self.source(check=None), "<recipe>", "exec"), namespace)
        return namespace[self.names[-1]]


def _is_node_op(plan: Plan, j: int) -> bool:
    """Is operand ``j`` a node that is not a constant (a leaf or an op's result)?"""
    return plan.is_node(j) and plan.steps[j] is not CONSTANT
