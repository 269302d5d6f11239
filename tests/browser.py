"""Headless Chromium for the tests: serve a folder on 127.0.0.1, load a page, check what it shows.

:func:`check_report_in_browser` loads the report page (and every HTML page it links to inside its
folder) in a real headless Chromium, driven through the DevTools protocol over
``--remote-debugging-pipe`` (no Python package needed), and reports

- every ``<img>`` and whether it decoded (``complete`` and ``naturalWidth > 0``),
- every link and whether it resolves (same-folder files fetched from the server, ``#fragments``
  looked up on their page; anything pointing elsewhere counts as broken: the report must work
  offline),
- every network request to another host (host names resolve to nothing, as on a machine
  without network) and every failed request or console error,

and saves a screenshot.  :func:`find_chromium` locates the browser and, when missing and running
as root with apt, installs Debian's ``chromium``; :func:`chromium_or_skip` turns its absence into
a pytest skip with the reason.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import http.server
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
         # no name resolves: a page that needs the network fails here as it would offline
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
INSTALL_TIMEOUT = 900


class ChromiumUnavailable(RuntimeError):
    """No Chromium, and it cannot be installed here (the reason is the message)."""


def find_chromium(install: bool = True) -> str:
    """Path of a Chromium binary: ``$CHROMIUM``, a known name on PATH, or /usr/bin/chromium.

    If none is found and ``install`` is true, installs Debian's ``chromium`` with apt-get
    (as root only).  Raises :class:`ChromiumUnavailable` with the reason otherwise.
    """
    def locate() -> str | None:
        env = os.environ.get("CHROMIUM")
        if env and os.access(env, os.X_OK):
            return env
        for name in CANDIDATES:
            found = shutil.which(name)
            if found:
                return found
        return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None

    found = locate()
    if found or not install:
        if found:
            return found
        raise ChromiumUnavailable("no Chromium found (set $CHROMIUM or install Debian's package `chromium`)")
    if os.geteuid() != 0:
        raise ChromiumUnavailable("Chromium is not installed and installing it needs root "
                                  "(run `apt-get install -y chromium` or set $CHROMIUM)")
    if not shutil.which("apt-get"):
        raise ChromiumUnavailable("Chromium is not installed and apt-get is not available to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ChromiumUnavailable(f"`{' '.join(cmd)}` timed out after {INSTALL_TIMEOUT} s") from None
        if result.returncode != 0:
            raise ChromiumUnavailable(f"`{' '.join(cmd)}` failed: {result.stderr.strip()[-500:]}")
    found = locate()
    if not found:
        raise ChromiumUnavailable("apt-get installed chromium but no binary was found")
    return found


@functools.lru_cache(maxsize=1)
def _cached_find() -> tuple[str | None, str]:
    try:
        return find_chromium(install=True), ""
    except ChromiumUnavailable as exc:
        return None, str(exc)


def chromium_or_skip() -> str:
    """The Chromium binary, or a pytest skip saying why there is none (looked up once per session)."""
    import pytest

    binary, reason = _cached_find()
    if binary is None:
        pytest.skip(f"headless Chromium unavailable: {reason}")
    return binary


# --------------------------------------------------------------------------- a local HTTP server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


class serve_folder:
    """Context manager: ``folder`` served on http://127.0.0.1:<free port>/ (a thread); yields the base URL."""

    def __init__(self, folder: str | Path):
        self.folder = str(folder)

    def __enter__(self) -> str:
        handler = functools.partial(_QuietHandler, directory=self.folder)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# --------------------------------------------------------------------------- DevTools over a pipe


