"""What a parity check found, node by node: text, HTML, JSON and the assertion message.

A `ParityReport` stores its numbers as columns (one float64 array per quantity), so a
65k-node graph costs a few arrays, not 65k objects; a `Row` is made when one is asked
for. Statuses, per node and quantity (``data``, ``grad``):

``ok``        within tolerance of torch's twin;
``drift``     beyond it, but the op agrees with torch *locally* (torch's op on the
              engine's own inputs, or torch's derivative at the engine's own numbers,
              gives the engine's value) and nothing upstream diverged: rounding that the
              graph's conditioning amplified -- accepted;
``inherited`` beyond tolerance, locally consistent, downstream of a divergence;
``diverged``  beyond tolerance and not reproduced locally: a divergence starts here;
``n/a``       nothing to compare (a constant's gradient, a node torch does not
              differentiate).

JSON has no nan or infinity, so `to_dict` writes the strings ``"nan"``, ``"inf"`` and
``"-inf"`` for them (``float()`` reads them back); ``None`` means "no such number".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from ..engine import Value
from ..ops import Op
from .numeric import Witness
from .plan import LEAF, Plan, Resolver
from .recipe import NotReproducibleError, Recipe, importable, literal, node_names
from .rendering import html_table, jsonable, number_text, text_table, ulps_text
from .tolerances import DEFAULT_ATOL, DEFAULT_RTOL, Tolerance, differences

OK, DRIFT, INHERITED, DIVERGED, NOT_COMPARED = "ok", "drift", "inherited", "diverged", "n/a"
ACCEPTED = frozenset({OK, DRIFT, NOT_COMPARED})
TABLE_ROWS = 40  # rows a text or HTML table shows before it keeps to the mismatches
EXCERPT = 40  # about how many nodes `ParityReport.around` keeps for the drawing of a large graph


class Columns(NamedTuple):
    """Every node's data and grad on both sides: one float64 array each, in trace order."""

    engine_data: np.ndarray
    torch_data: np.ndarray
    engine_grad: np.ndarray
    torch_grad: np.ndarray


# -- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One node of a `ParityReport`: what the engine has, what torch has, how far apart."""

    position: int
    name: str
    label: str
    kind: str  # "leaf", "constant" or "op"
    op: str | None  # the op's name ("mul"), None for leaves and constants
    expression: str  # "e = a * b"
    engine_data: float
    torch_data: float
    data_abs: float
    data_rel: float
    data_ulps: float
    data_status: str
    engine_grad: float
    torch_grad: float | None  # None where torch has no gradient to compare
    grad_abs: float | None
    grad_rel: float | None
    grad_ulps: float | None
    grad_status: str
    local_data: float | None  # torch's op on the engine's own inputs, where it was checked
    local_grad: float | None  # torch's derivatives at the engine's own numbers, where checked
    witness: Witness | None
    culprit: bool

    @property
    def data_ok(self) -> bool:
        return self.data_status in ACCEPTED

    @property
    def grad_ok(self) -> bool:
        return self.grad_status in ACCEPTED

    @property
    def ok(self) -> bool:
        return self.data_ok and self.grad_ok

    @property
    def status(self) -> str:
        for status in (DIVERGED, INHERITED, DRIFT):
            if status in (self.data_status, self.grad_status):
                return status
        return OK

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.witness is not None:
            out["witness"] = {**asdict(self.witness), "text": self.witness.describe()}
        out.update(data_ok=self.data_ok, grad_ok=self.grad_ok)
        return jsonable(out)


