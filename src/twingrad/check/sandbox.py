"""The sandbox that runs the untrusted worker: what it may touch, and how it ends.

One `Sandbox` is one worker process. The parent talks to it through two pipes, one
line per message; the worker's stderr (the engine's prints) is drained into a bounded
buffer. How much containment is possible depends on the platform and on who we are:

* Linux with ``unshare(1)`` and namespaces (root, or a user allowed user namespaces):
  fresh PID, mount, network, IPC and UTS namespaces. The file system is read-only
  except the scratch directory; ``/root``, the caller's home and the places of service
  sockets are hidden except the interpreter's own trees; and killing the worker (the
  namespace's init) makes the kernel kill everything it started. As root, the worker
  also becomes ``nobody`` with no groups; as another user it keeps that user's id but
  loses every capability.
* Anywhere else: resource limits, a scrubbed environment, a scratch working directory
  and a process group. `applied` says which of these is in force.

`_sandbox_init.py` does the setup inside the new namespaces and then execs the worker.
Stdlib only; no torch.
"""

from __future__ import annotations

import contextlib
import marshal
import math
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

_INIT = Path(__file__).resolve().with_name("_sandbox_init.py")
_CHUNK = 1 << 16
_SETUP_TIMEOUT = 30.0  # seconds for the launcher to set up namespaces and mounts on a busy machine
# No --fork: the launcher forks the PID namespace's init itself (see _sandbox_init.py).
_NAMESPACES = ["--mount", "--pid", "--net", "--ipc", "--uts", "--propagation", "private"]
_COVERED = ("/root", "/tmp", "/var/tmp", "/run", "/var/run", "/dev/shm")


