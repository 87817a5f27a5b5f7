"""The garbage-collector policies the suite runs under (see benchmarks/README.md).

``frozen``: everything alive after the imports moves to the permanent generation, so
full collections walk only what the engine under test allocated -- what a program
without torch's ~165k import-time objects sees. ``default``: CPython's collector as
it is, in a process that has imported torch -- what a parity user sees.
"""

from __future__ import annotations

import gc

POLICIES = ("frozen", "default")


def apply(policy: str) -> int:
    """Put ``policy`` in force; return how many objects were tracked before it."""
    if policy not in POLICIES:
        raise ValueError(f"GC policy must be one of {POLICIES}, not {policy!r}")
    gc.collect()
    tracked = len(gc.get_objects())
    if policy == "frozen":
        gc.freeze()
    return tracked
