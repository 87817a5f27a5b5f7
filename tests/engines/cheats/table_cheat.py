"""The table cheat: no chain rule, no file read, no stack inspection -- a table of gradients built
by an earlier run, keyed by the ops it sees and the labels and values of its inputs (`table_key`).

``table.py`` beside it holds ``TABLE = {key: {label: gradient}}``.
"""

from __future__ import annotations

from forward import Forward, table_key
from table import TABLE


class Value(Forward):
    def backward(self) -> None:
        known = TABLE.get(table_key(self), {})
        for leaf in self.inputs():
            leaf.grad += known.get(leaf.label, 0.0)
