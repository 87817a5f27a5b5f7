"""The scalar autograd engine: `Value`, a node of a computation graph.

Read this with the micrograd lecture in mind. A `Value` holds a float (``data``), the
derivative of some output with respect to it (``grad``), a ``label`` for drawings, and
-- when an operation produced it -- that operation (``_op``, an entry of the op table in
`twingrad.ops`) and its one or two inputs.

Three differences from micrograd, each for a reason:

* Nodes keep no closure. Each records which op made it; backward looks the derivative
  up in the op table, so the mirror, the drawing and the checker can read the same
  record. The operator methods themselves (``__add__``, ``tanh`` ...) are generated
  from the table at the bottom of this file.
* Inputs are two slots, ``_a`` and ``_b``, not a tuple or set. A set loses ``a + a``'s
  second edge; a tuple per node doubles the objects Python's garbage collector must
  walk, which was the largest single cost of a training step. ``_prev`` gives the
  ordered tuple view for code written against micrograd.
* Graph walks use an explicit stack, never recursion, so a million-node chain works.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from .ops import OPS, Op

_LEAF = ""  # the `_op` of a node no operation produced, as in the seed


class Value:
    """A scalar in a computation graph.

    >>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
    >>> L = a * b + 1; L.backward(); (L.data, a.grad, b.grad)
    (-5.0, -3.0, 2.0)
    """

    __slots__ = ("data", "grad", "label", "_op", "_a", "_b")

    data: float
    grad: float
    label: str
    _op: str  # an `Op`, or "" for a leaf
    _a: Value | None  # first input
    _b: Value | None  # second input (binary ops only)

    def __init__(self, data: Any, label: str = "") -> None:
        self.data = _as_float(data, "Value data")
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, not {type(label).__name__}")
        self.grad = 0.0
        self.label = label
        self._op = _LEAF
        self._a = None
        self._b = None

    # -- structure -----------------------------------------------------------------

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The inputs in order, duplicates kept: ``(a + a)._prev == (a, a)``."""
        if self._a is None:
            return ()
        if self._b is None:
            return (self._a,)
        return (self._a, self._b)

    @property
    def is_leaf(self) -> bool:
        return self._a is None

    @property
    def is_constant(self) -> bool:
        """True for a number lifted into the graph, like the ``2`` in ``2 * x``."""
        return False

    def __repr__(self) -> str:
        parts = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self.label:
            parts.append(f"label={self.label!r}")
        if self._op:
            parts.append(f"op={str(self._op)!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- backward --------------------------------------------------------------------

    def backward(self) -> None:
        """Fill ``grad`` of every node with d(self)/d(node), as torch does.

        Like ``torch.Tensor.backward(retain_graph=True)`` with ``retain_grad()`` on every
        node: each call propagates a fresh gradient and *adds* it to what ``grad`` held,
        so calling it twice doubles every gradient. (micrograd instead re-propagates the
        intermediates' accumulated grads, which counts the first call again.)
        """
        backpropagate(self, topological_order(self))

    def zero_grad(self) -> None:
        """Set ``grad`` to 0 on every node of this graph."""
        _nudged.pop(id(self), None)
        for node in topological_order(self):
            node.grad = 0.0

    def recompute(self) -> float:
        """Recompute every node's ``data`` from the leaves, in place; return the new value.

        Change some leaves' data, call this on the root, and the whole graph reflects
        them -- no need to rebuild the expression as the seed notebook does.
        """
        for node in topological_order(self):
            op = node._op
            if op:
                b = node._b
                if b is None:
                    node.data = op.forward(node._a.data)  # type: ignore[union-attr, attr-defined]
                else:
                    node.data = op.forward(node._a.data, b.data)  # type: ignore[union-attr, attr-defined]
        return self.data


class Constant(Value):
    """A plain number lifted into the graph (the ``2`` in ``2 * x``, the ``0`` of ``sum``).

    It is a leaf with a value, not a parameter: `leaves` and `nudge` skip it, and the
    torch mirror passes it as a tensor without ``requires_grad``. Backward still writes
    d(root)/d(constant) into its ``grad``, like any leaf; parity does not compare it.
    """

    __slots__ = ()

    @property
    def is_constant(self) -> bool:
        return True


def _as_float(x: Any, what: str) -> float:
    """``x`` as a float if it is a real number (int, float, bool, numpy scalar ...)."""
    if type(x) is float:
        return x
    # Plain ints before the ABC check, which costs more than building a node.
    if type(x) is int or isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(
        f"{what} must be a real number (int, float, bool ...), not {type(x).__name__}: {x!r}"
    )


def _lift(x: Any) -> Value:
    """An operand as a node: a Value as is, a real number as a `Constant`."""
    if isinstance(x, Value):
        return x
    # Plain floats and ints skip the ABC check, which costs more than the Constant itself.
    if type(x) is not float and type(x) is not int and not isinstance(x, numbers.Real):
        raise TypeError(
            "unsupported operand for Value: expected a Value or a real number, "
            f"not {type(x).__name__}: {x!r}"
        )
    return Constant(x)


# -- graph walks ---------------------------------------------------------------------------


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from ``root``, each after its inputs; ``root`` is last.

    An iterative depth-first search: a node is emitted once both inputs have been, the
    first input's subgraph before the second's, so nodes come in the order the
    expression is written (``leaves(a * b + c)`` is ``[a, b, c]``) -- the order of
    `twingrad.graph.trace`, which walks any micrograd-style graph through ``_prev``;
    this one reads the two input slots directly because backward runs it on every call.
    """
    order: list[Value] = []
    done: set[Value] = set()
    stack = [root]
    while stack:
        node = stack[-1]
        if node in done:
            stack.pop()
            continue
        a = node._a
        b = node._b
        waiting = False
        # The second input goes on the stack first, so that the first is walked first.
        if b is not None and b not in done:
            stack.append(b)
            waiting = True
        if a is not None and a not in done:
            stack.append(a)
            waiting = True
        if waiting:
            continue
        done.add(node)
        order.append(node)
        stack.pop()
    return order


def backpropagate(root: Value, order: list[Value]) -> None:
    """`Value.backward` along ``order``, the `topological_order` of ``root``.

    Separate from the method only so that `twingrad.parity`, which has walked the graph
    already, need not walk a large one twice.
    """
    _nudged.pop(id(root), None)  # fresh gradients: a drawing need no longer warn
    # Set any earlier gradients aside so only this call's gradient propagates.
    carried = []
    for node in order:
        if node.grad:
            carried.append((node, node.grad))
            node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        op = node._op
        if not op:
            continue  # a leaf: nothing below it
        a = node._a
        b = node._b
        if b is None:
            a.grad += op.grad(node.grad, node.data, a.data)  # type: ignore[union-attr]
        else:
            grad_a, grad_b = op.grad(node.grad, node.data, a.data, b.data)  # type: ignore[union-attr]
            a.grad += grad_a  # type: ignore[union-attr]
            b.grad += grad_b
    for node, earlier in carried:
        node.grad += earlier


def grad(output: Value, inputs: Value | Sequence[Value], create_graph: bool = False) -> Any:
    """d(output)/d(input) for each of ``inputs``, without touching any ``.grad``.

    ``inputs`` is one node or a sequence of nodes (leaves or intermediates), and the
    result has the same shape: one gradient, or a list of them. An input the output
    does not depend on gets 0, as ``backward()`` leaves it (torch raises there unless
    told ``allow_unused``).

    ``create_graph=False`` gives floats, the numbers ``backward()`` would write into
    ``.grad``, bit for bit. ``create_graph=True`` gives Values: the backward pass built
    as a graph of the table's ops (each op's derivative rule applied to the nodes
    themselves), which can be drawn, compared with torch, and differentiated again,
    to any order -- like ``torch.autograd.grad(..., create_graph=True)``.

    >>> x = Value(3.0); y = x * x * x
    >>> dy = grad(y, x, create_graph=True); d2y = grad(dy, x, create_graph=True)
    >>> dy.data, d2y.data, grad(d2y, x)
    (27.0, 18.0, 6.0)
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad: output must be a Value, not {type(output).__name__}")
    single = isinstance(inputs, Value)
    wanted = [inputs] if single else list(inputs)
    for k, node in enumerate(wanted):
        if not isinstance(node, Value):
            raise TypeError(f"grad: input {k} must be a Value, not {type(node).__name__}")
    if not isinstance(create_graph, bool):
        raise TypeError(f"grad: create_graph must be True or False, not {create_graph!r}")
    totals = _gradients(output, topological_order(output), create_graph)
    zero = Constant(0.0) if create_graph else 0.0
    found = [totals.get(node, zero) for node in wanted]
    return found[0] if single else found