class DevTools:
    """A headless Chromium driven through the DevTools protocol on fds 3 and 4 (``--remote-debugging-pipe``)."""

    def __init__(self, binary: str, user_data_dir: str | Path, log_path: str | Path, timeout: float = 60):
        self.timeout = timeout
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self._log = open(log_path, "wb")
        # the child's ends, copied above 4 so that mapping them onto 3 and 4 clobbers nothing
        child_in, child_out = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5) for fd in (to_child_r, from_child_w))
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            # posix_spawn (no fork of this process) maps them to fds 3 and 4; dup2 clears
            # close-on-exec on the copies, and every other descriptor of ours is close-on-exec
            self.pid = os.posix_spawn(
                binary, [binary, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={user_data_dir}",
                         "about:blank"], dict(os.environ),
                file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, self._log.fileno(), 1),
                              (os.POSIX_SPAWN_DUP2, self._log.fileno(), 2),
                              (os.POSIX_SPAWN_DUP2, child_in, 3), (os.POSIX_SPAWN_DUP2, child_out, 4)])
        finally:
            for fd in (devnull, to_child_r, from_child_w, child_in, child_out):
                os.close(fd)
        self.returncode: int | None = None
        self._out = os.fdopen(to_child_w, "wb", buffering=0)
        self._in = os.fdopen(from_child_r, "rb", buffering=0)
        self._messages: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 0
        self.events: list[dict] = []

    def poll(self) -> int | None:
        """The browser's exit status, or None while it runs."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def _read(self):
        buffer = b""
        while True:
            try:
                chunk = self._in.read(1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                self._messages.put(None)
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self._messages.put(json.loads(raw))

    def _pump(self, deadline: float) -> dict | None:
        try:
            message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if message is None:
            raise RuntimeError(f"Chromium closed the DevTools pipe (exit status {self.poll()})")
        if "id" not in message:
            self.events.append(message)
        return message

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send a command and wait for its result (events arriving meanwhile go to ``events``)."""
        self._next_id += 1
        ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            reply = self._pump(deadline)
            if reply and reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise TimeoutError(f"{method}: no answer within {timeout or self.timeout} s")

    def wait_event(self, method: str, session: str | None = None, timeout: float | None = None,
                   since: int = 0) -> dict:
        """The first event ``method`` (of ``session``) at index >= ``since`` in ``events``, waiting for it."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for event in self.events[since:]:
                if event.get("method") == method and (session is None or event.get("sessionId") == session):
                    return event
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no {method} within {timeout or self.timeout} s")
            self._pump(min(deadline, time.monotonic() + 0.2))

    def settle(self, quiet: float = 0.5, timeout: float = 15):
        """Read events until none arrives for ``quiet`` seconds (or ``timeout`` passes)."""
        end = time.monotonic() + timeout
        last = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet:
            if self._pump(min(end, time.monotonic() + 0.1)) is not None:
                last = time.monotonic()

    def close(self):
        """Ask the browser to quit; kill it (this process only, by its id) if it has not within 10 s."""
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        deadline = time.monotonic() + 10
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        for f in (self._out, self._in, self._log):
            try:
                f.close()
            except OSError:
                pass


_PAGE_SCRIPT = """JSON.stringify({
  title: document.title,
  textLength: document.body ? document.body.innerText.length : 0,
  images: Array.from(document.images).map(img => ({
    src: (img.getAttribute('src') || '').slice(0, 60), complete: img.complete,
    width: img.naturalWidth, height: img.naturalHeight, alt: img.alt})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => ({
    href: a.href, raw: a.getAttribute('href'), text: a.textContent.trim().slice(0, 60)})),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  names: Array.from(document.querySelectorAll('a[name]')).map(e => e.getAttribute('name'))
})"""


def _evaluate(cdp: DevTools, session: str, expression: str, await_promise: bool = False):
    result = cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": await_promise}, session)
    if "exceptionDetails" in result:
        raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
    return result["result"].get("value")


def _is_local(url: str, base: str) -> bool:
    return url.startswith(base)


def check_report_in_browser(html_path: str | Path, screenshot_path: str | Path | None = None, *,
                            viewport: tuple[int, int] = (1280, 1600), full_page: bool = False,
                            follow_links: bool = True, timeout: float = 120) -> dict:
    """Load ``html_path`` (served with its folder on 127.0.0.1) in headless Chromium and check it.

    Every image must decode, every link must resolve inside the folder (fragments included), no
    request may go to another host or fail, no console error may appear; HTML pages linked from
    the page (inside the folder) are checked the same way.  Saves a PNG screenshot of the page
    (the first ``viewport``, or the whole page with ``full_page``) to ``screenshot_path``.

    Returns {"ok", "problems" (list of text), "pages" (per page: url, title, images, links,
    broken_images, broken_links), "images", "links", "broken_images", "broken_links",
    "external_requests", "failed_requests", "console_errors", "screenshot", "chromium",
    "seconds"}.  Raises :class:`ChromiumUnavailable` if no browser can be found or installed.
    """
    started = time.monotonic()
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(html_path)
    binary = find_chromium()
    folder = html_path.parent
    with tempfile.TemporaryDirectory(prefix="pixelsoap-chromium-") as tmp, serve_folder(folder) as base:
        cdp = DevTools(binary, Path(tmp) / "profile", Path(tmp) / "chromium.log", timeout=timeout)
        try:
            return _check(cdp, base, html_path.relative_to(folder).as_posix(), screenshot_path, viewport,
                          full_page, follow_links, started, Path(tmp) / "chromium.log")
        finally:
            cdp.close()


def _check(cdp: DevTools, base: str, start: str, screenshot_path, viewport, full_page, follow_links,
           started: float, log_path: Path) -> dict:
    version = cdp.send("Browser.getVersion").get("product", "")
    target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Network", "Runtime", "Log"):
        cdp.send(f"{domain}.enable", session=session)
    width, height = viewport
    cdp.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                    "mobile": False}, session)

    result = {"pages": [], "external_requests": [], "failed_requests": [], "console_errors": [],
              "chromium": version, "screenshot": None}
    to_visit, seen = [base + start], set()
    while to_visit:
        url = to_visit.pop(0)
        if url in seen:
            continue
        seen.add(url)
        first_event = len(cdp.events)
        cdp.send("Page.navigate", {"url": url}, session)
        cdp.wait_event("Page.loadEventFired", session, since=first_event)
        cdp.settle()
        page = json.loads(_evaluate(cdp, session, _PAGE_SCRIPT))
        page["url"] = url
        page["broken_images"] = [i for i in page["images"] if not i["complete"] or i["width"] <= 0]
        page["broken_links"] = []
        targets = set(page["ids"]) | set(page["names"])
        for link in page["links"]:
            href = link["href"]
            without, fragment = urldefrag(href)
            if not _is_local(href, base):
                page["broken_links"].append({**link, "why": "points outside the report folder"})
                continue
            if without == url.split("#")[0]:
                # as the HTML standard finds a fragment's target: the raw fragment, then percent-decoded
                if fragment and fragment not in targets and unquote(fragment) not in targets:
                    page["broken_links"].append({**link, "why": f"no element with id {fragment!r}"})
                continue
            status = _evaluate(cdp, session, f"fetch({json.dumps(without)}).then(r => r.status, e => String(e))",
                               await_promise=True)
            if status != 200:
                page["broken_links"].append({**link, "why": f"HTTP {status}"})
            elif follow_links and urlsplit(without).path.endswith((".html", "/")) and without not in seen:
                to_visit.append(without)
        if url == base + start and screenshot_path:
            params = {"format": "png"}
            if full_page:
                metrics = cdp.send("Page.getLayoutMetrics", session=session)
                size = metrics.get("cssContentSize") or metrics["contentSize"]
                params.update(captureBeyondViewport=True,
                              clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
            shot = cdp.send("Page.captureScreenshot", params, session)
            screenshot_path = Path(screenshot_path)
            screenshot_path.parent.mkdir(parents=True, exist_ok=True)
            screenshot_path.write_bytes(base64.b64decode(shot["data"]))
            result["screenshot"] = str(screenshot_path)
        result["pages"].append(page)

    for event in cdp.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            request_url = params["request"]["url"]
            scheme = urlsplit(request_url).scheme
            if scheme not in ("data", "blob", "about") and not _is_local(request_url, base):
                result["external_requests"].append(request_url)
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            result["failed_requests"].append(f"{params.get('type', '')}: {params.get('errorText', '')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            result["failed_requests"].append(f"HTTP {params['response']['status']}: {params['response']['url']}")
        elif method == "Runtime.exceptionThrown":
            result["console_errors"].append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            result["console_errors"].append(" ".join(str(a.get("value", "")) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            result["console_errors"].append(params["entry"].get("text", ""))

    pages = result["pages"]
    result["images"] = sum(len(p["images"]) for p in pages)
    result["links"] = sum(len(p["links"]) for p in pages)
    result["broken_images"] = [{"page": p["url"], **i} for p in pages for i in p["broken_images"]]
    result["broken_links"] = [{"page": p["url"], **link} for p in pages for link in p["broken_links"]]
    problems = [f"image {i['src']!r} on {i['page']} did not load" for i in result["broken_images"]]
    problems += [f"link {link['raw']!r} on {link['page']}: {link['why']}" for link in result["broken_links"]]
    problems += [f"request to another host: {u}" for u in result["external_requests"]]
    problems += [f"failed request: {f}" for f in result["failed_requests"]]
    problems += [f"console error: {e}" for e in result["console_errors"]]
    if not pages or not pages[0]["images"]:
        problems.append("the page shows no image")
    result["problems"] = problems
    result["ok"] = not problems
    result["seconds"] = round(time.monotonic() - started, 2)
    if problems:
        result["chromium_log"] = log_path.read_text(errors="replace")[-3000:]
    return result


if __name__ == "__main__":  # python tests/browser.py results/report/index.html /tmp/shot.png
    import sys

    out = check_report_in_browser(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    for p in out["pages"]:
        p.pop("ids", None), p.pop("names", None), p.pop("links", None), p.pop("images", None)
    print(json.dumps(out, indent=1)[:6000])
