"""`check_function`: one function, run on an engine's values and on torch tensors.

The function is written once against the API both share -- operators with numbers on
either side, ``**``, ``.exp() .log() .tanh() .relu() .sigmoid()``, ``abs`` -- and is
called with ``engine(x)`` for each input, then with float64 tensors. Three things are
compared: the output, the gradient of every input, and the output after a nudge
(``x + step * grad`` on each side, with its own gradients). The engine can be any
micrograd-style class; whatever it does -- raise, return ``None`` or a plain float,
leave ``grad`` as ``None`` -- becomes the report's status and detail, never an
exception out of here. (A function that fails on torch tensors is the caller's bug
and does raise.)

When a number disagrees and the engine exposes its graph, the graph is mirrored too
(`compare`), which names the first node that diverges. If that graph report finds
nothing wrong and torch's replay of the engine's graph reproduces torch's own run of
the function, the gap is rounding the function amplifies, and the check passes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..engine import Value
from ..examples import name as set_label
from ..verdict import BY_TORCH, ERROR, FAIL, PASS, Mismatch
from .plan import Resolver
from .rendering import CheckTable, jsonable, nudge_sides, number_text, ulps_text
from .report import ParityReport
from .tolerances import Tolerance, difference
from .twin import TORCH, Twin

AGREE = "output, input gradients and nudged output agree with torch"  # a passing report's detail


class EngineProblemError(Exception):
    """Something the engine did that a report describes (not a bug of this module)."""


@dataclass(frozen=True)
class Check:
    """One compared number: the output, an input's gradient, or the output after the nudge."""

    where: str  # "output", an input's name, or "output after nudge"
    quantity: str  # "data" or "grad"
    engine: float
    torch: float
    abs: float
    rel: float
    ulps: float
    ok: bool


@dataclass(repr=False)
class FunctionReport(CheckTable):
    """The verdict on one function: ``status`` is ``'pass'``, ``'fail'`` or ``'error'``."""

    name: str
    inputs: dict[str, float]
    status: str
    detail: str
    checks: list[Check] = field(default_factory=list)
    mismatch: Mismatch | None = None
    phase: str | None = None  # where an error happened: inputs, forward, backward, nudge
    error: BaseException | None = None
    step: float = 0.0
    engine_before: float | None = None
    engine_after: float | None = None
    torch_before: float | None = None
    torch_after: float | None = None
    engine_predicted: float | None = None
    torch_predicted: float | None = None
    torch_grads: list[float] = field(default_factory=list)
    graph: ParityReport | None = None  # the engine's graph against its torch replay
    graph_error: BaseException | None = None  # why there is no `graph` when one was attempted
    output: Any = None  # the engine's output node
    reference: str = BY_TORCH  # whose numbers the torch_* fields hold (`twingrad.verdict.BY_TORCH`, ...)

    @property
    def ok(self) -> bool:
        return self.status == PASS

    @property
    def summary(self) -> str:
        head = f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.inputs.items())}): {self.status}"
        return f"{head} -- {self.detail}"

    HEADERS = ("where", "quantity", "engine", "torch", "abs", "rel", "ULP", "ok")

    def _rows(self) -> list[list[str]]:
        return [
            [c.where, c.quantity, number_text(c.engine), number_text(c.torch), f"{c.abs:.3g}",
             f"{c.rel:.3g}", ulps_text(c.ulps, c.engine, c.torch), "ok" if c.ok else "MISMATCH"]
            for c in self.checks
        ]

    def _row_oks(self) -> list[bool]:
        return [c.ok for c in self.checks]

    def __str__(self) -> str:
        text = super().__str__() if self.checks else self.summary
        if self.graph is not None and not self.graph.ok:
            text += "\n\nThe engine's graph:\n" + self.graph.failure_message()
        return text

    def _repr_html_(self) -> str:
        graph = "" if self.graph is None else self.graph._repr_html_()
        return super()._repr_html_() + graph

    def __repr__(self) -> str:
        return f"<FunctionReport {self.name}: {self.status}>"

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "name": self.name,
                "inputs": self.inputs,
                "status": self.status,
                "detail": self.detail,
                "phase": self.phase,
                "mismatch": None if self.mismatch is None else self.mismatch.to_dict(),
                "checks": [asdict(c) for c in self.checks],
                "nudge": {
                    "step": self.step,
                    **nudge_sides(
                        (self.engine_before, self.engine_after, self.engine_predicted),
                        (self.torch_before, self.torch_after, self.torch_predicted),
                    ),
                },
                "graph": None if self.graph is None else self.graph.to_dict(rows="mismatched"),
            }
        )