def backward_graph(output: Value, inputs: Sequence[Value]) -> tuple[list[Value], dict[Value, Value | None]]:
    """``grad(output, inputs, create_graph=True)``, and where each node of it came from.

    The second result maps every node of the gradients' graphs to the node of
    ``output``'s graph whose backward step made it -- its op's derivative rule, and the
    additions of its shares into its inputs' gradients (the seed 1 is the output's) --
    and the forward nodes themselves to None. It is what a drawing needs to show the
    backward pass beside the forward one.
    """
    wanted = list(inputs)
    order = topological_order(output)
    origins: dict[Value, Value | None] = dict.fromkeys(order)
    totals = _gradients(output, order, True, origins)
    zero = Constant(0.0)
    found = [totals.get(node, zero) for node in wanted]
    _claim(origins, found, None)  # the zero of an unused input: nobody's
    return found, origins


def _gradients(
    root: Value, order: list[Value], as_graph: bool, origins: dict[Value, Value | None] | None = None
) -> dict[Value, Any]:
    """d(root)/d(node) for every node of ``order``: floats, or Values built from the table.

    The walk of `backpropagate`, with the totals kept in a dict instead of ``.grad``.
    The same rule runs in both modes (see `twingrad.ops`): on the nodes' numbers, or on
    the nodes themselves. Contributions are added in backward's order, so the numbers
    are backward's to the last bit (up to the sign of a zero with ``as_graph``).
    ``origins`` (graph mode) collects which forward node each new node is due to.
    """
    totals: dict[Value, Any] = {root: Constant(1.0) if as_graph else 1.0}
    if origins is not None:
        _claim(origins, [totals[root]], root)
    for node in reversed(order):
        op = node._op
        if not op:
            continue
        g = totals[node]  # every node of `order` but the root feeds one processed before it
        a = node._a
        b = node._b
        if as_graph:
            shares = (op.grad(g, node, a),) if b is None else op.grad(g, node, a, b)  # type: ignore[attr-defined]
        elif b is None:
            shares = (op.grad(g, node.data, a.data),)  # type: ignore[attr-defined, union-attr]
        else:
            shares = op.grad(g, node.data, a.data, b.data)  # type: ignore[attr-defined, union-attr]
        for source, share in zip((a, b), shares):
            if source in totals:
                totals[source] = totals[source] + share
            elif as_graph:
                # A rule returns a plain number where the derivative is a constant (relu's
                # mask, a zero exponent): lifted, it is a node whose own derivative is 0.
                totals[source] = share if isinstance(share, Value) else Constant(share)
            else:
                totals[source] = 0.0 + share  # as backward's `+=` onto a zeroed .grad
            if origins is not None:
                _claim(origins, [totals[source]], node)
    return totals


