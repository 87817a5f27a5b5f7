"""The op table: every operation twingrad knows, each defined exactly once.

One `Op` record per operation holds everything the rest of the project needs:

* ``forward``  -- the value on plain floats, with IEEE-754 results where Python would
  raise (``1/0`` is ``inf``, ``log(0)`` is ``-inf``, ``log(-1)`` is ``nan``);
* ``grad``     -- the local derivative as a vector-Jacobian rule: given the upstream
  gradient ``g``, the op's output ``out`` and its inputs, return one gradient per input
  (one for a unary op, a pair for a binary one). Each rule is written once, in the
  small vocabulary below (arithmetic operators, `div`, `power`, `log`, `sin`, `cos`,
  `sign`, `number`), so it runs on floats -- ``backward()``, fast -- and on Values,
  where it builds the gradient as a graph of the same ops that can be differentiated
  again (``twingrad.grad(..., create_graph=True)``);
* ``torch``    -- the same operation on torch tensors (called on tensors, so this module
  never imports torch);
* ``symbol``   -- what a drawing shows in the op node and what ``Value._op`` reads as;
* ``code``     -- the operation as Python source, used in reports and reproducers;
* ``methods``  -- the ``Value`` methods that perform it (binary ops: operator, reflected
  operator);
* ``doc`` / ``notes`` -- the math in one line, and the conventions at kinks and edges.

The engine, the torch mirror, the numeric witness, the drawing and the fuzzer all read
these records; adding an op here is the only edit needed.

Gradient formulas follow PyTorch's own (``tools/autograd/derivatives.yaml``), written in
the same order of floating-point operations where that is easy, so that results agree to
the last bit on edge values and within an ULP or two elsewhere.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

inf = math.inf
nan = math.nan

# --- IEEE-754 float helpers: torch's results where Python's math would raise ---------


def _is_odd_integer(x: float) -> bool:
    return math.isfinite(x) and x % 2.0 == 1.0


def ieee_div(a: float, b: float) -> float:
    """a / b, with x/±0 = ±inf and 0/0 = nan instead of ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0.0 or a != a:
            return nan
        return math.copysign(inf, a) * math.copysign(1.0, b)


def ieee_pow(a: float, b: float) -> float:
    """a ** b as C's pow(): 0 ** -1 = inf, (-8) ** (1/3) = nan, overflow = ±inf."""
    try:
        return math.pow(a, b)
    except OverflowError:
        # Only a negative base raised to an odd integer keeps its sign.
        return -inf if a < 0.0 and _is_odd_integer(b) else inf
    except ValueError:
        if a == 0.0:  # zero to a negative power: a pole
            negative_zero = math.copysign(1.0, a) < 0.0
            return -inf if negative_zero and _is_odd_integer(b) else inf
        return nan  # negative base, non-integer exponent


def ieee_exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        return inf


def ieee_log(a: float) -> float:
    try:
        return math.log(a)
    except ValueError:
        return -inf if a == 0.0 else nan


def _nan_outside_domain(fn: Callable[[float], float]) -> Callable[[float], float]:
    """``fn`` returning nan where math raises ValueError (sqrt(-1), sin(inf))."""

    def ieee(a: float) -> float:
        try:
            return fn(a)
        except ValueError:
            return nan

    ieee.__name__ = ieee.__qualname__ = f"ieee_{fn.__name__}"
    return ieee


ieee_sqrt = _nan_outside_domain(math.sqrt)
ieee_sin = _nan_outside_domain(math.sin)
ieee_cos = _nan_outside_domain(math.cos)


def sigmoid(a: float) -> float:
    # torch's formula; exp(1000) overflows to inf and 1/(1+inf) is the right 0.0.
    return 1.0 / (1.0 + ieee_exp(-a))


def relu(a: float) -> float:
    # `a < 0` is False for nan and -0.0, so both pass through as torch's clamp does.
    return 0.0 if a < 0.0 else a


