"""The torch twin of an engine graph: the same nodes replayed in float64 from the op table.

Mirroring happens in two steps, so that any micrograd-style engine can be mirrored:

1. **Resolve.** `trace` numbers the nodes; a *resolver* then says, node by node, what each
   one is: a user leaf (`Kind.LEAF`, mirrored as a tensor with ``requires_grad``), a
   constant (`Kind.CONSTANT`, a tensor without it), or an op of the table applied to
   operands: ``(op, operands)``. ``operands`` is ``None`` when they are the node's inputs
   exactly as traced (an ordered ``_prev``), or a sequence whose items are either input
   nodes or plain numbers -- numbers the node holds outside its ``_prev``, like the 2 of
   micrograd's ``'**2'``. The result is a `Plan`.
2. **Replay.** `Mirror` runs the plan on torch tensors with each op's ``torch`` entry and
   asks torch for the gradient of the root with respect to every differentiable node.

The default resolver, `resolve_node`, reads twingrad's own nodes (their ``_op`` *is* a
table entry) and the ``_op`` strings of other engines: table symbols and names in any
case (``'+'``, ``'*'``, ``'tanh'``, ``'ReLU'``), ``'**k'`` for a power by a number,
``'+'`` or ``'*'`` over a single input for ``x + x`` / ``x * x`` (a set ``_prev`` keeps
one copy), and a lone ``'-'`` for negation. It refuses to guess what it cannot know (the
order of a set's two inputs to ``-``, ``/`` or ``**``) and raises `ResolveError`.
`symbol_resolver` builds one with extra spellings; a fully custom resolver is any
callable ``node -> Kind | (Op, operands | None)``, passed as ``compare(root,
resolver=...)``.
"""

from __future__ import annotations

import contextlib
import enum
import gc
import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import torch

from ..graph import Graph, trace
from ..ops import OPS, Op, op_named

F64 = torch.float64


class Kind(str, enum.Enum):
    """What a node is, apart from an op: a user leaf or a constant."""

    LEAF = "leaf"
    CONSTANT = "constant"


LEAF = Kind.LEAF
CONSTANT = Kind.CONSTANT

Resolution: TypeAlias = Kind | tuple[Op, Sequence[Any] | None]
Resolver: TypeAlias = Callable[[Any], Resolution]


class ResolveError(ValueError):
    """A node the resolver cannot express as an op of the table."""


# -- resolvers ----------------------------------------------------------------------------

_POWER = re.compile(r"^\*\*\s*\(?\s*([-+0-9.eE]+|inf|nan)\s*\)?$")
_UNORDERED = (set, frozenset)


def _default_aliases() -> dict[str, Op]:
    aliases: dict[str, Op] = {}
    for op in OPS:
        aliases[op.symbol.lower()] = op
        aliases[op.name] = op
    return aliases


def symbol_resolver(aliases: Mapping[str, str | Op] | None = None) -> Resolver:
    """A resolver reading ``_op`` strings, with ``aliases`` (spelling -> op or op name) added.

    ``symbol_resolver({'SUBTRACT': 'sub'})`` teaches an engine's own spelling; spellings
    are matched case-insensitively.
    """
    table = _default_aliases()
    for spelling, op in (aliases or {}).items():
        table[spelling.lower()] = op if isinstance(op, Op) else op_named(op)
    neg = op_named("neg")
    sub = op_named("sub")
    power = op_named("pow")
    commutative = {op_named("add"), op_named("mul")}

    def resolve(node: Any) -> Resolution:
        symbol = getattr(node, "_op", "")
        if isinstance(symbol, Op):
            return symbol, None
        if not symbol:
            return CONSTANT if getattr(node, "is_constant", False) else LEAF
        children = getattr(node, "_prev", ())
        inputs = tuple(children)
        spelling = str(symbol).strip().lower()
        exponent = _POWER.match(spelling)
        if exponent and len(inputs) == 1:
            try:
                return power, (inputs[0], float(exponent.group(1)))
            except ValueError:
                raise ResolveError(f"cannot read the exponent of _op {str(symbol)!r}") from None
        op = table.get(spelling)
        if op is None:
            raise ResolveError(
                f"no op of the table matches _op {str(symbol)!r} (a node with data "
                f"{getattr(node, 'data', '?')!r}); map it with symbol_resolver({{{str(symbol)!r}: 'name'}})"
            )
        if op.arity == len(inputs):
            if op.arity == 2 and op not in commutative and isinstance(children, _UNORDERED):
                raise ResolveError(
                    f"_op {str(symbol)!r} over an unordered _prev ({type(children).__name__}): "
                    "which input comes first is unknown; give the engine an ordered _prev or a resolver"
                )
            return op, None
        if len(inputs) == 1 and op in commutative:
            return op, (inputs[0], inputs[0])  # `x + x`, `x * x`: a set keeps x once
        if len(inputs) == 1 and op is sub:
            # A lone '-' is negation -- or a set's `x - x`, which is 0.
            return (sub, (inputs[0], inputs[0])) if getattr(node, "data", None) == 0 else (neg, None)
        raise ResolveError(
            f"_op {str(symbol)!r} is {op.name}, which takes {op.arity} inputs, not {len(inputs)}"
        )

    return resolve