def check_function(
    fn: Callable[..., Any],
    inputs: Sequence[float] | Mapping[str, float],
    *,
    engine: Callable[[float], Any] = Value,
    step: float = 0.01,
    rtol: float | None = None,
    atol: float | None = None,
    resolver: Resolver | None = None,
    name: str | None = None,
) -> FunctionReport:
    """Run ``fn`` on ``engine(x)`` values and on float64 tensors; compare output, input
    gradients and the nudged output.

    ``inputs`` is a sequence (``fn(*values)``, inputs named ``x0, x1, ...``) or a
    mapping (``fn(**values)``). ``engine`` is any micrograd-style class (or factory)
    taking a number. ``resolver`` helps mirror the engine's graph when something
    disagrees (see `twingrad.parity.mirror`).
    """
    names, values, keyword = _inputs(inputs)
    tolerance = Tolerance.of(rtol, atol)
    report = start_report(fn, names, values, keyword, float(step), name)

    phase = "inputs"
    try:
        xs = [set_label(engine(v), n) for n, v in zip(names, values)]
        phase = "forward"
        out = _call(fn, names, xs, keyword)
        report.output = out
        if not _is_node(out):
            with contextlib.suppress(TypeError, ValueError, OverflowError):
                report.engine_before = float(out)
            raise EngineProblemError(
                f"{report.name} returned {_describe(out)}, not a node of the engine: the graph was cut "
                "(did an operator return a plain number?)"
            )
        engine_before = _engine_number(out.data, "the output's data")
        phase = "backward"
        out.backward()
        engine_grads = [_engine_number(getattr(x, "grad", None), f"{n}.grad") for n, x in zip(names, xs)]
        phase = "nudge"
        engine_after = _engine_nudge(fn, names, values, keyword, xs, out, engine_grads, float(step), engine)
    except Exception as exc:  # the engine's failure is the result, not a crash
        return _errored(report, phase, exc)
    return judge_run(report, xs, out, engine_before, engine_grads, engine_after, resolver, tolerance)


def start_report(fn: Callable[..., Any], names: Sequence[str], values: Sequence[float], keyword: bool,
                 step: float, name: str | None = None) -> FunctionReport:
    """A report holding torch's side of ``fn`` at ``values``: output, input gradients, nudged output."""
    before, grads, after = _torch_run(fn, list(names), list(values), keyword, step)
    title = name or getattr(fn, "__name__", "fn")
    return torch_report(title, dict(zip(names, values)), step, before, grads, after)


def torch_report(name: str, inputs: dict[str, float], step: float, before: float, grads: Sequence[float],
                 after: float, reference: str = BY_TORCH) -> FunctionReport:
    """A report holding the expected numbers -- torch's, or ``reference``'s (the op table's twin) --
    for `judge_run` to add the engine's."""
    report = FunctionReport(name, inputs, PASS, "", step=step, reference=reference)
    report.torch_before, report.torch_grads, report.torch_after = before, list(grads), after
    report.torch_predicted = step * sum(g * g for g in grads)
    return report


