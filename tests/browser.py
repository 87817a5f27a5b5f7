"""A real browser for the tests: headless Chromium driven over the DevTools protocol, stdlib only.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol commands on file
descriptor 3 and writes replies and events on 4, each a JSON object ended by a NUL byte.
A pipe needs no port (nothing to collide with on a shared CI machine) and dies with the
process. `open_page` loads one page and returns what a test asks about it: every console
message and error the browser logged, every request the page made, the value of a
JavaScript expression evaluated in it, and a full-page screenshot.

Where Chromium is: ``$TWINGRAD_CHROMIUM``, else the first of `CANDIDATES` on the PATH;
``make install`` puts Debian's ``chromium`` there.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio",
    "--remote-debugging-pipe",
)


class BrowserMissingError(RuntimeError):
    pass


def find_chromium() -> str:
    named = os.environ.get("TWINGRAD_CHROMIUM")
    found = named or next((p for p in map(shutil.which, CANDIDATES) if p), None)
    if not found:
        raise BrowserMissingError(
            "no Chromium found (looked for " + ", ".join(CANDIDATES) + "; or set TWINGRAD_CHROMIUM): "
            "`make install` installs Debian's chromium, or run: apt-get install chromium"
        )
    return found


@dataclass
class Page:
    """What the browser saw while loading one page."""

    console: list[dict[str, Any]] = field(default_factory=list)  # {"source", "level", "text"}
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    value: Any = None  # the evaluated expression's result
    screenshot: Path | None = None

    def errors(self) -> list[dict[str, Any]]:
        return [m for m in self.console if m["level"] in ("error", "warning")]


class _Pipe:
    """The two ends of the protocol, with replies matched to commands by id."""

    def __init__(self, process: subprocess.Popen[bytes], to_browser: int, from_browser: int) -> None:
        self.process = process
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium closed the pipe (exit status {self.process.poll()})")
                self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = self._message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event


def open_page(url: str, *, expression: str, screenshot: Path | None = None, width: int = 1200,
              height: int = 900, full_page: bool = True, timeout: float = 60.0) -> Page:
    """Load ``url`` in a fresh headless Chromium of ``width`` x ``height``, evaluate ``expression``
    (JSON-able; it may scroll), maybe screenshot it: the whole page, or what the window shows."""
    binary = find_chromium()
    with tempfile.TemporaryDirectory(prefix="twingrad-chromium-") as profile:
        # fd 3: the browser reads our commands; fd 4: it writes to us. The child's ends are first
        # moved above 10 so that placing one at 3 cannot overwrite the other, then dup2 puts them
        # at 3 and 4 just before exec (dup2 leaves them inheritable; every other fd of ours is not).
        cmd_read, cmd_write = os.pipe()
        out_read, out_write = os.pipe()
        child_read = fcntl.fcntl(cmd_read, fcntl.F_DUPFD_CLOEXEC, 10)
        child_write = fcntl.fcntl(out_write, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_read)
        os.close(out_write)

        def place_fds() -> None:
            os.dup2(child_read, 3)
            os.dup2(child_write, 4)

        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            close_fds=False, preexec_fn=place_fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(child_read)
        os.close(child_write)
        pipe = _Pipe(process, cmd_write, out_read)
        try:
            return _visit(pipe, url, expression, screenshot, (width, height, full_page), timeout)
        finally:
            with contextlib.suppress(OSError, RuntimeError, TimeoutError):  # it may be gone already
                pipe.send("Browser.close", timeout=5)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(cmd_write)
            os.close(out_read)


def _visit(pipe: _Pipe, url: str, expression: str, screenshot: Path | None,
           window: tuple[int, int, bool], timeout: float) -> Page:
    width, height, full_page = window
    target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.send(f"{domain}.enable", session=session)
    pipe.send("Emulation.setDeviceMetricsOverride",
              {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
    pipe.events.clear()  # only what the page itself causes from here on
    pipe.send("Page.navigate", {"url": url}, session=session)
    pipe.wait_for("Page.loadEventFired", timeout)
    evaluated = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                          session=session)
    if "exceptionDetails" in evaluated:
        raise RuntimeError(f"the expression raised: {evaluated['exceptionDetails']}")
    page = Page(value=evaluated["result"].get("value"))
    if screenshot is not None:
        shot = pipe.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page},
                         session=session, timeout=timeout)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        page.screenshot = screenshot
    for event in pipe.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            page.console.append({"source": "console", "level": params.get("type"), "text": text})
        elif method == "Runtime.exceptionThrown":
            page.console.append({"source": "exception", "level": "error",
                                 "text": params["exceptionDetails"].get("text", "")})
        elif method == "Log.entryAdded":
            entry = params["entry"]
            page.console.append({"source": entry.get("source"), "level": entry.get("level"),
                                 "text": entry.get("text", "")})
        elif method == "Network.requestWillBeSent":
            page.requests.append(params["request"]["url"])
    return page
