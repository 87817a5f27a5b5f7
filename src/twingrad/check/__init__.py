"""``twingrad check``: run twingrad's parity proof on a learner's own micrograd-style engine.

>>> from twingrad.check import check_engine              # doctest: +SKIP
>>> run = check_engine("my_engine.py:Value")
>>> print(run.summary_line())
FAIL my_engine.py:Value: 8 fail, 14 pass, 13 unsupported (36 cases, seed 2914066151)

The learner's engine is untrusted code. It runs in a sandboxed worker process
(`untrusted/pyworker.py`, or any program speaking docs/protocol.md) that only reports
numbers and the graph it sees; the expected numbers (`reference`), the comparison and
every verdict are computed in this process (`judge`). The catalogue of cases is in
`cases`; each run checks most of them at inputs drawn from a fresh seed (`inputs`), and
``check_engine(..., seed=N)`` replays a run.
Importing this package imports neither torch nor the engine under check.
"""

from .cases import CASES, Case
from .result import STATUSES, CaseResult, CheckRun, Mismatch, SourceLine
from .session import DEFAULT_TIMEOUT, check_engine
from .target import TargetError

__all__ = [
    "CASES",
    "DEFAULT_TIMEOUT",
    "STATUSES",
    "Case",
    "CaseResult",
    "CheckRun",
    "Mismatch",
    "SourceLine",
    "TargetError",
    "check_engine",
]
