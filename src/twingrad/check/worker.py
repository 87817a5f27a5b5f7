"""The parent's handle on one worker: a sandboxed process speaking the protocol (docs/protocol.md).

A worker serves one engine, never two: a fresh process for each `check_engine`, so
nothing one engine did (a patched builtin, a module it left behind) can meet another.
It is killed, with everything it started, when a request overruns its timeout, breaks
the protocol or ends the process; the session then starts another for the next case.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .protocol import (
    PROTOCOL,
    Answer,
    ProtocolError,
    StrayLineError,
    Trace,
    WorkerInfo,
    read_answer,
    request,
)
from .sandbox import Sandbox, SandboxError, SandboxOverflow, SandboxTimeout
from .target import bounded

PYWORKER = Path(__file__).with_name("untrusted") / "pyworker.py"
START_TIMEOUT = 30.0  # a stdlib-only worker starts in tens of milliseconds; an --exec one may compile
_LOG_TAIL = 400  # characters of the worker's stderr quoted when it dies
MAX_STRAY_LINES = 1000  # lines that answer nothing, skipped before the worker counts as broken


class WorkerTimeoutError(Exception):
    """The worker gave no answer in time; it has been killed."""

    def __init__(self, seconds: float, at: int | None) -> None:
        super().__init__(f"no answer within {seconds:g} s")
        self.seconds = seconds
        self.at = at  # the last step it said it was starting, if any


class WorkerDiedError(Exception):
    """The worker process ended (or flooded its output) in the middle of a request."""


# The Python worker's environment (the sandbox gives it nothing of the caller's): a fixed hash
# seed, so that an engine keeping nodes in sets walks them in the same order on every run.
PYTHON_ENV = {"PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
              "PYTHONSAFEPATH": "1", "PYTHONIOENCODING": "utf-8"}


def python_command(python: str | None = None) -> list[str]:
    """The Python worker under ``python`` (default: this interpreter). Not -I, which would ignore
    PYTHONHASHSEED: the environment is the sandbox's own (`PYTHON_ENV`), and the worker takes its
    own folder off sys.path where PYTHONSAFEPATH (3.11+) does not."""
    return [python or sys.executable, "-s", PYWORKER.name]


@dataclass(frozen=True)
class ExecCommand:
    """``--exec COMMAND`` made runnable in the sandbox: the folders of the files it names are
    copied into the scratch folder (``exec/0``, ``exec/1`` ...) and named there."""

    argv: list[str]
    copy_in: dict[str, Path]
    originals: dict[str, str]  # scratch prefix -> the user's folder, for paths in reports


def exec_command(command: str) -> ExecCommand:
    argv = shlex.split(command)
    if not argv:
        raise ValueError("--exec needs a command")
    out: list[str] = []
    copy_in: dict[str, Path] = {}
    originals: dict[str, str] = {}
    for k, arg in enumerate(argv):
        path = Path(arg)
        if arg.startswith("-") or not path.is_file() or (k == 0 and ("/" not in arg or path.is_absolute())):
            out.append(arg)  # an option, a word, or a program installed on this machine
            continue
        # The folder the file is named in, not the one a link leads to: a link out of it is refused
        # when the folder is copied (submitted.copy_tree), never followed to copy another folder.
        folder = bounded(Path(os.path.abspath(path)).parent)
        prefix = next((p for p, o in originals.items() if o == str(folder)), f"exec/{len(originals)}")
        originals[prefix] = str(folder)
        copy_in[prefix] = folder
        out.append(f"{'./' if k == 0 else ''}{prefix}/{path.name}")
    return ExecCommand(out, copy_in, originals)


class Worker:
    """One worker process: `start`, `load`, then any number of `run`; `close` kills it."""

    def __init__(
        self,
        command: Sequence[str] | None = None,
        *,
        copy_in: Mapping[str, Path] | None = None,
    ) -> None:
        self.command = list(command) if command is not None else python_command()
        files = dict(copy_in or {})
        if command is None or self.command[-1] == PYWORKER.name:
            files[PYWORKER.name] = PYWORKER
        env = PYTHON_ENV if files.get(PYWORKER.name) == PYWORKER else {}
        self._sandbox = Sandbox(self.command, copy_in=files, env=env)
        self._requests = 0
        self.traffic: list[bytes] | None = None  # every line received, when a caller wants to see them
        self.stray: list[str] = []  # why each skipped line was skipped (--protocol-only reports them)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, timeout: float = START_TIMEOUT) -> WorkerInfo:
        self._sandbox.start()
        answer = self._exchange("hello", {"protocol": PROTOCOL}, timeout)
        if answer.protocol != PROTOCOL:
            raise ProtocolError(
                f"the worker speaks protocol version {answer.protocol}; twingrad speaks {PROTOCOL}"
            )
        assert answer.worker is not None
        return answer.worker

    def load(
        self,
        target: Mapping[str, str] | None,
        spellings: Mapping[str, str],
        timeout: float,
        path: Sequence[str] = (),
    ) -> Answer:
        return self._exchange(
            "load", {"target": target, "path": list(path), "spellings": dict(spellings)}, timeout
        )

    def run(self, programs: Sequence[Mapping[str, Any]], timeout: float) -> list[Trace]:
        return self._exchange("run", {"programs": list(programs)}, timeout).traces

    def close(self) -> None:
        self._sandbox.close()

    def stderr_tail(self) -> str:
        lines = self._sandbox.stderr_tail(_LOG_TAIL).strip().splitlines()
        return lines[-1] if lines else ""

    def _exchange(self, kind: str, fields: dict[str, Any], timeout: float) -> Answer:
        """Send one request; follow its progress messages; return its validated answer."""
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive finite number of seconds, not {timeout!r}")
        sent = request(self._requests, kind, **fields)
        self._requests += 1
        try:
            self._sandbox.send((json.dumps(sent, allow_nan=False) + "\n").encode())
        except SandboxError as exc:  # it exited since its last answer, or stopped reading
            self.close()
            raise WorkerDiedError(str(exc)) from None
        deadline = time.monotonic() + timeout
        at: int | None = None
        while True:
            try:
                line = self._sandbox.receive(max(0.0, deadline - time.monotonic()))
            except SandboxTimeout:
                self.close()
                raise WorkerTimeoutError(timeout, at) from None
            except SandboxOverflow as exc:
                self.close()
                raise WorkerDiedError(f"it wrote {exc}") from None
            if line is None:
                code = self._sandbox.wait(1.0)  # its output closed: it is ending, or has
                tail = self.stderr_tail()
                self.close()
                raise WorkerDiedError(f"the process ended (exit code {code})" + (f": {tail}" if tail else ""))
            if self._sandbox.output_overflowed:
                self.close()
                raise WorkerDiedError(f"it printed more than {self._sandbox.limits.output_bytes >> 20} MiB")
            if self.traffic is not None:
                self.traffic.append(line)
            try:
                answer = read_answer(line, sent)
            except StrayLineError as exc:
                # Not an answer to this request: the engine may write to the pipe itself (it shares
                # the process), but it cannot know the nonce of a request not yet sent. Skip it.
                self.stray.append(str(exc))
                if len(self.stray) > MAX_STRAY_LINES:
                    self.close()
                    raise ProtocolError(f"more than {MAX_STRAY_LINES} lines that answer nothing") from None
                continue
            except ProtocolError:
                self.close()
                raise
            if isinstance(answer, int):
                at = answer
                continue
            return answer
