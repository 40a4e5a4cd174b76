"""A headless Chromium driven over the DevTools protocol, with no dependency.

``--remote-debugging-pipe`` makes Chromium read protocol messages on its fd 3 and write
answers on its fd 4, each a JSON text ended by a NUL byte: a socket, a port and a websocket
client are not needed. Used by the view's browser test and by benchmarks/inspect_cost.py.

    with Chromium(user_data_dir) as browser:
        page = browser.open("file:///tmp/view.html")
        page.wait_for("window.recorderViewReady === true")
        page.evaluate("document.title")
        page.click("button.var-name[data-name='total']")
        page.screenshot("/tmp/shot.png")

Chromium is found as ``$RECORDER_CHROMIUM``, else ``chromium``, ``chromium-browser``,
``google-chrome`` on PATH (:func:`find_chromium`).
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from typing import Any, Dict, List, Optional

#: the flags that work headless in a container (no sandbox, no GPU, no network chatter)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900"]


def find_chromium() -> Optional[str]:
    explicit = os.environ.get("RECORDER_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class ProtocolError(RuntimeError):
    pass


class Chromium:
    """One browser process; :meth:`open` gives a :class:`Page`."""

    def __init__(self, user_data_dir: str, executable: Optional[str] = None,
                 timeout: float = 60.0) -> None:
        exe = executable or find_chromium()
        if exe is None:
            raise ProtocolError("no Chromium found (install it: apt-get install chromium, "
                                "or set RECORDER_CHROMIUM)")
        self.timeout = timeout
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # in the child: its fd 3 reads our messages, fd 4 answers
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        os.makedirs(user_data_dir, exist_ok=True)
        self.process = subprocess.Popen(
            [exe] + FLAGS + ["--user-data-dir=" + user_data_dir, "--remote-debugging-pipe",
                             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire, pass_fds=(3, 4))  # kept open: they are dup2'd after the fork
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._pending = b""
        self.events: List[Dict[str, Any]] = []

    # -- the protocol ---------------------------------------------------------------------------
    def send(self, method: str, params: Optional[Dict[str, Any]] = None,
             session: Optional[str] = None) -> Dict[str, Any]:
        self._next_id += 1
        message: Dict[str, Any] = {"id": self._next_id, "method": method,
                                   "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ProtocolError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self) -> Dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise ProtocolError("Chromium did not answer in %.0f s" % self.timeout)
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                err = self.process.stderr.read().decode(errors="replace")[-2000:] \
                    if self.process.stderr else ""
                raise ProtocolError("Chromium closed the pipe: %s" % err)
            self._pending += chunk
        text, self._pending = self._pending.split(b"\0", 1)
        return json.loads(text)

    def open(self, url: str) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        page = Page(self, session)
        page.send("Page.enable")
        page.send("Runtime.enable")
        page.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900,
                                                         "deviceScaleFactor": 1,
                                                         "mobile": False})
        page.send("Page.navigate", {"url": url})
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (ProtocolError, OSError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.process.stderr:
            self.process.stderr.close()

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Page:
    """One tab."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression; a JavaScript exception raises."""
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True})
        if "exceptionDetails" in result:
            raise ProtocolError("%s: %s" % (expression, result["exceptionDetails"]))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> float:
        """Poll until ``expression`` is true; returns the seconds waited."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if self.evaluate(expression):
                    return time.monotonic() - start
            except ProtocolError:
                pass  # the document is being replaced
            time.sleep(0.02)
        raise ProtocolError("still not true after %.0f s: %s" % (timeout, expression))

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) at the middle of the element."""
        box = self.evaluate(
            "(function () { var e = document.querySelector(%s); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); var r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()" % json.dumps(selector))
        if box is None:
            raise ProtocolError("no element matches %s" % selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def screenshot(self, path: str) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": True})["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))
