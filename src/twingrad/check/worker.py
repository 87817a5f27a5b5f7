"""Isolation: the engine under check runs in a worker process, never in the caller's.

A pure-Python endless loop cannot be interrupted from another thread, and an engine may
call ``os._exit`` or crash the interpreter; only a process boundary contains all of
that. Starting a process costs what importing torch costs (about 1.3 s here), so one
worker serves every case, and engines too (the tests share one across dozens of
engines). It is killed when a case overruns its timeout or when it dies, and the next
request starts a fresh one, which loads the engine again.

The protocol is one JSON object per line. The worker answers each request with a final
message, sending ``{"phase": ...}`` lines before it so that a timeout can say where the
engine was (building the graph, in backward() ...). Its standard output and input are
taken away from the engine first: a learner's ``print`` goes to the worker's log, never
into the protocol.

The worker process runs ``python -m twingrad.check._serve``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import twingrad

from .target import TargetError

# The worker imports torch before it says it is ready; a cold start on a busy machine can
# take several seconds, so this is generous and separate from the per-case timeout.
START_TIMEOUT = 120.0
_LOG_TAIL = 400  # characters of the worker's log quoted when it dies


class CaseTimeoutError(Exception):
    """The worker gave no answer in time; it has been killed."""

    def __init__(self, seconds: float, phase: str) -> None:
        super().__init__(f"no answer within {seconds:g} s (while {phase})")
        self.seconds = seconds
        self.phase = phase


class WorkerDiedError(Exception):
    """The worker process ended in the middle of a request."""


class Worker:
    """The parent's handle on one worker process, started on first use.

    >>> with Worker() as worker:                     # doctest: +SKIP
    ...     worker.load("my_engine.py:Value", timeout=10)
    ...     answer = worker.run("my_engine.py:Value", "seed_graph", timeout=10)
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._log: IO[bytes] | None = None
        self._loaded: set[str] = set()
        self.torch_version = ""
        self.starts = 0  # processes started so far, for tests and cost reports
        self.start_seconds = 0.0  # time spent starting them

    # -- lifetime ------------------------------------------------------------------------

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        began = time.perf_counter()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 -- lives as long as the process
        env = dict(os.environ, PYTHONFAULTHANDLER="1")
        # The child imports this very twingrad, even when it is not installed.
        root = str(Path(twingrad.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        # A session of its own: stopping it also stops what the engine or a drawing started
        # (graphviz's dot), and a Ctrl-C in the terminal reaches only us, who then stop it.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "twingrad.check._serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, env=env,
            start_new_session=hasattr(os, "killpg"),
        )
        self._lines = queue.Queue()
        threading.Thread(target=self._read, args=(self._process.stdout, self._lines), daemon=True).start()
        self._loaded = set()
        self.starts += 1
        # The caller's import path, so `package.module:Name` resolves as it would here.
        ready = self._exchange({"op": "hello", "path": [p for p in sys.path if p]}, START_TIMEOUT, "starting")
        self.torch_version = ready["torch_version"]
        self.start_seconds += time.perf_counter() - began

    @staticmethod
    def _read(stream: IO[bytes] | None, lines: queue.Queue[dict[str, Any] | None]) -> None:
        assert stream is not None
        for raw in stream:
            try:
                lines.put(json.loads(raw))
            except ValueError:
                continue  # not ours: nothing else should write here, but never choke on it
        lines.put(None)  # end of stream: the process is gone

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if hasattr(os, "killpg"):
            with contextlib.suppress(OSError):  # the group outlives a worker that already exited
                os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(OSError):
            process.stdin.close()  # type: ignore[union-attr]
        process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        self._stop()

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - _LOG_TAIL))
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    # -- requests ----------------------------------------------------------------------------

    def _exchange(self, message: dict[str, Any], timeout: float, phase: str) -> dict[str, Any]:
        """Send one request and wait for its final answer, following the phases it reports."""
        if self._process is None:
            self._start()
        process = self._process
        assert process is not None and process.stdin is not None
        try:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            process.stdin.flush()
        except OSError:
            pass  # it died already; the end of its stream tells us below
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._stop()
                raise CaseTimeoutError(timeout, phase) from None
            if answer is None:
                code = process.wait()
                tail = self._log_tail()
                self._stop()
                raise WorkerDiedError(f"the process exited with code {code}" + (f": {tail}" if tail else ""))
            if "phase" in answer:
                phase = answer["phase"]
                continue
            return answer

    def load(self, spec: str, timeout: float) -> None:
        """Make sure the worker has the engine ``spec``; `TargetError` if it cannot be loaded."""
        if spec in self._loaded and self._process is not None:
            return
        try:
            answer = self._exchange({"op": "load", "target": spec}, timeout, "loading the engine")
        except CaseTimeoutError:
            raise TargetError(
                f"loading {spec} did not finish within {timeout:g} s (raise --timeout, or put slow "
                "top-level code under `if __name__ == '__main__':`)"
            ) from None
        except WorkerDiedError as died:
            raise TargetError(f"loading {spec} ended the process: {died}") from None
        if "error" in answer:
            raise TargetError(answer["error"])
        self._loaded.add(spec)

    def run(self, spec: str, case: str, timeout: float, draw: bool = False) -> dict[str, Any]:
        """Run one case of the catalogue on the engine ``spec``; the worker's verdict.

        Raises `CaseTimeoutError` or `WorkerDiedError` -- the worker is gone then, and the next call
        starts another -- and `TargetError` if a fresh worker can no longer load the engine.
        """
        self.load(spec, timeout)
        answer = self._exchange({"op": "run", "target": spec, "case": case, "draw": draw}, timeout,
                                "starting the case")
        return answer["result"]


# -- the worker's side ----------------------------------------------------------------------------


def _channel() -> tuple[IO[str], IO[str]]:
    """Keep the protocol's pipes for ourselves; the engine gets stderr and an empty stdin."""
    reader = os.fdopen(os.dup(0), "r", encoding="utf-8")
    writer = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return reader, writer


def serve() -> None:
    reader, writer = _channel()

    def send(message: dict[str, Any]) -> None:
        writer.write(json.dumps(message) + "\n")
        writer.flush()

    import torch

    torch.set_num_threads(1)  # scalars only; the machine is shared
    from .runner import run_case
    from .target import load, parse

    engines: dict[str, Any] = {}
    for line in reader:
        request = json.loads(line)
        op = request["op"]
        if op == "hello":
            sys.path.extend(p for p in request["path"] if p not in sys.path)
            send({"torch_version": torch.__version__})
        elif op == "load":
            try:
                engines[request["target"]] = load(parse(request["target"]))
                send({"ok": True})
            except TargetError as exc:
                send({"error": str(exc)})
        elif op == "run":
            result = run_case(engines[request["target"]], request["case"], draw=request["draw"],
                              phase=lambda name: send({"phase": name}))
            send({"result": result})