class Rows(Sequence[Row]):
    """The rows of a report, made on demand (a large graph's report holds columns)."""

    def __init__(self, report: ParityReport) -> None:
        self._report = report

    def __len__(self) -> int:
        return len(self._report.plan)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._report.row(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._report.row(i)

    def __iter__(self) -> Iterator[Row]:
        return (self._report.row(k) for k in range(len(self)))


# -- the report --------------------------------------------------------------------------------


class ParityReport:
    """Engine against torch, node by node (see the module docstring for the statuses).

    ``rows[i]`` describes node ``i`` of ``trace(root)``; ``culprits()`` are the nodes
    where a divergence starts; ``summary`` says how many nodes disagree, by how much
    and where it begins; ``str()`` is a table, ``_repr_html_`` the same side by side in
    Jupyter, ``to_dict()`` JSON-ready data and ``reproducer()`` a runnable snippet.
    """

    def __init__(
        self,
        plan: Plan,
        tolerance: Tolerance,
        columns: Columns,
        *,
        grad_compared: np.ndarray,
        data_status: dict[int, str],
        grad_status: dict[int, str],
        local_data: dict[int, float],
        local_grad: dict[int, float],
        witnesses: dict[int, Witness],
        grads_checked: bool = True,
        title: str | None = None,  # default: "engine vs <reference>"
        backward: bool = False,
        resolver: Resolver | None = None,
        reference: str = "torch",
    ) -> None:
        self.plan = plan
        self.reference = reference  # whose numbers the twin columns hold: "torch", or "twingrad"
        # How the numbers were had, so that the reproducer can have them again: whether
        # the gradients came from a backward() the check ran, and the resolver it used.
        self.backward = backward
        self.resolver = resolver
        self.note = ""  # a line for drawings, e.g. that the gradients predate a nudge
        self.tolerance = tolerance
        self.engine_data, self.torch_data, self.engine_grad, self.torch_grad = columns
        self.grad_compared = grad_compared
        self.data_status, self.grad_status = data_status, grad_status
        self.local_data, self.local_grad = local_data, local_grad
        self.witnesses = witnesses
        self.grads_checked = grads_checked
        self.title = title or f"engine vs {reference}"
        self.data_abs, self.data_rel, self.data_ulps = differences(columns.engine_data, columns.torch_data)
        grad_abs, grad_rel, grad_ulps = differences(columns.engine_grad, columns.torch_grad)
        hidden = ~grad_compared
        self.grad_abs, self.grad_rel, self.grad_ulps = (
            np.where(hidden, np.nan, column) for column in (grad_abs, grad_rel, grad_ulps)
        )

    # -- verdicts ---------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """Every node agrees with torch (accepted drift aside): no divergence, none inherited."""
        return not self.mismatched()

    def culprits(self) -> set[int]:
        """Positions where a divergence starts: beyond tolerance and not explained locally."""
        return set(self._culprits)

    @cached_property
    def _culprits(self) -> frozenset[int]:
        statuses = (self.data_status, self.grad_status)
        return frozenset(i for d in statuses for i, s in d.items() if s == DIVERGED)

    def mismatched(self) -> list[int]:
        """Positions of the nodes whose data or grad is not accepted, in topological order."""
        bad = {i for d in (self.data_status, self.grad_status) for i, s in d.items() if s not in ACCEPTED}
        return sorted(bad)

    def drifted(self) -> list[int]:
        """Positions beyond tolerance only through amplified rounding (accepted)."""
        return sorted({i for d in (self.data_status, self.grad_status) for i, s in d.items() if s == DRIFT})

    def first_divergences(self) -> list[tuple[int, str]]:
        """``(position, quantity)`` of every culprit: data in topological order, then grad in
        reverse topological order -- the earliest divergence of each pass first."""
        data = sorted(i for i, s in self.data_status.items() if s == DIVERGED)
        grad = sorted((i for i, s in self.grad_status.items() if s == DIVERGED), reverse=True)
        return [(i, "data") for i in data] + [(i, "grad") for i in grad]

    # -- rows and names ------------------------------------------------------------------------

    @cached_property
    def names(self) -> list[str]:
        return node_names(self.plan)

    @cached_property
    def recipe(self) -> Recipe:
        root = self.plan.graph.root
        engine = None if isinstance(root, Value) else type(root)
        return Recipe(self.plan, self.engine_data, self.names, engine=engine)

    @property
    def rows(self) -> Rows:
        return Rows(self)

    def __len__(self) -> int:
        return len(self.plan)

    def expression(self, i: int) -> str:
        step = self.plan.steps[i]
        if isinstance(step, Op):
            return f"{self.names[i]} = {self.recipe.expression(i)}"
        return self.names[i] if step is LEAF else literal(float(self.engine_data[i]))

    def row(self, i: int) -> Row:
        plan = self.plan
        step = plan.steps[i]
        compared = bool(self.grad_compared[i])

        def grad_column(column: np.ndarray) -> float | None:
            return float(column[i]) if compared else None

        return Row(
            position=i,
            name=self.names[i],
            label=str(getattr(plan.nodes[i], "label", "") or ""),
            kind=plan.kind(i),
            op=step.name if isinstance(step, Op) else None,
            expression=self.expression(i),
            engine_data=float(self.engine_data[i]),
            torch_data=float(self.torch_data[i]),
            data_abs=float(self.data_abs[i]),
            data_rel=float(self.data_rel[i]),
            data_ulps=float(self.data_ulps[i]),
            data_status=self.data_status.get(i, OK),
            engine_grad=float(self.engine_grad[i]),
            torch_grad=grad_column(self.torch_grad),
            grad_abs=grad_column(self.grad_abs),
            grad_rel=grad_column(self.grad_rel),
            grad_ulps=grad_column(self.grad_ulps),
            grad_status=self.grad_status.get(i, OK if compared else NOT_COMPARED),
            local_data=self.local_data.get(i),
            local_grad=self.local_grad.get(i),
            witness=self.witnesses.get(i),
            culprit=i in self._culprits,
        )

    def row_of(self, node: Any) -> Row:
        """The row of an engine node."""
        return self.row(self.plan.graph.position(node))

    # -- summary --------------------------------------------------------------------------------

    def _greatest(self, which: str) -> tuple[float, int, str] | None:
        """The largest absolute or relative difference, its position and quantity."""
        best = None
        for quantity in ("data", "grad"):
            column = getattr(self, f"{quantity}_{which}")
            finite = np.where(np.isnan(column), -1.0, column)
            if len(finite) and finite.max() > 0.0:
                k = int(finite.argmax())
                if best is None or finite[k] > best[0]:
                    best = (float(finite[k]), k, quantity)
        return best

    def _greatest_text(self) -> str:
        parts = []
        for which, word in (("abs", "absolute"), ("rel", "relative")):
            best = self._greatest(which)
            if best is None:
                parts.append(f"greatest {word} difference 0")
            else:
                value, k, quantity = best
                parts.append(f"greatest {word} difference {value:.3g} at {self.names[k]} ({quantity})")
        return "; ".join(parts)

    @property
    def summary(self) -> str:
        n = len(self.plan)
        checked = "data and grad" if self.grads_checked and self.grad_compared.any() else "data"
        if self.ok:
            text = f"{self.title}: all {n} nodes agree ({checked}; {self.tolerance.describe()}); "
            text += self._greatest_text()
            drift = self.drifted()
            if drift:
                shown = ", ".join(self.names[i] for i in drift[:5]) + (" ..." if len(drift) > 5 else "")
                text += (
                    f". {len(drift)} node(s) differ beyond tolerance only through rounding the graph "
                    f"amplifies (every op agrees with {self.reference} at the engine's own inputs): {shown}"
                )
            return text + "."
        bad = self.mismatched()
        lines = [
            f"{self.title}: mismatched nodes {len(bad)} / {n} ({100.0 * len(bad) / n:.1f}%); "
            f"{self._greatest_text()} ({self.tolerance.describe()})."
        ]
        for k, (i, quantity) in enumerate(self.first_divergences()):
            lead = "First divergence" if k == 0 else "Also diverges"
            lines.append(f"{lead}: {self.explain(i, quantity)}")
        if not self._culprits:
            lines.append(
                "No divergence starts in this graph: every mismatch follows from numbers that diverged "
                "before it was evaluated (a nudge along a gradient that was already wrong)."
            )
        return "\n".join(lines)

    def _users(self, i: int) -> list[int]:
        return sorted({c for c, _ in self.plan.uses()[i]})

    def suspects(self, i: int, quantity: str) -> list[str]:
        """The ops to blame for a divergence of node ``i``'s ``quantity``: its own op for
        data; for a gradient, the ops it flows back from (``'seed'`` at the root)."""
        if quantity == "data":
            step = self.plan.steps[i]
            return [step.name] if isinstance(step, Op) else [self.plan.kind(i)]
        if i == len(self.plan) - 1:
            return ["seed"]
        return sorted({self.plan.steps[c].name for c in self._users(i)})  # type: ignore[union-attr]

    def suspect_ops(self) -> set[int]:
        """Positions whose op node is to blame: a node whose data diverges (its own op) and
        the consumers a diverging gradient flows back from."""
        suspects: set[int] = set()
        for i, quantity in self.first_divergences():
            if quantity == "data":
                suspects.add(i)
            else:
                suspects.update(self._users(i))
        return suspects

    def explain(self, i: int, quantity: str) -> str:
        """Where and how node ``i``'s ``quantity`` diverges, in one paragraph."""
        row = self.row(i)
        if quantity == "data":
            head = (
                f"data of {row.expression}: engine {number_text(row.engine_data)}, {self.reference} "
                f"{number_text(row.torch_data)} (abs {row.data_abs:.3g}, rel {row.data_rel:.3g}, "
                f"{ulps_text(row.data_ulps, row.engine_data, row.torch_data, unit=True)})"
            )
            if row.local_data is not None and row.op is not None:
                head += (
                    f"; {self.reference}'s {row.op} on the engine's own inputs gives "
                    f"{number_text(row.local_data)}, "
                    f"so the engine's {row.op} (or the value stored here) is off"
                )
            return head + "."
        head = (
            f"grad of {row.name} ({row.kind}): engine {number_text(row.engine_grad)}, {self.reference} "
            f"{number_text(row.torch_grad)} (abs {row.grad_abs:.3g}, rel {row.grad_rel:.3g}, "
            f"{ulps_text(row.grad_ulps, row.engine_grad, row.torch_grad, unit=True)})"
        )
        if i == len(self.plan) - 1:
            head += "; this is the root, whose gradient is the seed 1.0"
        else:
            exprs = ", ".join(self.expression(c) for c in self._users(i))
            head += (
                f"; it flows from {exprs}, whose own gradient and values agree: suspect the "
                f"derivative of {' / '.join(self.suspects(i, quantity))} there"
            )
            if row.local_grad is not None:
                local = number_text(row.local_grad)
                head += f" ({self.reference}'s derivative at the engine's numbers gives {local})"
        if row.witness is not None:
            described = row.witness.describe()
            head += f". {described[0].upper()}{described[1:]}"
        return head + "."

    # -- renderings -------------------------------------------------------------------------------

    def shown_positions(self, limit: int = TABLE_ROWS) -> list[int]:
        """Every row of a small graph; the mismatched and drifting rows of a large one."""
        if len(self.plan) <= limit:
            return list(range(len(self.plan)))
        notable = sorted(set(self.mismatched()) | set(self.drifted()) | set(self.witnesses))
        return notable[:limit]

    def _columns(self) -> list[tuple[str, str, str]]:
        """``(header, Row field or rendering, group)`` for the table: grad columns only when
        gradients were compared, the numeric column only where there are witnesses."""
        columns = [("#", "position", "text"), ("node", "expression", "text"), ("kind", "kind", "text")]
        twin = self.reference
        columns += [("data engine", "engine_data", "data"), (f"data {twin}", "torch_data", "data twin"),
                    ("ULP", "data_ulps", "data")]
        if self.grads_checked:
            columns += [("grad engine", "engine_grad", "grad"), (f"grad {twin}", "torch_grad", "grad twin"),
                        ("ULP", "grad_ulps", "grad")]
        if self.witnesses:
            columns.append(("numeric", "witness", "text"))
        columns.append(("status", "status", "status"))
        return columns

    def _cells(self, row: Row, columns: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
        """The row's cells as ``(text, css class)``; mismatched numbers and culprits marked."""
        cells = []
        for _, field, group in columns:
            value = getattr(row, field)
            if field.endswith("ulps"):
                quantity = field.split("_")[0]  # "data" or "grad": the two numbers the distance is between
                text = ulps_text(value, getattr(row, f"engine_{quantity}"), getattr(row, f"torch_{quantity}"))
            elif field == "witness":
                text = "" if value is None else f"{value.estimate:.10g} ({value.side})"
            elif field == "status":
                text = value + (" *" if row.culprit else "")
            elif group.startswith(("data", "grad")):
                text = number_text(value)
            else:
                text = str(value)
            ok = {"data": row.data_ok, "grad": row.grad_ok, "status": row.ok}.get(group.split()[0], True)
            css = "tg-text" if group == "text" else "" if ok else "tg-bad"
            if field == "status" and row.culprit:
                css = "tg-bad tg-culprit"
            cells.append((text, css))
        return cells

    def table(self, limit: int = TABLE_ROWS) -> str:
        positions = self.shown_positions(limit)
        columns = self._columns()
        rows = [[text for text, _ in self._cells(self.row(i), columns)] for i in positions]
        text = text_table([header for header, _, _ in columns], rows)
        hidden = len(self.plan) - len(positions)
        if hidden:
            text += f"\n... {hidden} more rows, all agreeing with {self.reference}"
        return text + "\n(* a divergence starts here)" if self._culprits else text

    def __str__(self) -> str:
        return f"{self.summary}\n\n{self.table()}"

    def __repr__(self) -> str:
        verdict = "ok" if self.ok else f"{len(self.mismatched())} mismatched"
        return f"<ParityReport {len(self.plan)} nodes: {verdict}>"

    def _repr_html_(self) -> str:
        columns = self._columns()
        positions = self.shown_positions()
        rows = [self._cells(self.row(i), columns) for i in positions]
        hidden = len(self.plan) - len(rows)
        caption = self.summary + (f" ({hidden} agreeing rows not shown)" if hidden else "")
        side = [k for k, (_, _, group) in enumerate(columns) if group.endswith("twin")]
        return html_table([header for header, _, _ in columns], rows, caption, side=side)

    def to_dict(self, rows: str = "all") -> dict[str, Any]:
        """JSON-ready: ``rows`` is ``"all"``, ``"mismatched"`` or ``"none"``."""
        if rows not in ("all", "mismatched", "none"):
            raise ValueError(f"rows must be 'all', 'mismatched' or 'none', not {rows!r}")
        positions = {
            "all": range(len(self.plan)),
            "mismatched": sorted(set(self.mismatched()) | set(self.drifted())),
            "none": (),
        }[rows]
        return jsonable(
            {
                "ok": self.ok,
                "reference": self.reference,
                "summary": self.summary,
                "nodes": len(self.plan),
                "tolerance": asdict(self.tolerance),
                "mismatched": self.mismatched(),
                "culprits": sorted(self.culprits()),
                "first_divergences": [{"position": i, "quantity": q} for i, q in self.first_divergences()],
                "rows": [self.row(i).to_dict() for i in positions],
            }
        )

    def reproducer(self, check: str = "assert_parity", arguments: Sequence[str] = ()) -> str:
        """Python that rebuilds this graph as the report saw it and runs ``check`` on it.

        The graph is rebuilt with the engine that made it, and with the data and
        gradients this report read: when the gradients did not come from a
        ``backward()`` this check ran, they are written into the nodes and checked with
        ``backward=False``. The resolver and tolerances the check used are passed on.
        Raises `NotReproducibleError` (saying why) when a fresh script cannot name the
        engine or the resolver.
        """
        imports: list[str] = []
        options = [*arguments]
        if not self.backward:
            options.append("backward=False")
        if self.resolver is not None:
            options.append(f"resolver={resolver_source(self.resolver, imports)}")
        if self.tolerance.rtol != DEFAULT_RTOL:
            options.append(f"rtol={self.tolerance.rtol!r}")
        if self.tolerance.atol != DEFAULT_ATOL:
            options.append(f"atol={self.tolerance.atol!r}")
        grads = None if self.backward else self.engine_grad
        return self.recipe.source(check, grads=grads, arguments=options, imports=imports)

    def failure_message(self, limit: int = TABLE_ROWS, *, reproducer: bool = True) -> str:
        """The summary and the offending rows; the reproducer too for a small graph."""
        text = f"{self.summary}\n\n{self.table(limit)}"
        if reproducer and len(self.plan) <= limit:
            text += "\n\n" + reproducer_text(self.reproducer)
        return text

    def draw(self, positions: Iterable[int] | None = None, **options: Any) -> Any:
        """The graph with torch's values beside the engine's; what differs coloured (red
        where a divergence starts, orange where it is inherited), the suspect op thick red.

        ``positions`` draws only those nodes (an excerpt: see `around`), marked as in the
        whole drawing. Nodes without a label are called by the report's names.
        """
        from ..draw import draw_dot

        graph = self.plan.graph
        return draw_dot(graph.root, report=self, graph=graph, positions=positions, **options)

    def around(self, centre: int | None = None, size: int = EXCERPT) -> list[int]:
        """About ``size`` positions nearest ``centre`` (default: the first divergence, else
        the root), both upstream and downstream, in order: the excerpt of a large graph
        to draw. The ops this report suspects for ``centre`` are always among them."""
        if centre is None:
            first = self.first_divergences()
            centre = first[0][0] if first else len(self.plan) - 1
        graph = self.plan.graph
        uses = self.plan.uses()
        kept = {centre, *self._users(centre)}
        ring = sorted(kept)
        while ring and len(kept) < size:
            nearby = {j for i in ring for j in (*graph.inputs[i], *(c for c, _ in uses[i]))} - kept
            # Too many (a node used a hundred times)? Keep those numbered nearest the centre.
            ring = sorted(nearby, key=lambda j: abs(j - centre))[: size - len(kept)]
            kept.update(ring)
        return sorted(kept)


def resolver_source(resolver: Resolver, imports: list[str]) -> str:
    """How a script names ``resolver``; the import it needs is appended to ``imports``."""
    source = getattr(resolver, "source", None)
    if isinstance(source, str):  # made by symbol_resolver, which writes its own call
        imports.append("from twingrad.parity import symbol_resolver")
        return source
    module, name = importable(resolver)
    outer = name.split(".")[0]
    imports.append(f"from {module} import {outer}")
    return name


def reproducer_text(make: Callable[[], str]) -> str:
    """``Reproducer:`` and the script, or why there is none."""
    try:
        return f"Reproducer:\n{make()}"
    except NotReproducibleError as exc:
        return f"No reproducer: {exc}."
