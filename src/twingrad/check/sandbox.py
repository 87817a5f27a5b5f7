"""Provisional transport (replaced by the sandbox proper): a worker process with pipes and a scratch dir."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Limits:
    output_bytes: int = 8 << 20
    line_bytes: int = 32 << 20


class SandboxTimeout(Exception):  # noqa: N818 -- provisional
    pass


class SandboxOverflow(Exception):  # noqa: N818 -- provisional
    pass


class Sandbox:
    def __init__(
        self, argv: Sequence[str], *, limits: Limits = Limits(), copy_in: Mapping[str, Path] | None = None
    ) -> None:
        self.argv = list(argv)
        self.limits = limits
        self.copy_in = dict(copy_in or {})
        self.scratch = Path(tempfile.mkdtemp(prefix="twingrad-worker-"))
        self.applied: dict[str, str] = {"user": "unchanged"}
        self._process: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._stderr = bytearray()
        self.stderr_bytes = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def output_overflowed(self) -> bool:
        return self.stderr_bytes > self.limits.output_bytes

    def start(self) -> None:
        for name, source in self.copy_in.items():
            target = self.scratch / name
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".*"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.scratch), "LANG": "C.UTF-8"}
        self._process = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.scratch,
            env=env,
            start_new_session=True,
        )
        threading.Thread(target=self._read_lines, args=(self._process.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self._process.stderr,), daemon=True).start()

    def _read_lines(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        while True:
            line = stream.readline(self.limits.line_bytes + 1)
            if not line:
                break
            self._lines.put(line)
        self._lines.put(None)

    def _drain(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            self.stderr_bytes += len(chunk)
            if len(self._stderr) < self.limits.output_bytes:
                self._stderr.extend(chunk[: self.limits.output_bytes - len(self._stderr)])

    def stderr_tail(self, characters: int = 400) -> str:
        return bytes(self._stderr[-characters:]).decode("utf-8", "replace")

    def send(self, line: bytes) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(line)
            self._process.stdin.flush()
        except OSError:
            pass  # it died; receive() says so

    def receive(self, timeout: float) -> bytes | None:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise SandboxTimeout from None
        if line is not None and len(line) > self.limits.line_bytes:
            raise SandboxOverflow(f"a line of more than {self.limits.line_bytes} bytes")
        return line

    def wait(self, timeout: float) -> int | None:
        """The exit status, once the process has ended (within ``timeout``), else None."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                process.kill()
            process.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)
