"""What each node of a graph is, read from any engine's graph: pure bookkeeping, no torch.

Planning happens before any replay, so that any micrograd-style engine can be mirrored
and judged, and so that code which only needs to know what a graph *is* (the numeric
witness, the reproducer, the checker's diagnosis) never loads torch:

* `trace` numbers the nodes; a *resolver* then says, node by node, what each one is: a
  user leaf (`Kind.LEAF`, mirrored as a tensor with ``requires_grad``), a constant
  (`Kind.CONSTANT`, a tensor without it), or an op of the table applied to operands:
  ``(op, operands)``. ``operands`` is ``None`` when they are the node's inputs exactly as
  traced (an ordered ``_prev``), or a sequence whose items are either input nodes or
  plain numbers -- numbers the node holds outside its ``_prev``, like the 2 of
  micrograd's ``'**2'``. The result is a `Plan`.
* `Plan` stores an operand as a position; a position past the last node stands for one
  of those numbers (a *literal*). That rule is written here once: `Plan.is_node`,
  `Plan.literal`, `Plan.node_inputs`, `Plan.operand_values`, `Plan.operand_column` and `Plan.with_literals`
  are how everything else reads operands.

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

import enum
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any, TypeAlias

import numpy as np

from ..engine import Value
from ..graph import Graph, trace
from ..ops import OPS, Op, op_named


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

    # How a reproducer writes this resolver: the same call, when the aliases are names.
    spelled = {k: v.name if isinstance(v, Op) else v for k, v in (aliases or {}).items()}
    resolve.source = f"symbol_resolver({spelled!r})" if aliases else "symbol_resolver()"  # type: ignore[attr-defined]
    return resolve


resolve_node: Resolver = symbol_resolver()


# -- any micrograd-style engine: spellings beyond the table, and the numbers as witness -----
#
# Reading a foreign engine's graph in the op table's terms, for `twingrad.parity.compare`.
#
# The parity mirror's own resolver reads the usual ``_op`` strings (table symbols and
# names, micrograd's ``'**2'`` and ``'ReLU'``, ``x op x`` over a set). Learners' engines
# stray further, and `resolve_foreign` goes on where it stops:
#
# * more spellings: the Value methods that perform each op (``'truediv'``, ``'rsub'``)
#   and a few words seen in the wild (``'ln'``, ``'σ'``, ``'minus'``);
# * a non-commutative op over a set (``a - b`` whose ``_prev`` is ``{a, b}``): the order
#   whose forward reproduces the node's ``data``;
# * an unknown or empty label: the one op of the table (and operand order) whose forward
#   reproduces ``data``, if exactly one does.
#
# A label's reading that reproduces nothing is kept unless it had to double a lone input:
# the engine's forward is off there, and the comparison will say so at that very node.
# Otherwise the node raises `ResolveError`, and the checker falls back to comparing outputs
# and input gradients.

_WORDS = {
    "plus": "add", "minus": "sub", "times": "mul", "divide": "div", "^": "pow", "power": "pow",
    "negate": "neg", "ln": "log", "σ": "sigmoid", "sig": "sigmoid", "logistic": "sigmoid",
}
# How close a reading's forward must come to the node's data to be believed: loose enough
# for an engine that stores float32, tight enough to tell a*b from a+b at ordinary values.
_DATA_RTOL = 1e-5


def _aliases() -> dict[str, Op]:
    aliases = {method.strip("_"): op for op in OPS for method in op.methods}
    aliases.update({word: op_named(name) for word, name in _WORDS.items()})
    return aliases


_by_label = symbol_resolver(_aliases())


def _number(operand: Any) -> float:
    return float(operand) if isinstance(operand, (int, float)) else float(operand.data)


def _reproduces(op: Op, operands: Sequence[Any], data: float) -> bool:
    try:
        value = op.forward(*(_number(x) for x in operands))
    except (TypeError, ValueError, AttributeError, OverflowError):
        return False
    if math.isnan(value) or math.isnan(data):
        return math.isnan(value) and math.isnan(data)
    return value == data or abs(value - data) <= _DATA_RTOL * max(abs(value), abs(data))


def _readings(op: Op, inputs: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The operand tuples ``op`` could have had, given the node's inputs."""
    if op.arity == 1:
        return [inputs] if len(inputs) == 1 else []
    if len(inputs) == 2:
        return [inputs, inputs[::-1]]
    return [(inputs[0], inputs[0])] if len(inputs) == 1 else []


def _by_data(inputs: tuple[Any, ...], data: float, ops: Sequence[Op]) -> Resolution | None:
    """The single reading among ``ops`` whose forward gives ``data``; None if none or several."""
    found = {}
    for op in ops:
        for operands in _readings(op, inputs):
            if _reproduces(op, operands, data):
                found[(op.name, tuple(map(id, operands)))] = (op, operands)
    return next(iter(found.values())) if len(found) == 1 else None


