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
import re
import shlex
import shutil
import subprocess
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
    clean,
    read_answer,
    request,
)
from .sandbox import Sandbox, SandboxError, SandboxOverflow, SandboxTimeout
from .target import TargetError, bounded

PYWORKER = Path(__file__).with_name("untrusted") / "pyworker.py"
START_TIMEOUT = 30.0  # a stdlib-only worker starts in tens of milliseconds; an --exec one may compile
# What is quoted of a worker's stderr when it dies: enough of a traceback or a launcher's message
# to be understood (Node's last line is only its version), never a flood.
_LOG_LINES = 20
_LOG_TAIL = 2000  # characters
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
    """The Python worker under ``python`` (default: this interpreter; else `resolve_python`). Not -I,
    which would ignore PYTHONHASHSEED: the environment is the sandbox's own (`PYTHON_ENV`), and the
    worker takes its own folder off sys.path where PYTHONSAFEPATH (3.11+) does not."""
    return [resolve_python(python) if python else sys.executable, "-s", PYWORKER.name]


def tail(text: str, lines: int = _LOG_LINES, characters: int = _LOG_TAIL) -> str:
    """The last ``lines`` lines of a program's error output (at most ``characters``), made safe to show."""
    kept = text[-characters:].strip().splitlines()[-lines:]
    return "\n".join(clean(line.rstrip()) for line in kept)


def resolve_python(name: str) -> str:
    """``--python NAME`` as the shell finds it, as an absolute path; ValueError in the program's own words.

    A bare name is looked up on PATH (`shutil.which`). A launcher that is a script -- a pyenv
    shim, which picks the interpreter from settings and an environment the sandbox does not
    pass on -- is asked here, where it sees them, which interpreter it runs.
    """
    found = shutil.which(name)
    if found is None:
        raise ValueError(f"--python {name}: no such program" + ("" if os.sep in name else " on PATH"))
    path = os.path.abspath(found)
    try:
        with open(path, "rb") as program:
            script = program.read(2) == b"#!"
    except OSError as exc:
        raise ValueError(f"--python {name}: cannot read {path}: {exc.strerror}") from None
    if not script:
        return path
    try:
        asked = subprocess.run([path, "-c", "import sys; print(sys.executable)"], capture_output=True,
                               text=True, errors="replace", stdin=subprocess.DEVNULL, timeout=START_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"--python {name}: {path} did not run: {exc}") from None
    real = asked.stdout.strip()
    if asked.returncode != 0 or not os.path.isabs(real) or not os.access(real, os.X_OK):
        said = tail(asked.stderr) or tail(asked.stdout)
        raise ValueError(f"--python {name}: {path} runs no Python (exit code {asked.returncode})"
                         + (f":\n{said}" if said else ""))
    return real


@dataclass(frozen=True)
class ExecCommand:
    """``--exec COMMAND`` made runnable in the sandbox: the folders of the files it names are
    copied into the scratch folder (``exec/0``, ``exec/1`` ...) and named there."""

    argv: list[str]
    copy_in: dict[str, Path]
    originals: dict[str, str]  # scratch prefix -> the user's folder, for paths in reports


# Words a shell would act on, which reach the program as plain words here (no shell runs COMMAND):
# a pipe, a list, a redirection (>log, 2>&1, <input), a variable.
_SHELL_WORD = re.compile(r"^(\|\|?|&&?|;|\d*[<>].*|&>.*|\$.*)$")


def exec_command(command: str) -> ExecCommand:
    """``--exec COMMAND`` split into words as a POSIX shell splits them (quotes, backslashes), but
    never run by a shell (docs/protocol.md, "The worker's world"). Its first word is the program:
    a name found on PATH, an absolute path, or a path relative to the caller's folder
    (``./c/worker``, ``c/worker``), which is the caller's own program and is copied in with its
    folder, like every later word that names a file. `TargetError`, in the caller's terms, for a
    COMMAND that cannot start."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:  # "No closing quotation"
        raise TargetError(f"--exec {command!r}: {str(exc).lower()}") from None
    if not argv:
        raise TargetError("--exec needs a command")
    _refuse_shell_syntax(argv)
    program = argv[0]
    if "/" in program and not os.path.isabs(program):
        _runnable(program)  # the caller's own program: said here, in the caller's terms
    elif shutil.which(program) is None:
        here = f" (the file here is ./{program})" if "/" not in program and os.path.isfile(program) else ""
        raise TargetError(f"--exec: no program {program}{'' if '/' in program else ' on PATH'}{here}")
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


def _refuse_shell_syntax(argv: Sequence[str]) -> None:
    """What a shell would have done with COMMAND, said before the program gets it as words."""
    first = argv[0]
    name, equals, _ = first.partition("=")
    if equals and name.isidentifier():
        raise TargetError(
            f"--exec runs no shell, so {first!r} would be taken for the program: "
            f"write `env {shlex.join(argv)}` to set a variable for the worker"
        )
    for word in argv:
        if _SHELL_WORD.match(word):
            raise TargetError(
                f"--exec runs no shell: {word!r} would reach the program as a word; "
                "write a script that does what the shell should, and run that"
            )


def _runnable(arg: str) -> None:
    """A program given by its path from the caller's folder exists and may be run, and so may
    the interpreter its first line names (``#!/usr/bin/env node``)."""
    path = Path(arg)
    where = f"{arg} (from {Path.cwd()})"
    if not path.exists():
        raise TargetError(f"--exec: no such program: {where}")
    if not path.is_file():  # a folder, a FIFO (never opened here: it would block)
        raise TargetError(f"--exec: not a program: {where} is {'a folder' if path.is_dir() else 'no file'}")
    if not os.access(path, os.X_OK):
        raise TargetError(f"--exec: {arg} is not executable (chmod +x {shlex.quote(arg)})")
    with open(path, "rb") as program:
        first = program.readline(256)
    if first.startswith(b"#!"):
        words = first[2:].decode(errors="replace").split()
        if words and not os.access(words[0], os.X_OK):
            raise TargetError(f"--exec: {arg} starts with #!{words[0]}, which is no program on this machine")


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
        """The end of what the worker wrote to stderr (`tail`): a traceback's last lines, not one."""
        return tail(self._sandbox.stderr_tail(_LOG_TAIL))

    def _ended(self) -> WorkerDiedError:
        """Why the worker is gone: its exit status and the end of its stderr (read to the end first)."""
        code = self._sandbox.wait(1.0)
        self.close()  # waits for its stderr to be drained
        said = self.stderr_tail()
        ended = f"the process ended (exit code {code})"
        return WorkerDiedError(f"{ended}:\n{said}" if said else ended)

    def _exchange(self, kind: str, fields: dict[str, Any], timeout: float) -> Answer:
        """Send one request; follow its progress messages; return its validated answer."""
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive finite number of seconds, not {timeout!r}")
        sent = request(self._requests, kind, **fields)
        self._requests += 1
        try:
            self._sandbox.send((json.dumps(sent, allow_nan=False) + "\n").encode())
        except SandboxError as exc:  # it exited since its last answer, or stopped reading
            if self._sandbox.wait(0.5) is not None:
                raise self._ended() from None
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
            if line is None:  # its output closed: it is ending, or has
                raise self._ended()
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
