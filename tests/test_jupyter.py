"""`make jupyter`: JupyterLab starts on the notebooks, with a kernel from the project's environment.

Run as a learner would (the Makefile's own target), with no browser, a free port and a
token of our own; the server's REST API then says what a browser would show.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter-home")  # its runtime files and settings, not the user's
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        ["make", "-s", "jupyter", f"JUPYTER_ARGS={args}"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(home), "JUPYTER_RUNTIME_DIR": str(home / "runtime")},
        start_new_session=True,  # make, jupyter and its kernels: one group to stop
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _get(base, "/api/status", token)
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    output = (home / "server.log").read_text()
                    raise AssertionError(f"JupyterLab did not start:\n{output}") from None
                time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _get(base: str, path: str, token: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    return json.loads(text) if text else {}


def _command_lines_naming(word: str) -> list[list[str]]:
    """The command lines of running processes with ``word`` in one of their arguments."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = [w.decode() for w in (proc / "cmdline").read_bytes().split(b"\0") if w]
        except OSError:  # not a process, or gone
            continue
        if any(word in w for w in argv):
            found.append(argv)
    return found


def test_make_jupyter_serves_every_notebook(server: tuple[str, str]) -> None:
    base, token = server
    listed = {item["name"] for item in _get(base, "/api/contents/", token)["content"]}
    committed = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert len(committed) >= 6 and committed <= listed
    lab = urllib.request.Request(base + "/lab", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(lab, timeout=10) as page:
        assert page.status == 200 and b"JupyterLab" in page.read()


def test_its_kernels_run_in_the_projects_environment(server: tuple[str, str]) -> None:
    base, token = server
    kernel = _get(base, "/api/kernels", token, "POST", {"name": "python3"})
    try:
        deadline = time.monotonic() + 60
        # A kernel is its own session (not in the server's group); its connection file names it.
        while not (lines := _command_lines_naming(f"kernel-{kernel['id']}")) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert lines, "no kernel process started"
        interpreter = Path(lines[0][0])
        assert interpreter.parent == VENV_PYTHON.parent  # .venv/bin/python, where twingrad is installed
        found = subprocess.run(
            [str(interpreter), "-c", "import twingrad, torch; print(twingrad.__file__)"],
            capture_output=True, text=True, check=True,
        )
        assert Path(found.stdout.strip()).is_relative_to(ROOT / "src")
    finally:
        _get(base, f"/api/kernels/{kernel['id']}", token, "DELETE")
