"""The worker process's entry point: ``python -m twingrad.check._serve`` (see `twingrad.check.worker`).

A module of its own, so that running it never executes `worker` a second time as ``__main__``.
"""

from .worker import serve

serve()