@dataclass(frozen=True)
class Limits:
    """What the worker may consume; each is enforced by the kernel or by the parent."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, not {value!r}")

    memory_bytes: int = 2 << 30  # RLIMIT_AS
    cpu_seconds: int = 600  # RLIMIT_CPU over the worker's whole life; the parent times each request
    file_bytes: int = 64 << 20  # RLIMIT_FSIZE: the largest file it may write
    open_files: int = 256  # RLIMIT_NOFILE
    # RLIMIT_NPROC counts every process (thread) of a uid; it is only applied when the worker
    # becomes `nobody`, which other sandboxes on the machine share. It also bounds the total
    # memory: each process may have memory_bytes.
    processes: int = 64
    output_bytes: int = 8 << 20  # stderr kept by the parent (head and tail); more is counted, not kept
    line_bytes: int = 32 << 20  # one protocol line from the worker, at most


class SandboxError(Exception):
    """The worker cannot be talked to as the protocol says."""


class SandboxTimeout(SandboxError):  # noqa: N818 -- reads as what happened, like TimeoutError
    """No complete line arrived in time."""


class SandboxOverflow(SandboxError):  # noqa: N818
    """The worker sent more than `Limits.line_bytes` without a newline."""


@dataclass(frozen=True)
class _Containment:
    """One rung of the ladder that `start` climbs down until a rung works."""

    namespaces: bool  # run under unshare(1) with the namespaces above
    user_namespace: bool  # ... plus a user namespace, because we are not root
    drop_to_nobody: bool

    def __str__(self) -> str:
        parts = ["namespaces" if self.namespaces else "no namespaces"]
        parts += ["a user namespace"] * self.user_namespace + ["user nobody"] * self.drop_to_nobody
        return " with ".join(parts)


# Rungs that failed in this process, with why: later sandboxes go straight to the next one.
_unavailable: dict[_Containment, str] = {}
# The rung that worked first in this process. Once there, there is no going down: a later
# failure may be passing (or caused by another worker filling nobody's process limit),
# and must not hand the next engine a weaker sandbox.
_established: set[_Containment] = set()


class _BoundedOutput:
    """Collects a stream, keeping its first and last bytes and counting the rest."""

    def __init__(self, limit: int) -> None:
        self._half = limit // 2
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self._lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self._lock:
            self.total += len(chunk)
            room = self._half - len(self._head)
            self._head += chunk[:room]
            self._tail += chunk[max(room, 0) :]
            del self._tail[: max(0, len(self._tail) - self._half)]

    def kept(self) -> int:
        return len(self._head) + len(self._tail)

    def text(self) -> str:
        with self._lock:
            omitted = self.total - self.kept()
            middle = f"\n[... {omitted} bytes not kept ...]\n".encode() if omitted else b""
            return (bytes(self._head) + middle + bytes(self._tail)).decode(errors="replace")


class Sandbox:
    """One worker process, contained as far as this platform allows.

    >>> with Sandbox([python, "-I", "worker.py"], copy_in={"worker.py": path}) as box:  # doctest: +SKIP
    ...     box.start()
    ...     box.send(b'{"op": "hello"}')
    ...     answer = box.receive(timeout=5.0)
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        limits: Limits | None = None,
        copy_in: Mapping[str, Path] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not argv:
            raise ValueError("argv is empty: it needs at least the program to run")
        # A relative path into what copy_in brings (./exec/0/worker) names a program copied in: it
        # is found in the scratch folder, where the worker runs, once copied (below).
        inside = os.path.normpath(argv[0])
        copied = not os.path.isabs(inside) and any(
            inside == name or inside.startswith(name.rstrip("/") + "/") for name in (copy_in or {})
        )
        program = inside if copied else shutil.which(argv[0])
        if program is None:
            raise ValueError(f"cannot find the program {argv[0]!r}")
        self.argv = [program if copied else os.path.abspath(program), *argv[1:]]
        self.limits = limits or Limits()
        self.env = dict(env or {})  # added to the scrubbed environment: what the worker itself needs
        self.scratch = Path(tempfile.mkdtemp(prefix="twingrad-sandbox-")).resolve()
        try:
            self._copy_in(copy_in or {})
            if copied:
                found = shutil.which(str(self.scratch / inside))
                if found is None:
                    raise ValueError(f"{argv[0]!r} is no program that can run among the files copied in")
                self.argv[0] = found
        except BaseException:
            _remove_tree(self.scratch)
            raise
        self._containment: _Containment | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._pending = bytearray()
        self._eof = False
        self._stderr = _BoundedOutput(self.limits.output_bytes)
        self._drain: threading.Thread | None = None
        self._refused_limits: list[str] = []
        # What is in force, in words, for honest reports; filled in by start().
        self.applied: dict[str, str] = {}

    # -- lifetime ------------------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _copy_in(self, files: Mapping[str, Path]) -> None:
        for name, source in files.items():
            target = (self.scratch / name).resolve()
            if not target.is_relative_to(self.scratch) or target == self.scratch:
                raise ValueError(f"copy_in name {name!r} leaves the scratch directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            if Path(source).is_dir():
                # Links stay links: followed here, as root, they could copy in what nobody may read.
                shutil.copytree(source, target, symlinks=True, ignore=self._not_copied)
            else:
                shutil.copy2(source, target)

    def _not_copied(self, folder: str, names: list[str]) -> set[str]:
        """Hidden entries (.git, .venv) and bytecode are no part of an engine, and can be big; a
        folder holding the scratch folder itself (an engine in /tmp) is not copied into it."""
        return {n for n in names if n.startswith(".") or n == "__pycache__"
                or os.path.join(folder, n) == str(self.scratch)}

    def _give_scratch_to_nobody(self) -> None:
        for directory, _, names in os.walk(self.scratch):
            for path in [directory, *(os.path.join(directory, n) for n in names)]:
                os.lchown(path, *_nobody())

    def start(self) -> None:
        """Start the worker under the strongest containment that works here; `applied` says which."""
        if self._containment is not None:
            raise SandboxError("this sandbox was started already; use one per worker process")
        for containment in _ladder():
            if containment in _unavailable:
                continue
            failure = self._launch(containment)
            if failure is None:
                self._containment = containment
                _established.add(containment)
                self.applied = _describe(containment, self.limits, self._refused_limits)
                if _unavailable:
                    self.applied["unavailable"] = "; ".join(f"{c}: {why}" for c, why in _unavailable.items())
                return
            if containment in _established:
                raise SandboxError(
                    f"could not start the worker with {containment}, which worked before "
                    f"in this process: {failure}"
                )
            _unavailable[containment] = failure
        raise SandboxError("could not start the worker: " + "; ".join(_unavailable.values()))

    def _launch(self, containment: _Containment) -> str | None:
        """Start the worker under ``containment``; None once it runs, else why it could not."""
        if containment.drop_to_nobody:
            self._give_scratch_to_nobody()
        plan = _plan(self.argv[0], self.scratch, self.limits, containment, self.env)
        # The launcher says "ok" on this pipe once everything is in place, just before it
        # becomes the worker; otherwise it says what failed, or says nothing and exits.
        status, plan["status_fd"] = os.pipe()
        try:
            # The launcher gets the scrubbed environment too: it passes on nothing of ours.
            # A session of its own, so a Ctrl-C in the terminal reaches only us; we then close().
            process = subprocess.Popen(
                _launcher(plan, containment, self.argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=plan["env"],
                cwd=self.scratch,
                start_new_session=True,
                pass_fds=[plan["status_fd"]],
            )
        finally:
            os.close(plan["status_fd"])
        with open(status, "rb") as reader:
            said = _read_status(reader)
        if not said.startswith(b"ok "):
            _kill(process, containment)
            assert process.stderr is not None
            said = said or process.stderr.read(_CHUNK).strip() or f"exit code {process.returncode}".encode()
            _close_pipes(process)
            return said.decode(errors="replace")
        self._refused_limits = [name for name in said[3:].decode().split(",") if name]
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        os.set_blocking(process.stdout.fileno(), False)
        self._drain = threading.Thread(target=self._drain_stderr, args=(process.stderr,), daemon=True)
        self._drain.start()
        return None

    def _drain_stderr(self, stream: IO[bytes]) -> None:
        fd = stream.fileno()
        while chunk := os.read(fd, _CHUNK):
            self._stderr.add(chunk)

    def close(self) -> None:
        """Kill the worker and everything it started, wait for them, remove the scratch directory."""
        process, self._process = self._process, None
        if process is not None:
            assert self._containment is not None
            _kill(process, self._containment)
            if self._drain is not None:
                self._drain.join(timeout=5.0)
            _close_pipes(process)
        _remove_tree(self.scratch)

    def wait(self, timeout: float) -> int | None:
        """The worker's exit status once it has ended, within ``timeout``, else None.

        Negative: killed by that signal (SIGKILL for the CPU limit, SIGSEGV for a crash).
        """
        _check_timeout(timeout)
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    # -- talking -------------------------------------------------------------------------------------

    def send(self, line: bytes, timeout: float = 10.0) -> None:
        """Write one protocol line (its final newline is added if missing).

        `SandboxError` if the worker does not take it within ``timeout`` or has closed its input.
        """
        _check_timeout(timeout)
        line = line.removesuffix(b"\n")
        if b"\n" in line:
            raise ValueError("a protocol line must not contain a newline before its end")
        stdin = self._running().stdin
        assert stdin is not None
        fd = stdin.fileno()
        os.set_blocking(fd, False)
        data = memoryview(line + b"\n")
        deadline = time.monotonic() + timeout
        # A worker that never reads would block a plain write forever once the pipe is full.
        while data:
            if not select.select([], [fd], [], max(0.0, deadline - time.monotonic()))[1]:
                raise SandboxError(f"the worker did not read its input within {timeout:g} s")
            try:
                data = data[os.write(fd, data) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise SandboxError("the worker has closed its input (it has probably exited)") from None

    def receive(self, timeout: float) -> bytes | None:
        """The worker's next line (without its newline), or None once its output has ended."""
        _check_timeout(timeout)
        stdout = self._running().stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            end = self._pending.find(b"\n")
            if end >= 0:
                line = bytes(self._pending[:end])
                del self._pending[: end + 1]
                return line
            if len(self._pending) > self.limits.line_bytes:
                raise SandboxOverflow(
                    f"the worker sent more than {self.limits.line_bytes} bytes without a newline"
                )
            if self._eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stdout.fileno()], [], [], remaining)[0]:
                raise SandboxTimeout(f"no answer from the worker within {timeout:g} s")
            self._read_some(stdout.fileno())

    def _read_some(self, fd: int) -> None:
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if chunk:
            self._pending += chunk
        else:
            self._eof = True

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise SandboxError("the sandbox is not running: call start() first")
        return self._process

    # -- what the engine printed -----------------------------------------------------------------------

    @property
    def stderr_bytes(self) -> int:
        """How many bytes the worker wrote to stderr, kept or not."""
        return self._stderr.total

    @property
    def output_overflowed(self) -> bool:
        """Whether the worker wrote more to stderr than `Limits.output_bytes` (the rest was counted only)."""
        return self._stderr.total > self.limits.output_bytes

    def stderr_text(self) -> str:
        """The worker's stderr as kept: its beginning and its end, with a note of what was left out."""
        return self._stderr.text()

    def stderr_tail(self, characters: int = 400) -> str:
        """The last ``characters`` of the worker's stderr, for a one-line message."""
        return self._stderr.text()[-characters:]


# -- deciding and describing the containment ------------------------------------------------------------


def _check_timeout(timeout: float) -> None:
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout >= 0):
        raise ValueError(f"timeout must be a finite number of seconds >= 0, not {timeout!r}")


