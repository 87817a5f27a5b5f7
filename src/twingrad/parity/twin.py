"""What a graph is replayed with: torch, or twingrad's own op table in plain floats.

Both twins replay a `Plan` in float64 and answer the same three questions: every node's
value and gradient (``mirror``), an op's value on the engine's own operands
(``apply_op``) and its vector-Jacobian product there (``op_vjp``).

* `TORCH` (`twingrad.parity.mirror`) is torch itself: torch's kernels and autograd. The
  parity API (`compare`, the pytest fixture, the notebooks) always uses it.
* `TABLE` (`twingrad.parity.table`) is the op table's ``forward`` and ``grad``, the
  formulas of torch's ``derivatives.yaml`` written out in Python floats. It agrees with
  torch bit for bit on +, -, *, /, neg, relu and abs and within 2 ULP on the
  transcendental ops (`tests/test_ops.py`), far inside every tolerance; on random graphs
  both replays find the same divergences (`tests/test_parity_table.py`). It needs no
  torch, so `twingrad check` explains a failure without paying torch's import (seconds)
  and labels those numbers "twingrad", not "torch".

Each twin's module is imported on first use, so choosing `TABLE` never imports torch.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..verdict import BY_TORCH, BY_TWINGRAD

if TYPE_CHECKING:
    from .plan import Plan


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a replay, then restore it.

    Tracing, planning and reading a graph allocate a few Python objects per node and no
    reference cycles, so reference counting frees everything; the collector would only
    walk torch's ~165k import-time objects again and again (~65 ms a full pass) while
    those objects pile up.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class Twin:
    """One way of replaying a graph; ``name`` is what reports call its numbers."""

    name: str
    module: str  # the submodule of twingrad.parity with its Mirror, apply_op and op_vjp

    @property
    def _impl(self) -> ModuleType:
        return importlib.import_module(f"twingrad.parity.{self.module}")

    def mirror(self, plan: Plan) -> Any:
        """A replay of ``plan``: ``run(data, grad=...)``, then ``values()`` and ``gradients()``."""
        return self._impl.Mirror(plan)

    def apply_op(self, op: Any, args: Any) -> Any:
        return self._impl.apply_op(op, args)

    def op_vjp(self, op: Any, args: Any, out: Any, upstream: Any) -> Any:
        return self._impl.op_vjp(op, args, out, upstream)


TORCH = Twin(BY_TORCH, "mirror")
TABLE = Twin(BY_TWINGRAD, "table")