resolve_node: Resolver = symbol_resolver()


# -- plan ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Plan:
    """A traced graph with every node resolved, ready to replay.

    ``steps[i]`` is node ``i``'s `Op`, or `LEAF` / `CONSTANT`. ``operands[i]`` holds the
    positions of an op's operands; a position ``p >= len(graph)`` stands for the number
    ``literals[p - len(graph)]``, an operand that is not a node. ``differentiable[i]``
    says whether torch tracks a gradient for node ``i`` (it depends on a user leaf).
    """

    graph: Graph
    steps: list[Op | Kind]
    operands: list[tuple[int, ...]]
    literals: list[float]
    differentiable: list[bool]

    def __len__(self) -> int:
        return len(self.graph.nodes)

    @property
    def nodes(self) -> list[Any]:
        return self.graph.nodes

    def kind(self, i: int) -> str:
        step = self.steps[i]
        return step.value if isinstance(step, Kind) else "op"

    def leaf_positions(self) -> list[int]:
        return [i for i, step in enumerate(self.steps) if step is LEAF]

    def consumers(self) -> list[list[tuple[int, int]]]:
        """For each node, ``(consumer, slot)`` for every use of it as an operand."""
        users: list[list[tuple[int, int]]] = [[] for _ in self.steps]
        n = len(self.steps)
        for i, ins in enumerate(self.operands):
            for slot, j in enumerate(ins):
                if j < n:
                    users[j].append((i, slot))
        return users


def make_plan(root: Any, resolver: Resolver | None = None, *, graph: Graph | None = None) -> Plan:
    """Trace ``root`` (unless ``graph`` is given) and resolve every node."""
    graph = graph if graph is not None else trace(root)
    resolve = resolver or resolve_node
    n = len(graph.nodes)
    steps: list[Op | Kind] = []
    operands: list[tuple[int, ...]] = []
    literals: list[float] = []
    differentiable: list[bool] = []
    for i, node in enumerate(graph.nodes):
        op = getattr(node, "_op", None)
        # twingrad's own op nodes resolve to themselves: skip the call (most of a big graph).
        resolved = (op, None) if resolver is None and type(op) is Op else resolve(node)
        if isinstance(resolved, Kind):
            if graph.inputs[i]:
                raise ResolveError(f"node {i} has inputs but was resolved as a {resolved.value}")
            steps.append(resolved)
            operands.append(())
            differentiable.append(resolved is LEAF)
            continue
        op, given = resolved
        if not isinstance(op, Op):
            raise ResolveError(f"the resolver returned {op!r} for node {i}; expected an Op of the table")
        ins = graph.inputs[i] if given is None else _positions(graph, given, literals, i)
        if len(ins) != op.arity:
            raise ResolveError(f"node {i} ({op.name}) has {len(ins)} operands; {op.name} takes {op.arity}")
        steps.append(op)
        operands.append(ins)
        first = ins[0]
        tracked = first < n and differentiable[first]
        if not tracked and len(ins) == 2:
            tracked = ins[1] < n and differentiable[ins[1]]
        differentiable.append(tracked)
    return Plan(graph, steps, operands, literals, differentiable)


def _positions(graph: Graph, operands: Sequence[Any], literals: list[float], i: int) -> tuple[int, ...]:
    """Operands given by a resolver as positions; numbers are appended to ``literals``."""
    n = len(graph.nodes)
    positions = []
    for operand in operands:
        if isinstance(operand, numbers.Real):
            positions.append(n + len(literals))
            literals.append(float(operand))
        else:
            try:
                positions.append(graph.position(operand))
            except KeyError:
                raise ResolveError(f"an operand of node {i} is not a node of this graph") from None
    return tuple(positions)


# -- replay ----------------------------------------------------------------------------------


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a replay, then restore it.

    A replay allocates one tensor per node and no reference cycles, so reference
    counting frees everything; the collector would only walk torch's ~165k import-time
    objects again and again (~65 ms a full pass) while the tensors pile up.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_numbers(nodes: Sequence[Any], attribute: str) -> np.ndarray:
    """``node.<attribute>`` of every node as float64; anything that is not a number is nan."""
    values = [getattr(node, attribute, None) for node in nodes]
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        return np.array([_number_or_nan(v) for v in values], dtype=np.float64)


