"""Headless Chromium for the monitor tests, driven through its DevTools protocol (a WebSocket of JSON
messages): evaluate JavaScript in the page, wait for a condition, take a screenshot."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium")
"""The ``chromium`` executable (Debian ``chromium``), or None."""

# No sandbox (tests may run as root), no GPU, and none of the background traffic Chromium starts on its own
# (it has no network to reach here).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)

START_TIMEOUT_S = 60.0


class BrowserError(RuntimeError):
    """Chromium did not start, or the page did not reach the expected state."""


class Browser:
    """One Chromium process showing ``url``, with its DevTools connection.

    Args:
        url: the page to load.
        profile: an empty folder for Chromium's profile (its DevTools port is written there).
        size: window width and height in CSS pixels.
    """

    def __init__(self, url: str, profile: Path, size: tuple[int, int] = (1280, 860)) -> None:
        assert CHROMIUM is not None
        self.log = profile / "chromium.log"
        profile.mkdir(parents=True, exist_ok=True)
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", url],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._ids = itertools.count(1)
        self._connections = ExitStack()
        try:
            port = self._devtools_port(profile / "DevToolsActivePort")
            self._page: ClientConnection = self._connections.enter_context(
                connect(self._page_socket(port, url), max_size=None, open_timeout=30)
            )
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, port_file: Path) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"chromium exited ({self.process.returncode}): {self.log.read_text()[-2000:]}")
            lines = port_file.read_text().splitlines() if port_file.exists() else []
            if lines and lines[0].isdigit():
                return int(lines[0])
            time.sleep(0.05)
        raise BrowserError("chromium did not open its DevTools port")

    def _page_socket(self, port: int, url: str) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                targets = json.load(response)
            pages = [t for t in targets if t.get("type") == "page" and t.get("url", "").startswith(url)]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.05)
        raise BrowserError(f"no page showing {url}")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are skipped)."""
        call_id = next(self._ids)
        self._page.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._page.recv(timeout=30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression evaluated in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float, poll_s: float = 0.05) -> Any:
        """Evaluate ``expression`` until it is truthy (an exception, e.g. while the page is still loading,
        counts as falsy); returns its value.

        Raises:
            BrowserError: still falsy after ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value = self.evaluate(expression)
            except BrowserError as exc:
                value = exc
            if value and not isinstance(value, BrowserError):
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"waited {timeout_s} s for {expression}; last value {value!r}")
            time.sleep(poll_s)

    def screenshot(self, path: Path) -> Path:
        """Save what the page shows as a PNG."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self._connections.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
