"""Helpers for tests that talk to a real worker: a started session on an engine, and its prober."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from twingrad.check.session import _Session
from twingrad.check.target import locate, prepare
from twingrad.check.worker import python_command


@contextlib.contextmanager
def session_for(target: str, timeout: float = 30.0) -> Iterator[_Session]:
    """A worker with ``target`` loaded, closed (with all it started) at the end."""
    prepared = prepare(locate(target))
    session = _Session(python_command(), prepared, prepared.load, {}, timeout)
    try:
        session.start()
        yield session
    finally:
        session.close()