def resolve_foreign(node: Any) -> Resolution:
    """Leaf, constant, or ``(op, operands)`` for a node of any micrograd-style engine."""
    inputs = tuple(getattr(node, "_prev", ()))
    try:
        reading: Resolution | None = _by_label(node)
    except ResolveError:
        reading = None
    if not inputs:
        if isinstance(reading, Kind):
            return reading
        return CONSTANT if getattr(node, "is_constant", False) else LEAF
    try:
        data = float(node.data)
    except (TypeError, ValueError, AttributeError):
        data = math.nan
    if reading is not None and not isinstance(reading, Kind):
        op, given = reading
        operands = inputs if given is None else tuple(given)
        if _reproduces(op, operands, data):
            return op, operands
        # Same op, the other order (a set lost it) ...
        other = _by_data(inputs, data, [op])
        if other is not None:
            return other
        # ... or trust the label, unless it doubled a lone input (`x op x` under a set):
        # that input may stand beside a constant the node keeps to itself.
        doubled = len(inputs) == 1 and op.arity == 2 and all(o is inputs[0] for o in operands)
        if not doubled:
            return op, operands
    guess = _by_data(inputs, data, OPS)
    if guess is not None:
        return guess
    raise ResolveError(
        f"cannot tell which op made a node with _op {str(getattr(node, '_op', ''))!r}, "
        f"{len(inputs)} input(s) and data {data!r}"
    )


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

    # -- operands: a position >= len(self) is a literal, ``literals[position - len(self)]`` --

    def is_node(self, position: int) -> bool:
        """Is operand ``position`` a node of the graph (not a literal number)?"""
        return position < len(self.graph.nodes)

    def literal(self, position: int) -> float:
        """The number an operand position past the nodes stands for."""
        return self.literals[position - len(self.graph.nodes)]

    def node_inputs(self, i: int) -> tuple[int, ...]:
        """The positions of node ``i``'s operands that are nodes, one per use (literals dropped)."""
        n = len(self.graph.nodes)
        return tuple(j for j in self.operands[i] if j < n)

    def with_literals(self, values: Sequence[Any]) -> list[Any]:
        """``values`` (one per node) followed by the literals: indexable by any operand position."""
        return [*values[: len(self.graph.nodes)], *self.literals]

    def operand_values(self, values: Sequence[float], i: int) -> list[float]:
        """The numbers node ``i`` is computed from: its inputs' ``values`` and its literals."""
        n = len(self.graph.nodes)
        return [float(values[j]) if j < n else self.literals[j - n] for j in self.operands[i]]

    def operand_column(self, values: np.ndarray, positions: Sequence[int], slot: int) -> np.ndarray:
        """Operand ``slot`` of each node in ``positions``: a column for one vectorised op call."""
        n = len(self.graph.nodes)
        out = np.empty(len(positions))
        for k, i in enumerate(positions):
            j = self.operands[i][slot]
            out[k] = values[j] if j < n else self.literals[j - n]
        return out

    @cached_property
    def _uses(self) -> list[list[tuple[int, int]]]:
        users: list[list[tuple[int, int]]] = [[] for _ in self.steps]
        for i in range(len(self.steps)):
            for slot, j in enumerate(self.operands[i]):
                if self.is_node(j):
                    users[j].append((i, slot))
        return users

    def uses(self) -> list[list[tuple[int, int]]]:
        """For each node, ``(consumer, slot)`` for every use of it as an operand."""
        return self._uses

    @cached_property
    def layers(self) -> Layers:
        """The plan cut into vectorised calls, for a replay that costs hundreds of tensor ops
        rather than one per node (see `Layers`)."""
        return _layers(self)


# Where a layer reads an operand from: the leaves, the constants, the literals, or layer k
# (source ``FIRST_LAYER + k``).
LEAVES, CONSTANTS, LITERALS, FIRST_LAYER = 0, 1, 2, 3


@dataclass(frozen=True)
class Gather:
    """One operand slot of a layer: ``offsets`` into each source, concatenated, then put in the
    layer's order by ``order`` (None: already in order). ``offsets`` None takes a source whole."""

    pieces: tuple[tuple[int, np.ndarray | None], ...]
    order: np.ndarray | None


@dataclass(frozen=True)
class Layer:
    """Every node of one depth made by one op: a single call of that op on operand columns."""

    op: Op
    positions: np.ndarray  # the nodes it makes, in plan order
    slots: tuple[Gather, ...]


@dataclass(frozen=True)
class Layers:
    """A plan in dependency order as column operations: the leaves, the constants, then layers.

    A node's depth is one more than its deepest operand's (leaves, constants and literals
    are depth 0), so every operand of a layer was made before it. The 65,818-node moons
    step is about a thousand layers.
    """

    leaves: np.ndarray
    constants: np.ndarray
    layers: list[Layer]
    source: np.ndarray  # for every operand position (nodes, then literals): where it is made
    offset: np.ndarray  # ... and its index there


