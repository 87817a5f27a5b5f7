"""twingrad: a pure-Python scalar autograd engine with a PyTorch twin for every graph."""

from .engine import Constant, Value, grad, leaves, nudge, topological_order
from .ops import OPS, Op, op_named

__all__ = ["OPS", "Constant", "Op", "Value", "grad", "leaves", "nudge", "op_named", "topological_order"]
__version__ = "0.1.0"