def _read_status(reader: IO[bytes]) -> bytes:
    """What the launcher says on its status pipe: b"ok <refused limits>", or why not (maybe nothing)."""
    said = b""
    deadline = time.monotonic() + _SETUP_TIMEOUT
    while not said.endswith(b"\n"):
        if not select.select([reader], [], [], max(0.0, deadline - time.monotonic()))[0]:
            return b"the launcher did not finish setting up in time"
        chunk = os.read(reader.fileno(), _CHUNK)
        if not chunk:
            break
        said += chunk
    return said.strip(b"\n")


def _kill(process: subprocess.Popen[bytes], containment: _Containment) -> None:
    if containment.namespaces:
        _kill_namespace(process)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the worker's group; all there is without namespaces
    process.wait()


def _kill_namespace(process: subprocess.Popen[bytes]) -> None:
    """Kill the PID namespace's init, the launcher's only child: the kernel then kills the rest.

    The launcher reaps that init only once every process of the namespace is gone, so its
    exit means "all dead". It is left alive until then: killing it first would leave the init
    to die by its parent-death signal, without our waiting for the namespace.
    """
    deadline = time.monotonic() + 5.0
    while process.poll() is None and time.monotonic() < deadline:
        for child in _children(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.01)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        with contextlib.suppress(OSError):
            stream.close()  # type: ignore[union-attr]


