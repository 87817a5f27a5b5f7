"""``twingrad check``: run twingrad's parity proof on a learner's own micrograd-style engine.

>>> from twingrad.check import check_engine              # doctest: +SKIP
>>> run = check_engine("my_engine.py:Value")
>>> print(run.summary_line())
FAIL my_engine.py:Value: 8 fail, 14 pass, 13 unsupported (35 cases)

The catalogue of cases is in `twingrad.check.cases`; each case runs isolated in a worker
process (`twingrad.check.worker`) and, when it fails, the first node that disagrees
with torch is found and the op responsible is named (`twingrad.check.runner`).
Importing this package imports neither torch nor the engine under check.
"""

from .cases import CASES, Case
from .result import STATUSES, CaseResult, CheckRun, Mismatch
from .session import DEFAULT_TIMEOUT, check_engine
from .target import TargetError
from .worker import Worker

__all__ = [
    "CASES",
    "DEFAULT_TIMEOUT",
    "STATUSES",
    "Case",
    "CaseResult",
    "CheckRun",
    "Mismatch",
    "TargetError",
    "Worker",
    "check_engine",
]
