"""A graph as Python source: names for its nodes, a line per node, a runnable reproducer.

Reports print expressions (``e = a * b``), failing fuzzer cases print snippets, and both
come from here, so a name in a report is the name in its reproducer. Names are the
nodes' labels where those are unique Python identifiers, otherwise ``n<position>``; a
constant used once beside a node is written inline as a number (``2.0 * x``), which is
how the engine met it.

A reproducer must fail the way the report did, so it rebuilds what the report saw, not
just the expression: with the engine that made the graph (twingrad's ``Value``, or
another engine's class imported by name: its own ``Value(x)`` and operators rebuild
it), with any node whose data was set by hand written back, and -- when the gradients
did not come from a ``backward()`` the check ran itself -- with every gradient as the
report read it, checked with ``backward=False``. What cannot be named in a fresh script
(a class defined in ``__main__`` or inside a function, a resolver made on the fly) is
refused with `NotReproducibleError`, which says why.
"""

from __future__ import annotations

import importlib.util
import keyword
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..ops import Op
from .plan import CONSTANT, LEAF, Plan

# Names the reproducer itself uses; a node labelled so is renamed.
_RESERVED = frozenset({"Value", "Constant", "math", "assert_parity", "resolver", "symbol_resolver"})


class NotReproducibleError(ValueError):
    """The report's graph cannot be rebuilt by a fresh script; the message says why."""


def literal(x: float) -> str:
    """``x`` as Python source for an operand: ``math.inf``, ``(-2.0)`` (so ``(-2.0) ** x``
    stays what it says)."""
    text = argument(x)
    return f"({text})" if text.startswith("-") else text


def argument(x: float) -> str:
    """``x`` as Python source where no operator is near: ``-3.0``, ``-math.inf``, ``math.nan``."""
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(float(x))