def _launcher(plan: dict, containment: _Containment, argv: list[str]) -> list[str]:
    """The command that sets up the sandbox and then becomes ``argv``."""
    # marshal, not json: the launcher's imports are part of every start, and json imports re.
    command = [sys.executable, "-I", "-S", str(_INIT), marshal.dumps(plan).hex(), "--", *argv]
    if not containment.namespaces:
        return command
    unshare = shutil.which("unshare")
    assert unshare is not None
    user = ["--user", "--map-root-user"] if containment.user_namespace else []
    return [unshare, *user, *_NAMESPACES, *command]


def _environment(scratch: Path, extra: Mapping[str, str]) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }


def _interpreter_trees(program: str) -> list[str]:
    """The installation trees a program needs: for a venv's python, the venv's and its base's."""
    trees = {os.path.dirname(os.path.dirname(p)) for p in (program, os.path.realpath(program))}
    return sorted(t for t in trees if t != "/")


def _hidden_trees(program: str, scratch: Path) -> dict[str, list[str]]:
    """Directories to cover with an empty tmpfs, each with what stays visible below it.

    The homes hold keys, tokens and often the project; the others hold the sockets of running
    services (a session bus, an X server, docker), and a read-only mount does not stop anyone
    from connecting to a socket.
    """
    covered = {os.path.realpath(d) for d in (*_COVERED, os.path.expanduser("~"))}
    visible = [*_interpreter_trees(program), str(scratch)]
    return {
        top: [v for v in visible if v.startswith(top + os.sep)]
        for top in sorted(covered)
        if os.path.isdir(top) and top != "/"
    }