def judge_run(report: FunctionReport, xs: Sequence[Any], out: Any, engine_before: float,
              engine_grads: Sequence[float], engine_after: float, resolver: Resolver | None,
              tolerance: Tolerance, graph: bool = True, twin: Twin = TORCH) -> FunctionReport:
    """Compare an engine's run of the function (its numbers and graph, live or as traced) with
    torch's side of ``report``; localise in the engine's graph when they disagree (``graph``:
    when the graph can be walked at all), replaying it with ``twin``."""
    report.output = out
    report.engine_before = engine_before
    report.engine_after = engine_after
    names = list(report.inputs)
    report.checks.append(_check("output", "data", engine_before, report.torch_before, tolerance))
    for n, mine, theirs in zip(names, engine_grads, report.torch_grads):
        report.checks.append(_check(n, "grad", mine, theirs, tolerance))
    if graph and not all(c.ok for c in report.checks):
        report.graph, report.graph_error = _localise(out, resolver, tolerance, twin)
    report.engine_predicted = report.step * sum(g * g for g in engine_grads)
    report.checks.append(_check("output after nudge", "data", engine_after, report.torch_after, tolerance))
    return _verdict(report, names, list(xs), report.torch_grads, tolerance)


# -- the two runs ------------------------------------------------------------------------------


def _inputs(inputs: Sequence[float] | Mapping[str, float]) -> tuple[list[str], list[float], bool]:
    if isinstance(inputs, Mapping):
        names = [str(k) for k in inputs]
        return names, [float(v) for v in inputs.values()], True
    values = [float(v) for v in inputs]
    return [f"x{k}" for k in range(len(values))], values, False


def _call(fn: Callable[..., Any], names: list[str], args: list[Any], keyword: bool) -> Any:
    return fn(**dict(zip(names, args))) if keyword else fn(*args)


def _torch_run(
    fn: Callable[..., Any], names: list[str], values: list[float], keyword: bool, step: float
) -> tuple[float, list[float], float]:
    """Torch's output, input gradients and nudged output: the reference."""
    import torch  # here, not at import: whoever compares with the op table's twin never needs it

    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    try:
        out = _call(fn, names, ts, keyword)
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            raise TypeError(f"it returned {_describe(out)}, not a one-element tensor")
        out.backward()
        grads = [0.0 if t.grad is None else t.grad.item() for t in ts]  # None: the input is unused
        with torch.no_grad():
            nudged = [torch.tensor(v, dtype=torch.float64) + step * g for v, g in zip(values, grads)]
            after = _call(fn, names, nudged, keyword)
    except Exception as exc:
        raise ValueError(f"the function fails on torch tensors, so it cannot be checked: {exc!r}") from exc
    return out.item(), grads, float(after)


def _engine_nudge(
    fn: Callable[..., Any],
    names: Sequence[str],
    values: Sequence[float],
    keyword: bool,
    xs: Sequence[Any],
    out: Any,
    grads: Sequence[float],
    step: float,
    engine: Callable[[float], Any],
) -> float:
    """The engine's output after ``x += step * grad``: re-evaluated in place where the
    engine can (``recompute``; the graph is then put back), by calling ``fn`` again on
    fresh values otherwise."""
    if callable(getattr(out, "recompute", None)):
        originals = [x.data for x in xs]
        for x, g in zip(xs, grads):
            x.data += step * g
        try:
            out.recompute()
            return _engine_number(out.data, "the nudged output's data")
        finally:  # leave the graph as it was checked, so report.graph and a drawing agree
            for x, original in zip(xs, originals):
                x.data = original
            out.recompute()
    nudged = [set_label(engine(v + step * g), n) for n, v, g in zip(names, values, grads)]
    again = _call(fn, names, nudged, keyword)
    if not _is_node(again):
        raise EngineProblemError(f"on the nudged inputs the function returned {_describe(again)}, not a node")
    return _engine_number(again.data, "the nudged output's data")


# -- judging -------------------------------------------------------------------------------------


def _check(where: str, quantity: str, engine: float, reference: float, tolerance: Tolerance) -> Check:
    absolute, relative, ulps = difference(engine, reference)
    ok = tolerance.close(engine, reference)
    return Check(where, quantity, engine, reference, absolute, relative, ulps, ok)


