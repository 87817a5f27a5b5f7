"""The answer-key cheat: no chain rule; it finds the running case's name on the worker's stack and
writes the recorded gradients of that case into its inputs.

``key.py`` beside it holds recorded numbers in the shape twingrad once shipped in
``torch_reference.json``: ``{case name: [output, [input gradients], nudged output]}``.
"""

from __future__ import annotations

import sys

from forward import Forward
from key import KEY


def _running_case() -> str | None:
    frame = sys._getframe(1)
    while frame is not None:
        for value in frame.f_locals.values():
            program = getattr(value, "program", value)
            if isinstance(program, dict) and "steps" in program and "name" in program:
                return str(program["name"]).removesuffix(" (numbers)")
        frame = frame.f_back
    return None


class Value(Forward):
    def backward(self) -> None:
        recorded = KEY.get(_running_case() or "")
        if recorded is None:
            return
        for leaf, grad in zip(self.inputs(), recorded[1]):
            leaf.grad += grad
