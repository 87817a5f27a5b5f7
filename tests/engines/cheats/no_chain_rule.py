"""No chain rule: each node's gradient is the sum of its local derivatives, never multiplied along a path.

The numbers look like derivatives (they are the right ones for a graph one op deep), but
nothing flows back from the output.
"""

from __future__ import annotations

from forward import Forward


class Value(Forward):
    def backward(self) -> None:
        self.grad += 1.0
        for node in self.nodes():
            for child, local in zip(node._prev, node._local):
                child.grad += local
