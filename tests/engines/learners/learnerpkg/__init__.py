"""A learner's engine as a package: ``learnerpkg.engine.Value`` with its rules in ``learnerpkg.rules``.

Correct. Checked as ``learnerpkg/engine.py:Value``; engine.py imports its sibling with a
relative import (``from .rules import ...``), so it only loads as part of this package.
"""

from .engine import Value

__all__ = ["Value"]