def _claim(origins: dict[Value, Value | None], nodes: list[Value], origin: Value | None) -> None:
    """Attribute to ``origin`` every node reachable from ``nodes`` that has no origin yet."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node in origins:
            continue
        origins[node] = origin
        stack.extend(n for n in (node._a, node._b) if n is not None)


def leaves(root: Value) -> list[Value]:
    """The user's leaves under ``root`` (constants excluded), in topological order."""
    return [n for n in topological_order(root) if n._a is None and not n.is_constant]


def nudge(root: Value, step: float = 0.01) -> float:
    """The seed's nudge cell in one call: ``leaf.data += step * leaf.grad``, re-evaluate.

    Moves every user leaf along its gradient (constants stay put), recomputes the
    graph and returns the new ``root.data``. With a positive step and the gradients of
    ``root.backward()``, the first-order change of ``root`` is ``step * Σ grad²``.
    """
    step = _as_float(step, "nudge step")
    for leaf in leaves(root):
        leaf.data += step * leaf.grad
    return mark_nudged(root, root.recompute())


# Roots that a nudge moved since their last backward(), by id, with the data the root had
# right after: a drawing then says that the gradients it shows predate the nudge. The
# root is not held (nudging must not keep a graph alive); the data guards against a new
# object at a recycled address.
_nudged: dict[int, float] = {}