def sign(a: float) -> float:
    """-1, 0 or 1; 0 for nan (torch's sgn, which makes |x|'(nan) = 0)."""
    return float((a > 0.0) - (a < 0.0))


# --- the vocabulary of the derivative rules: one formula on floats and on Values ---------
#
# A rule sees floats when backward() runs and Values (nodes of a graph) when a gradient
# is built as a graph; arithmetic operators already work on both. These helpers do the
# rest: on floats, the IEEE functions above; on a Value, the op of this table, so that
# the gradient graph is made of ops that are differentiated like any other. A kink or a
# mask is decided on `number` and enters a Value graph as a constant: its derivative is
# 0 at every order, as in torch (relu'' = 0, |x|'' = 0). One difference remains: torch
# masks with `where`, which sends a zero into the masked term's own derivative, and where
# that term's partials are infinite (relu below 0 under an infinite gradient, pow's
# masked terms at a == 0 or b == 0) torch's next derivative is 0 · inf = nan; ours is 0.

_PLAIN = (float, int)


def number(x: Any) -> float:
    """The number behind ``x``: a float itself, a Value's ``data``."""
    return x if isinstance(x, _PLAIN) else x.data


def div(a: Any, b: Any) -> Any:
    return ieee_div(a, b) if isinstance(a, _PLAIN) and isinstance(b, _PLAIN) else a / b


def power(a: Any, b: Any) -> Any:
    return ieee_pow(a, b) if isinstance(a, _PLAIN) and isinstance(b, _PLAIN) else a ** b


def log(a: Any) -> Any:
    return ieee_log(a) if isinstance(a, _PLAIN) else a.log()


def sin(a: Any) -> Any:
    return ieee_sin(a) if isinstance(a, _PLAIN) else a.sin()


def cos(a: Any) -> Any:
    return ieee_cos(a) if isinstance(a, _PLAIN) else a.cos()


# --- local derivatives (vector-Jacobian rules) ---------------------------------------


def _pow_grad(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    # d/da: torch returns exactly 0 for a zero exponent, even where a ** -1 is infinite.
    grad_a = 0.0 if number(b) == 0.0 else g * (b * power(a, b - 1.0))
    # d/db = out * log(a), taken as 0 where a == 0 and b >= 0 (torch masks it, then scales by g).
    masked = number(a) == 0.0 and number(b) >= 0.0
    grad_b = g * (0.0 if masked else out * log(a))
    return grad_a, grad_b


def _tanh_grad(g: Any, out: Any, a: Any) -> Any:
    # torch takes 1 - out² with a fused multiply-add. Near ±1, 1 - out² cancels (40 ULP
    # off at tanh(2.5)) and (1 - out)(1 + out) stays within an ULP of torch. Near 0 that
    # product is as exact, but its derivative by out, (1 - out) - (1 + out), cancels
    # (tanh''(1e-9) would be 1e-7 off), while 1 - out² differentiates to -2·out exactly.
    if -0.5 < number(out) < 0.5:
        return g * (1.0 - out * out)
    return g * ((1.0 - out) * (1.0 + out))


def _div_grad(g: Any, out: Any, a: Any, b: Any) -> tuple[Any, Any]:
    return div(g, b), -g * div(div(a, b), b)


# --- the record ------------------------------------------------------------------------


class Op(str):
    """One operation of the table.

    An ``Op`` *is* its display symbol (a ``str``), so a node's ``_op`` reads as ``'+'`` or
    ``'tanh'`` exactly as in the seed notebook, while carrying the whole table entry.
    """

    name: str
    arity: int
    forward: Callable[..., float]
    grad: Callable[..., Any]
    torch: Callable[..., Any]
    code: str
    methods: tuple[str, ...]
    doc: str
    notes: str

    def __new__(
        cls,
        name: str,
        *,
        symbol: str,
        arity: int,
        forward: Callable[..., float],
        grad: Callable[..., Any],
        torch: Callable[..., Any],
        code: str,
        methods: tuple[str, ...],
        doc: str,
        notes: str = "",
    ) -> Op:
        self = super().__new__(cls, symbol)
        self.name = name
        self.arity = arity
        self.forward = forward
        self.grad = grad
        self.torch = torch
        self.code = code
        self.methods = methods
        self.doc = doc
        self.notes = notes
        return self

    @property
    def symbol(self) -> str:
        return str.__str__(self)

    def format(self, *operands: str) -> str:
        """The op applied to operand expressions, as Python source: ``a * b``, ``a.tanh()``."""
        return self.code.format(*operands)

    def __repr__(self) -> str:
        return f"<op {self.name} {self.symbol!r}>"

    # An Op is a singleton of the table: copies and pickles resolve to the same record.
    def __reduce__(self) -> tuple[Callable[[str], Op], tuple[str]]:
        return op_named, (self.name,)

    def __copy__(self) -> Op:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Op:
        return self

    # str's equality would make '*' equal to any Op showing '*'; records compare by identity.
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Op):
            return self is other
        return str.__eq__(self, other)

    __hash__ = str.__hash__