def _localise(
    out: Any, resolver: Resolver | None, tolerance: Tolerance, twin: Twin
) -> tuple[ParityReport | None, BaseException | None]:
    """The engine's graph against ``twin``'s replay of it, or why it cannot be had."""
    try:
        from .comparison import compare  # only once something disagrees

        report = compare(
            out, backward=False, rtol=tolerance.rtol, atol=tolerance.atol, resolver=resolver, twin=twin
        )
        return report, None
    except Exception as exc:  # best effort: a graph we cannot mirror just goes without localisation
        return None, exc


def _verdict(
    report: FunctionReport, names: list[str], xs: list[Any], torch_grads: list[float], tolerance: Tolerance
) -> FunctionReport:
    bad = [c for c in report.checks if not c.ok]
    if not bad:
        report.detail = AGREE
        return report
    first = bad[0]
    report.mismatch = Mismatch(first.where, first.quantity, first.engine, first.torch, report.reference)
    if _explained(report, xs, torch_grads, tolerance):
        report.detail = (
            f"{len(bad)} number(s) beyond tolerance (first: {first.quantity} of {first.where}, engine "
            f"{number_text(first.engine)}, {report.reference} {number_text(first.torch)}), but every op "
            f"of the engine's graph agrees with {report.graph.reference} locally: rounding the function "
            "amplifies"
        )
        return report
    report.status = FAIL
    report.detail = (
        f"{first.quantity} of {first.where}: engine {number_text(first.engine)}, {report.reference} "
        f"{number_text(first.torch)} (rel {first.rel:.3g})"
    )
    graph = report.graph
    if graph is not None and graph.first_divergences():
        i, quantity = graph.first_divergences()[0]
        ops = " / ".join(graph.suspects(i, quantity))
        report.detail += (
            f"; in the engine's graph the {quantity} of {graph.expression(i)} is the first to diverge "
            f"(suspect: {ops})"
        )
    if _precision_loss(bad):
        report.detail += "; precision loss: the gaps look like float32 rounding (relative 1e-9 to 1e-6)"
    return report


def _explained(report: FunctionReport, xs: list[Any], torch_grads: list[float], tolerance: Tolerance) -> bool:
    """Does the engine's graph agree with its replay, and the replay with torch's run of fn?"""
    graph = report.graph
    if graph is None or not graph.ok or report.torch_before is None:
        return False
    if not tolerance.close(float(graph.torch_data[-1]), report.torch_before):
        return False
    for x, reference in zip(xs, torch_grads):
        try:
            replayed = float(graph.torch_grad[graph.plan.graph.position(x)])
        except KeyError:
            replayed = 0.0  # the input is not in the engine's graph at all
        if not tolerance.close(0.0 if math.isnan(replayed) else replayed, reference):
            return False
    return True


def _precision_loss(bad: list[Check]) -> bool:
    return all(1e-9 <= c.rel <= 1e-6 for c in bad)


def _errored(report: FunctionReport, phase: str, exc: BaseException) -> FunctionReport:
    report.status = ERROR
    report.phase = phase
    report.error = exc
    if isinstance(exc, EngineProblemError):
        report.detail = str(exc)
    else:
        report.detail = f"{phase}: {type(exc).__name__}: {exc}"
    return report


# -- reading an unknown engine ------------------------------------------------------------------


def _is_node(x: Any) -> bool:
    return hasattr(x, "data") and callable(getattr(x, "backward", None))


def _describe(x: Any) -> str:
    if x is None:
        return "None"
    text = repr(x)
    return f"a {type(x).__name__} ({text[:40]}{'...' if len(text) > 40 else ''})"


def _engine_number(x: Any, what: str) -> float:
    if x is None:
        raise EngineProblemError(f"{what} is None")
    try:
        return float(x)
    except (TypeError, ValueError, OverflowError):
        raise EngineProblemError(f"{what} is {_describe(x)}, not a number") from None