def mark_nudged(root: Any, data: float) -> float:
    """Record that ``root``'s leaves were nudged to give ``data``; return ``data``."""
    _nudged[id(root)] = data
    return data


def gradients_predate_nudge(root: Any) -> bool:
    """Were ``root``'s leaves nudged after its last ``backward()``?"""
    data = _nudged.get(id(root))
    return data is not None and (data == root.data or (data != data and root.data != root.data))


# -- operator methods, generated from the op table ------------------------------------------

_new = object.__new__


def _unary_method(op: Op) -> Any:
    # `op.forward` is read on every call, as backward reads `op.grad`: the table stays
    # the live definition (a patched entry changes building and recompute alike).
    def method(self: Value) -> Value:
        out = _new(Value)
        out.data = op.forward(self.data)
        out.grad = 0.0
        out.label = ""
        out._op = op
        out._a = self
        out._b = None
        return out

    return method


def _binary_method(op: Op) -> Any:
    def method(self: Value, other: Any) -> Value:
        # `type(...) is Value` is the fast path; constants and subclasses go through _lift.
        if type(other) is not Value:
            other = _lift(other)
        out = _new(Value)
        out.data = op.forward(self.data, other.data)
        out.grad = 0.0
        out.label = ""
        out._op = op
        out._a = self
        out._b = other
        return out

    return method


def _reflected_method(method: Any) -> Any:
    """Python's ``__radd__`` and kin, for ``2 * x``: the number is recorded first, as written."""

    def reflected(self: Value, other: Any) -> Value:
        return method(_lift(other), self)

    return reflected


def _install_op_methods() -> None:
    for op in OPS:
        if op.arity == 1:
            methods = [(name, _unary_method(op), op.format("self")) for name in op.methods]
        else:
            method = _binary_method(op)
            methods = [
                (op.methods[0], method, op.format("self", "other")),
                (op.methods[1], _reflected_method(method), op.format("other", "self")),
            ]
        for method_name, method, expression in methods:
            method.__name__ = method_name
            method.__qualname__ = f"Value.{method_name}"
            method.__doc__ = f"{expression}: {op.doc}" + (f"\n\n{op.notes}" if op.notes else "")
            setattr(Value, method_name, method)


_install_op_methods()


def _check_rules_build_graphs() -> None:
    """Refuse to import unless every op's derivative rule also runs on Values, gives there
    the number it gives on floats, and builds a graph whose own derivative is the slope
    of the float rule (a rule that returns the right number as a constant would be right
    at first order only): the gradient graph is then the backward pass."""
    point = (0.7, 1.3)
    step = 1e-6
    for op in OPS:
        numbers = point[: op.arity]
        where = f"op table entry {op.name!r}"
        nodes = [Value(x) for x in numbers]
        out = getattr(nodes[0], op.methods[0])(*nodes[1:])
        try:
            built = _shares(op.grad(Constant(0.5), out, *nodes))
        except (TypeError, AttributeError) as error:
            raise ValueError(
                f"{where}: its derivative rule does not run on Values ({error}); "
                "write it with the vocabulary of twingrad.ops (div, power, log, sin, cos, sign, number)"
            ) from None
        for j, (expected, share) in enumerate(zip(_float_shares(op, numbers), built)):
            got = share.data if isinstance(share, Value) else share
            if got != expected:
                raise ValueError(f"{where}: its rule gives {got!r} on Values, {expected!r} on floats")
            for k in range(op.arity):
                up, down = list(numbers), list(numbers)
                up[k] += step
                down[k] -= step
                slope = (_float_shares(op, up)[j] - _float_shares(op, down)[j]) / (2 * step)
                derivative = grad(share, nodes[k]) if isinstance(share, Value) else 0.0
                if abs(derivative - slope) > 1e-5 * max(1.0, abs(slope)):
                    raise ValueError(
                        f"{where}: the graph of its derivative rule has slope {derivative!r} along input "
                        f"{k}, but the rule on floats changes at {slope!r}: a number where a graph belongs?"
                    )


def _shares(found: Any) -> tuple[Any, ...]:
    return found if isinstance(found, tuple) else (found,)


def _float_shares(op: Op, numbers: Sequence[float]) -> tuple[float, ...]:
    return _shares(op.grad(0.5, op.forward(*numbers), *numbers))


_check_rules_build_graphs()