OPS: tuple[Op, ...] = (
    Op(
        "add", symbol="+", arity=2,
        forward=operator.add,
        grad=lambda g, out, a, b: (g, g),
        torch=operator.add,
        code="{} + {}", methods=("__add__", "__radd__"),
        doc="a + b",
    ),
    Op(
        "sub", symbol="-", arity=2,
        forward=operator.sub,
        grad=lambda g, out, a, b: (g, -g),
        torch=operator.sub,
        code="{} - {}", methods=("__sub__", "__rsub__"),
        doc="a - b",
    ),
    Op(
        "mul", symbol="*", arity=2,
        forward=operator.mul,
        grad=lambda g, out, a, b: (g * b, g * a),
        torch=operator.mul,
        code="{} * {}", methods=("__mul__", "__rmul__"),
        doc="a · b",
    ),
    Op(
        "div", symbol="/", arity=2,
        forward=ieee_div,
        grad=_div_grad,
        torch=operator.truediv,
        code="{} / {}", methods=("__truediv__", "__rtruediv__"),
        doc="a / b",
        notes="x/±0 = ±inf, 0/0 = nan; d/db = -g·(a/b)/b as torch computes it.",
    ),
    Op(
        "pow", symbol="**", arity=2,
        forward=ieee_pow,
        grad=_pow_grad,
        torch=operator.pow,
        code="{} ** {}", methods=("__pow__", "__rpow__"),
        doc="a ** b",
        notes=(
            "C pow() values: 0 ** -1 = inf, a negative base to a fractional power = nan. "
            "d/da is 0 when b == 0; d/db = out·log(a), and 0 where a == 0 and b >= 0."
        ),
    ),
    Op(
        "neg", symbol="neg", arity=1,
        forward=operator.neg,
        grad=lambda g, out, a: -g,
        torch=operator.neg,
        code="-{}", methods=("__neg__",),
        doc="-a",
    ),
    Op(
        "exp", symbol="exp", arity=1,
        forward=ieee_exp,
        grad=lambda g, out, a: g * out,
        torch=lambda a: a.exp(),
        code="{}.exp()", methods=("exp",),
        doc="e ** a",
        notes="Overflows to inf (from a ≈ 709.8) instead of raising.",
    ),
    Op(
        "log", symbol="log", arity=1,
        forward=ieee_log,
        grad=lambda g, out, a: div(g, a),
        torch=lambda a: a.log(),
        code="{}.log()", methods=("log",),
        doc="ln a",
        notes="log 0 = -inf, log of a negative = nan; d/da = g/a (inf at 0).",
    ),
    Op(
        "tanh", symbol="tanh", arity=1,
        forward=math.tanh,
        grad=_tanh_grad,
        torch=lambda a: a.tanh(),
        code="{}.tanh()", methods=("tanh",),
        doc="(e^a - e^-a) / (e^a + e^-a)",
        notes="Saturates to ±1 with gradient 0 at ±1000, no overflow.",
    ),
    Op(
        "relu", symbol="relu", arity=1,
        forward=relu,
        grad=lambda g, out, a: 0.0 if number(out) <= 0.0 else g,
        torch=lambda a: a.relu(),
        code="{}.relu()", methods=("relu",),
        doc="max(a, 0)",
        notes=(
            "relu'(0) = 0 (torch's convention); relu(nan) = nan with gradient g. The mask is a "
            "constant: relu'' = 0 at every point, as in torch."
        ),
    ),
    Op(
        "sigmoid", symbol="sigmoid", arity=1,
        forward=sigmoid,
        grad=lambda g, out, a: g * (1.0 - out) * out,
        torch=lambda a: a.sigmoid(),
        code="{}.sigmoid()", methods=("sigmoid",),
        doc="1 / (1 + e^-a)",
        notes="0 and 1 with gradient 0 at ∓1000, no overflow.",
    ),
    Op(
        "sin", symbol="sin", arity=1,
        forward=ieee_sin,
        grad=lambda g, out, a: g * cos(a),
        torch=lambda a: a.sin(),
        code="{}.sin()", methods=("sin",),
        doc="sin a",
        notes="sin(±inf) = nan.",
    ),
    Op(
        "cos", symbol="cos", arity=1,
        forward=ieee_cos,
        grad=lambda g, out, a: g * -sin(a),
        torch=lambda a: a.cos(),
        code="{}.cos()", methods=("cos",),
        doc="cos a",
        notes="cos(±inf) = nan.",
    ),
    Op(
        "sqrt", symbol="sqrt", arity=1,
        forward=ieee_sqrt,
        grad=lambda g, out, a: div(g, 2.0 * out),
        torch=lambda a: a.sqrt(),
        code="{}.sqrt()", methods=("sqrt",),
        doc="√a",
        notes="sqrt of a negative = nan; d/da = g/(2·√a), inf at 0 (-inf at -0.0).",
    ),
    Op(
        "abs", symbol="abs", arity=1,
        forward=abs,
        grad=lambda g, out, a: g * sign(number(a)),
        torch=lambda a: a.abs(),
        code="abs({})", methods=("abs", "__abs__"),
        doc="|a|",
        notes="|x|'(0) = 0 and |x|'(nan) = 0 (torch's sgn); sgn is a constant, so |x|'' = 0 everywhere.",
    ),
)