def _layers(plan: Plan) -> Layers:
    n = len(plan)
    steps, operands = plan.steps, plan.operands
    depth = [0] * n
    groups: dict[tuple[int, Op], list[int]] = {}
    for i, step in enumerate(steps):
        if step is LEAF or step is CONSTANT:
            continue
        deepest = 0
        for j in operands[i]:
            if j < n and depth[j] > deepest:
                deepest = depth[j]
        depth[i] = deepest + 1
        groups.setdefault((deepest + 1, step), []).append(i)  # type: ignore[arg-type]
    source = np.empty(n + len(plan.literals), dtype=np.int64)
    offset = np.empty(n + len(plan.literals), dtype=np.int64)
    leaves = np.array([i for i, s in enumerate(steps) if s is LEAF], dtype=np.int64)
    constants = np.array([i for i, s in enumerate(steps) if s is CONSTANT], dtype=np.int64)
    sizes = [len(leaves), len(constants), len(plan.literals)]
    for kind, where in ((LEAVES, leaves), (CONSTANTS, constants)):
        source[where], offset[where] = kind, np.arange(len(where))
    source[n:], offset[n:] = LITERALS, np.arange(len(plan.literals))
    layers = []
    for k, ((_, op), members) in enumerate(sorted(groups.items(), key=lambda item: item[0][0])):
        positions = np.array(members, dtype=np.int64)
        slots = []
        for slot in range(op.arity):
            wanted = np.array([operands[i][slot] for i in members], dtype=np.int64)
            slots.append(_gather(source[wanted], offset[wanted], sizes))
        layers.append(Layer(op, positions, tuple(slots)))
        source[positions], offset[positions] = FIRST_LAYER + k, np.arange(len(members))
        sizes.append(len(members))
    return Layers(leaves, constants, layers, source, offset)


def _gather(sources: np.ndarray, offsets: np.ndarray, sizes: list[int]) -> Gather:
    kinds = np.unique(sources)
    if len(kinds) == 1:
        kind = int(kinds[0])
        whole = len(offsets) == sizes[kind] and bool((offsets == np.arange(len(offsets))).all())
        return Gather(((kind, None if whole else offsets),), None)
    picked = [np.flatnonzero(sources == kind) for kind in kinds]
    order = np.empty(len(sources), dtype=np.int64)
    order[np.concatenate(picked)] = np.arange(len(sources))
    return Gather(tuple((int(kind), offsets[at]) for kind, at in zip(kinds, picked)), order)


def make_plan(root: Any, resolver: Resolver | None = None, *, graph: Graph | None = None) -> Plan:
    """Trace ``root`` (unless ``graph`` is given) and resolve every node."""
    graph = graph if graph is not None else trace(root)
    if resolver is None and type(graph.root) is Value:
        return _plan_values(graph)
    resolve = resolver or resolve_node
    n = len(graph.nodes)
    steps: list[Op | Kind] = []
    operands: list[tuple[int, ...]] = []
    literals: list[float] = []
    differentiable: list[bool] = []
    for i, node in enumerate(graph.nodes):
        resolved = resolve(node)
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
        # A position past the nodes is a literal: a number torch never differentiates.
        differentiable.append(any(j < n and differentiable[j] for j in ins))
    return Plan(graph, steps, operands, literals, differentiable)


def _plan_values(graph: Graph) -> Plan:
    """`make_plan` for twingrad's own graph: each op node's ``_op`` *is* its table entry
    and its inputs are its operands, so nothing needs resolving. (The general loop costs
    a third of a 65k-node compare's own time; this is what keeps parity cheap.)"""
    steps: list[Op | Kind] = []
    differentiable: list[bool] = []
    step, tracked = steps.append, differentiable.append
    for node, ins in zip(graph.nodes, graph.inputs):
        op = node._op
        if op:
            step(op)
            # At most two inputs, and none is a literal: twingrad lifts numbers to nodes.
            tracked(differentiable[ins[0]] or (len(ins) == 2 and differentiable[ins[1]]))
        elif node.is_constant:
            step(CONSTANT)
            tracked(False)
        else:
            step(LEAF)
            tracked(True)
    return Plan(graph, steps, list(graph.inputs), [], differentiable)


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



def read_numbers(nodes: Sequence[Any], attribute: str) -> np.ndarray:
    """``node.<attribute>`` of every node as float64; anything that is not a number is nan."""
    try:  # attrgetter reads in C: a tenth of a 65k-node compare's own time otherwise
        values = list(map(attrgetter(attribute), nodes))
    except AttributeError:
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