def _number_or_nan(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


class Mirror:
    """The torch replay of a `Plan`: one float64 tensor per node.

    >>> from twingrad.examples import seed_graph
    >>> m = Mirror.of(seed_graph()["L"]); m.run(); float(m.root), float(m.gradients()[0])
    (-8.0, 6.0)
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tensors: list[torch.Tensor] = []

    @classmethod
    def of(cls, root: Any, resolver: Resolver | None = None) -> Mirror:
        return cls(make_plan(root, resolver))

    def tensor(self, node: Any) -> torch.Tensor:
        """The torch twin of an engine node (after `run`)."""
        return self.tensors[self.plan.graph.position(node)]

    @property
    def root(self) -> torch.Tensor:
        return self.tensors[len(self.plan) - 1]

    def run(self, data: Sequence[float] | np.ndarray | None = None, *, grad: bool = True) -> None:
        """Build the torch graph; leaves and constants take their values from ``data``.

        ``data[i]`` is read for leaves and constants only (``None``: the engine's data).
        ``grad=False`` evaluates without recording anything for a backward pass.
        """
        with torch.set_grad_enabled(grad):
            self._run(data)

    def _run(self, data: Sequence[float] | np.ndarray | None) -> None:
        plan = self.plan
        n = len(plan)
        if data is None:
            data = read_numbers(plan.nodes, "data")
        tensors: list[Any] = [None] * (n + len(plan.literals))
        constants = [i for i, step in enumerate(plan.steps) if step is CONSTANT]
        if constants:
            # One tensor unbound into views: 3x cheaper than a torch.tensor per constant.
            shared = torch.tensor([float(data[i]) for i in constants], dtype=F64)
            for i, view in zip(constants, shared.unbind()):
                tensors[i] = view
        for k, value in enumerate(plan.literals):
            tensors[n + k] = torch.tensor(value, dtype=F64)
        steps, operands = plan.steps, plan.operands
        for i, step in enumerate(steps):
            if step is LEAF:
                tensors[i] = torch.tensor(float(data[i]), dtype=F64, requires_grad=torch.is_grad_enabled())
            elif step is not CONSTANT:
                ins = operands[i]
                if len(ins) == 1:
                    tensors[i] = step.torch(tensors[ins[0]])
                else:
                    tensors[i] = step.torch(tensors[ins[0]], tensors[ins[1]])
        self.tensors = tensors[:n]

    def values(self) -> np.ndarray:
        return np.array(list(map(torch.Tensor.item, self.tensors)), dtype=np.float64)

    def gradients(self) -> np.ndarray:
        """d root / d node for every node torch differentiates; nan elsewhere (constants)."""
        plan = self.plan
        grads = np.full(len(plan), np.nan)
        wanted = [i for i, d in enumerate(plan.differentiable) if d]
        if not plan.differentiable[-1]:
            return grads  # the root depends on no leaf: torch has no gradient at all
        found = torch.autograd.grad(self.root, [self.tensors[i] for i in wanted])
        grads[wanted] = list(map(torch.Tensor.item, found))
        return grads


# -- ops on the engine's own numbers: the local checks' torch --------------------------------


def apply_op(op: Op, args: Sequence[np.ndarray]) -> np.ndarray:
    """Torch's results of ``op`` on columns of float64 operands, element by element."""
    return op.torch(*[torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in args]).numpy()


def op_vjp(op: Op, args: Sequence[np.ndarray], out: np.ndarray, upstream: np.ndarray) -> list[np.ndarray]:
    """Torch's gradient for each operand slot of ``op``, judged at the engine's own numbers.

    Columns in, columns out: element ``k`` is one use of ``op``. The engine's results
    ``out`` are written into torch's output before the backward pass, so a rule that
    reads its result (tanh, exp, sigmoid, sqrt, pow) sees the engine's number: a
    last-bit difference of the forward is not charged to the derivative (``1 - out**2``
    turns one ULP of tanh(10) into 2.7e-8).
    """
    inputs = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in args]
    result = op.torch(*inputs)
    result.data.copy_(torch.from_numpy(np.asarray(out, dtype=np.float64)))
    seed = torch.from_numpy(np.asarray(upstream, dtype=np.float64))
    grads = torch.autograd.grad(result, inputs, seed, allow_unused=True)
    return [np.zeros(len(out)) if g is None else g.numpy() for g in grads]