OPS_BY_NAME: dict[str, Op] = {op.name: op for op in OPS}


def op_named(name: str) -> Op:
    """The table entry called ``name`` (``'add'``, ``'tanh'``, ...)."""
    try:
        return OPS_BY_NAME[name]
    except KeyError:
        known = ", ".join(OPS_BY_NAME)
        raise KeyError(f"no op named {name!r}; the table has: {known}") from None


def _check_table() -> None:
    """Refuse to import a table with a gap, so no consumer ever meets half an entry."""
    names: set[str] = set()
    methods: set[str] = set()
    for op in OPS:
        where = f"op table entry {op.name!r}"
        if op.name in names:
            raise ValueError(f"{where}: name used twice")
        names.add(op.name)
        if op.arity not in (1, 2):
            raise ValueError(f"{where}: arity must be 1 or 2, not {op.arity}")
        if not op.symbol or not op.doc:
            raise ValueError(f"{where}: symbol and doc are required")
        for field in ("forward", "grad", "torch"):
            if not callable(getattr(op, field)):
                raise ValueError(f"{where}: {field} must be callable")
        if op.code.count("{}") != op.arity:
            raise ValueError(f"{where}: code {op.code!r} needs one '{{}}' per input")
        if not op.methods or (op.arity == 2 and len(op.methods) != 2):
            raise ValueError(f"{where}: a binary op names its operator and reflected operator")
        clash = methods.intersection(op.methods)
        if clash:
            raise ValueError(f"{where}: method {sorted(clash)} already belongs to another op")
        methods.update(op.methods)


_check_table()