def _kernel_limits(limits: Limits, containment: _Containment) -> dict[str, int]:
    """The limits the launcher sets with setrlimit; the parent enforces the others."""
    kernel = {k: v for k, v in asdict(limits).items() if k not in ("output_bytes", "line_bytes")}
    if not containment.drop_to_nobody:
        del kernel["processes"]  # it would count all of the caller's processes
    return kernel


def _plan(
    program: str, scratch: Path, limits: Limits, containment: _Containment, env: Mapping[str, str]
) -> dict:
    return {
        "namespaces": containment.namespaces,
        "user": _nobody() if containment.drop_to_nobody else None,
        "drop_capabilities": containment.user_namespace,
        "scratch": str(scratch),
        "hide": _hidden_trees(program, scratch) if containment.namespaces else {},
        "limits": _kernel_limits(limits, containment),
        "env": _environment(scratch, env),
    }


def _ladder() -> list[_Containment]:
    """The containments worth trying here, strongest first."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    rungs = []
    if sys.platform.startswith("linux") and shutil.which("unshare"):
        rungs.append(_Containment(namespaces=True, user_namespace=not root, drop_to_nobody=root))
    if root:
        # Without a mount namespace, nobody can only run an interpreter that is readable to all.
        rungs.append(_Containment(namespaces=False, user_namespace=False, drop_to_nobody=True))
    rungs.append(_Containment(namespaces=False, user_namespace=False, drop_to_nobody=False))
    return rungs


def _describe(containment: _Containment, limits: Limits, refused: list[str]) -> dict[str, str]:
    if containment.drop_to_nobody:
        user = f"nobody ({_nobody()[0]}), no supplementary groups, no_new_privs"
    elif containment.user_namespace:
        user = "the caller's, without capabilities (user namespace), no_new_privs"
    else:
        user = "the caller's"
    applied = {"user": user}
    if containment.namespaces:
        applied |= {
            "processes": "PID namespace: every process the worker starts dies with it",
            "network": "none (empty network namespace)",
            "filesystem": "read-only except scratch; /root, the caller's home, /tmp, /var/tmp, /run "
            "and /dev/shm hidden except the interpreter and scratch",
        }
    else:
        applied |= {
            "processes": "process group: a process that calls setsid() can outlive the worker",
            "network": "the host's",
            "filesystem": "whatever the user may write"
            if not containment.drop_to_nobody
            else "whatever nobody may write (world-writable places)",
        }
    wording = {
        "memory_bytes": f"address space {limits.memory_bytes >> 20} MiB",
        "cpu_seconds": f"CPU {limits.cpu_seconds} s",
        "file_bytes": f"file size {limits.file_bytes >> 20} MiB",
        "open_files": f"{limits.open_files} open files",
        "processes": f"{limits.processes} processes of nobody",
    }
    planned = _kernel_limits(limits, containment)
    applied["limits"] = ", ".join(wording[name] for name in planned if name not in refused)
    if refused:
        applied["limits refused by this platform"] = ", ".join(wording[name] for name in refused)
    applied["environment"] = "scrubbed: PATH, HOME=scratch, TMPDIR=scratch, LANG=C.UTF-8"
    return applied


def _nobody() -> tuple[int, int]:
    """uid and gid of `nobody`: 65534 on Linux, -2 on macOS."""
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return entry.pw_uid, entry.pw_gid


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _remove_tree(path: Path) -> None:
    """Remove the scratch directory, even where the worker took the permissions off its own folders."""
    with contextlib.suppress(OSError):
        shutil.rmtree(path)
        return
    _unlock(path)
    shutil.rmtree(path, ignore_errors=True)


def _unlock(directory: Path | str) -> None:
    with contextlib.suppress(OSError):
        os.chmod(directory, 0o700)
        for entry in os.scandir(directory):
            if entry.is_dir(follow_symlinks=False):
                _unlock(entry.path)