def importable(thing: Any) -> tuple[str, str]:
    """``(module, name)`` under which a fresh script imports ``thing`` (a class or function).

    Raises `NotReproducibleError` for what only exists in this process: things defined in
    ``__main__`` (a notebook cell, a script) or inside a function, or in a module that a
    fresh interpreter would not find.
    """
    module = getattr(thing, "__module__", None)
    name = getattr(thing, "__qualname__", None) or getattr(thing, "__name__", None)
    what = f"{name or thing!r} (module {module})"
    if not module or not name or "<" in name:
        raise NotReproducibleError(f"{what} is defined inside a function, so a fresh script cannot import it")
    if module == "__main__":
        raise NotReproducibleError(f"{what} is defined in __main__ (a notebook or script), so a fresh script "
                              "cannot import it; move it into a module")
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise NotReproducibleError(f"{what}: a fresh script would not find module {module!r} on its path")
    return module, name


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
    """The source of a planned graph, with the leaves' and constants' values in ``data``.

    ``engine`` is the class of the graph's nodes when it is not twingrad's: its leaves
    and constants are then written ``Value(x)`` (the one constructor every engine has),
    labels as attributes, and no constant inline (the engine may lack ``__rmul__``).
    """

    def __init__(
        self, plan: Plan, data: Sequence[float], names: list[str] | None = None, *, engine: type | None = None
    ) -> None:
        self.plan = plan
        self.data = [float(x) for x in data]
        self.names = names if names is not None else node_names(plan)
        self.engine = engine
        self.inline = [False] * len(plan)
        if engine is None:
            uses = Counter(j for ins in plan.operands for j in ins)
            for i, step in enumerate(plan.steps):
                if isinstance(step, Op) and step.arity == 2:
                    a, b = plan.operands[i]
                    for mine, other in ((a, b), (b, a)):
                        alone = plan.is_node(mine) and plan.steps[mine] is CONSTANT and uses[mine] == 1
                        if alone and _is_node_op(plan, other):
                            self.inline[mine] = True

    def operand(self, j: int) -> str:
        if not self.plan.is_node(j):
            return literal(self.plan.literal(j))
        return literal(self.data[j]) if self.inline[j] else self.names[j]

    def expression(self, i: int) -> str:
        """The right-hand side that builds node ``i``: ``a * b``, ``Value(2.0)``, ``2.0``."""
        step = self.plan.steps[i]
        if step is LEAF:
            label = _label(self.plan.nodes[i])
            suffix = f", label={label!r}" if label and self.engine is None else ""
            return f"Value({argument(self.data[i])}{suffix})"
        if step is CONSTANT:
            return f"{'Value' if self.engine else 'Constant'}({argument(self.data[i])})"
        ins = self.plan.operands[i]
        texts = [self.operand(j) for j in ins]
        if all(self._written_as_number(j) for j in ins):
            # numbers alone would compute a float, not a node
            first = ins[0]
            number = argument(self.data[first] if self.plan.is_node(first) else self.plan.literal(first))
            texts[0] = f"{'Value' if self.engine else 'Constant'}({number})"
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
            label = _label(node)
            if label and (self.engine is not None or isinstance(self.plan.steps[i], Op)):
                out.append(f"{name}.label = {label!r}")
        return out

    def hand_set_data(self) -> list[str]:
        """``name.data = x`` for every op node of twingrad's whose data is not what its op
        computes from its inputs: data set by hand, which rebuilding would lose."""
        if self.engine is not None:
            return []  # another engine computes its own data when the script rebuilds it
        out = []
        for i, step in enumerate(self.plan.steps):
            if isinstance(step, Op):
                computed = step.forward(*self.plan.operand_values(self.data, i))
                if not _same_float(computed, self.data[i]):
                    out.append(f"{self.names[i]}.data = {argument(self.data[i])}  # set by hand")
        return out

    def grad_lines(self, grads: Sequence[float]) -> list[str]:
        """``name.grad = g`` for every node but constants: the gradients a report saw."""
        return [
            f"{self.names[i]}.grad = {argument(float(grads[i]))}"
            for i, step in enumerate(self.plan.steps)
            if step is not CONSTANT and not self.inline[i]
        ]

    def engine_import(self) -> str:
        """The line that makes ``Value`` the graph's engine (`NotReproducibleError` if none can)."""
        if self.engine is None:
            return ""
        module, name = importable(self.engine)
        outer = name.split(".")[0]
        if outer == name:
            return f"from {module} import {name} as Value"
        return f"from {module} import {outer}\nValue = {name}"

    def source(
        self,
        check: str | None = "assert_parity",
        *,
        grads: Sequence[float] | None = None,
        arguments: Sequence[str] = (),
        imports: Sequence[str] = (),
    ) -> str:
        """A runnable snippet that rebuilds the graph and, with ``check``, runs that check on it.

        ``grads`` (one per node) are written into the rebuilt nodes before the check;
        ``arguments`` are passed to it (``"backward=False"``), after ``imports``.
        """
        body = self.lines() + self.hand_set_data()
        if grads is not None:
            body += self.grad_lines(grads)
        call = ", ".join([self.names[-1], *arguments])
        text = "\n".join([*body, call])
        head = ["import math"] if "math." in text else []
        if self.engine is None:
            engine = ["Value"] + (["Constant"] if "Constant(" in text else [])
            head.append(f"from twingrad import {', '.join(sorted(engine))}")
        else:
            head.append(self.engine_import())
        tail = []
        if check:
            head.append(f"from twingrad.parity import {check}")
            # assert_parity raises by itself; any other check returns a report to assert on.
            tail = ["", f"{check}({call})"] if check.startswith("assert_") else [
                "", f"report = {check}({call})", "assert report.ok, report.failure_message()"]
        return "\n".join([*head, *imports, "", *body, *tail]) + "\n"

    def build(self) -> Any:
        """Run the snippet (without the check) and return its root."""
        namespace: dict[str, Any] = {}
        exec(compile(self.source(check=None), "<recipe>", "exec"), namespace)
        return namespace[self.names[-1]]


def _label(node: Any) -> str:
    label = getattr(node, "label", "")
    return label if isinstance(label, str) else ""


def _same_float(x: float, y: float) -> bool:
    return x == y or (math.isnan(x) and math.isnan(y))


def _is_node_op(plan: Plan, j: int) -> bool:
    """Is operand ``j`` a node that is not a constant (a leaf or an op's result)?"""
    return plan.is_node(j) and plan.steps[j] is not CONSTANT
