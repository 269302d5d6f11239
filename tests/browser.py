"""Headless Chromium for the tests, driven by Selenium through Debian's chromedriver.

:func:`check_report_in_browser` serves the report's folder on 127.0.0.1, loads the page (and every
HTML page it links to inside its folder) and reports

- every ``<img>`` and whether it decoded (``complete`` and ``naturalWidth > 0``),
- every link and whether it resolves (same-folder files fetched from the server, ``#fragments``
  looked up on their page; anything pointing elsewhere counts as broken: the report must work
  offline),
- every network request to another host (read from chromedriver's ``performance`` log; host names
  resolve to nothing, as on a machine without network), every failed request and every console
  error (the ``browser`` log),

and saves a screenshot.  :func:`chromium_session` opens the browser for other tests (JupyterLab).
:func:`find_chromium` locates Chromium and chromedriver; :func:`chromium_or_skip` turns their absence
into a pytest skip that names the missing tool and ``make install-browser`` (a failure instead when
``$PIXELSOAP_REQUIRE_CHROMIUM`` is set, as ``make test`` does).  No test installs anything: the
installation is ``make install-browser`` (``python tests/browser.py --install``: Debian's ``chromium
chromium-driver`` with apt-get, as root or through sudo; nothing to do when both are found).  Selenium
Manager never runs: the driver's path is always given, so nothing is downloaded.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urldefrag, urlsplit

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
         # no name resolves: a page that needs the network fails here as it would offline
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
PACKAGES = ["chromium", "chromium-driver"]
INSTALL_TIMEOUT = 900


class ChromiumUnavailable(RuntimeError):
    """No Chromium or chromedriver, and they cannot be installed here (the reason is the message)."""


class Chromium(NamedTuple):
    """Paths of the browser binary and of the chromedriver that matches it."""
    binary: str
    driver: str


def _locate() -> tuple[str | None, str | None]:
    def first(env: str, names: tuple[str, ...], fallback: str) -> str | None:
        if os.environ.get(env) and os.access(os.environ[env], os.X_OK):
            return os.environ[env]
        return next(filter(None, map(shutil.which, names)), None) or (
            fallback if os.access(fallback, os.X_OK) else None)

    return (first("CHROMIUM", BROWSERS, "/usr/bin/chromium"),
            first("CHROMEDRIVER", ("chromedriver",), "/usr/bin/chromedriver"))


#: how a user gets the browser tests' tools (named in every message about them)
INSTALL_HINT = f"run `make install-browser` (Debian's `{' '.join(PACKAGES)}`), or set $CHROMIUM / $CHROMEDRIVER"
#: set (to anything but "" or "0") to make a missing browser fail the tests that need it instead of skipping them
REQUIRE_ENV = "PIXELSOAP_REQUIRE_CHROMIUM"


def find_chromium() -> Chromium:
    """Chromium (``$CHROMIUM``, a known name on PATH, /usr/bin/chromium) and chromedriver
    (``$CHROMEDRIVER``, PATH, /usr/bin/chromedriver); installs nothing.

    Raises :class:`ChromiumUnavailable` naming what is missing and how to get it.
    """
    binary, driver = _locate()
    if binary and driver:
        return Chromium(binary, driver)
    missing = [what for what, found in (("Chromium", binary), ("chromedriver", driver)) if not found]
    raise ChromiumUnavailable("; ".join(f"no {what} found" for what in missing) + f": {INSTALL_HINT}")


def install_chromium() -> Chromium:
    """What ``make install-browser`` runs: Chromium and chromedriver, installed with apt-get if either is missing.

    Returns at once when both are found.  Otherwise runs ``apt-get update`` and ``apt-get install -y
    chromium chromium-driver`` as root, or through sudo for another user; raises
    :class:`ChromiumUnavailable` with the reason if that is impossible or fails.
    """
    with contextlib.suppress(ChromiumUnavailable):
        return find_chromium()
    if not shutil.which("apt-get"):
        raise ChromiumUnavailable("apt-get is not available: install Chromium and chromedriver yourself "
                                  "and set $CHROMIUM / $CHROMEDRIVER")
    prefix = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise ChromiumUnavailable(f"installing needs root: run `apt-get install -y {' '.join(PACKAGES)}` as root")
        prefix = ["sudo", "--preserve-env=DEBIAN_FRONTEND"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in ([*prefix, "apt-get", "update", "-qq"], [*prefix, "apt-get", "install", "-y", "-qq", *PACKAGES]):
        try:
            result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ChromiumUnavailable(f"`{' '.join(cmd)}` timed out after {INSTALL_TIMEOUT} s") from None
        if result.returncode != 0:
            raise ChromiumUnavailable(f"`{' '.join(cmd)}` failed: {result.stderr.strip()[-500:]}")
    return find_chromium()


@functools.lru_cache(maxsize=1)
def _cached_find() -> tuple[Chromium | None, str]:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None, "the Python package selenium is not installed: run `make install`"
    try:
        return find_chromium(), ""
    except ChromiumUnavailable as exc:
        return None, str(exc)


def chromium_or_skip() -> Chromium:
    """Chromium and chromedriver, or a pytest skip naming what is missing and how to get it (looked up once per
    session); a failure instead when ``$PIXELSOAP_REQUIRE_CHROMIUM`` is set (``make test``)."""
    import pytest

    found, reason = _cached_find()
    if found is None:
        message = f"headless Chromium unavailable: {reason}"
        if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
            pytest.fail(f"{message} (${REQUIRE_ENV} is set: the browser tests must run)", pytrace=False)
        pytest.skip(message)
    return found


@contextlib.contextmanager
def chromium_session(viewport: tuple[int, int] = (1280, 1600), log_path: str | Path | None = None):
    """A headless Chromium (Selenium ``webdriver.Chrome``) with a ``viewport`` of CSS pixels (width,
    height) and the ``performance`` and ``browser`` logs on; quits it on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = find_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=driver_path, log_output=str(log_path) if log_path else subprocess.DEVNULL)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        width, height = viewport
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()


class serve_folder:
    """Context manager: ``folder`` served on http://127.0.0.1:<free port>/ (a thread); yields the base URL."""

    def __init__(self, folder: str | Path):
        self.folder = str(folder)

    def __enter__(self) -> str:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=self.folder))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


_PAGE_SCRIPT = """return {
  title: document.title,
  images: Array.from(document.images).map(img => ({
    src: (img.getAttribute('src') || '').slice(0, 60), complete: img.complete,
    width: img.naturalWidth, height: img.naturalHeight, alt: img.alt})),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => ({
    href: a.href, raw: a.getAttribute('href'), text: a.textContent.trim().slice(0, 60)})),
  targets: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name'))
}"""


def check_report_in_browser(html_path: str | Path, screenshot_path: str | Path | None = None, *,
                            viewport: tuple[int, int] = (1280, 1600), full_page: bool = False,
                            follow_links: bool = True) -> dict:
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
    with tempfile.TemporaryDirectory(prefix="pixelsoap-chromium-") as tmp, serve_folder(html_path.parent) as base, \
            chromium_session(viewport, Path(tmp) / "chromedriver.log") as driver:
        result = _check(driver, base, base + html_path.relative_to(html_path.parent).as_posix(),
                        screenshot_path, full_page, follow_links)
        if not result["ok"]:
            result["chromedriver_log"] = (Path(tmp) / "chromedriver.log").read_text(errors="replace")[-3000:]
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def _check(driver, base: str, start: str, screenshot_path, full_page: bool, follow_links: bool) -> dict:
    result = {"pages": [], "chromium": f"{driver.capabilities['browserName']} {driver.capabilities['browserVersion']}",
              "screenshot": None}
    events, console = [], []
    to_visit, seen = [start], set()
    while to_visit:
        url = to_visit.pop(0)
        if url in seen:
            continue
        seen.add(url)
        driver.get(url)  # returns after the load event: images have loaded or failed
        page = {"url": url, **driver.execute_script(_PAGE_SCRIPT)}
        page["broken_images"] = [i for i in page["images"] if not i["complete"] or i["width"] <= 0]
        page["broken_links"] = []
        targets = set(page.pop("targets"))
        for link in page["links"]:
            without, fragment = urldefrag(link["href"])
            if not link["href"].startswith(base):
                page["broken_links"].append({**link, "why": "points outside the report folder"})
            elif without == url.split("#")[0]:
                # as the HTML standard finds a fragment's target: the raw fragment, then percent-decoded
                if fragment and fragment not in targets and unquote(fragment) not in targets:
                    page["broken_links"].append({**link, "why": f"no element with id {fragment!r}"})
            else:
                status = driver.execute_script("return fetch(arguments[0]).then(r => r.status, e => String(e))",
                                               without)
                if status != 200:
                    page["broken_links"].append({**link, "why": f"HTTP {status}"})
                elif follow_links and urlsplit(without).path.endswith((".html", "/")) and without not in seen:
                    to_visit.append(without)
        if url == start and screenshot_path:
            shot = {"format": "png"}
            if full_page:
                size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
                shot.update(captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
            screenshot_path = Path(screenshot_path)
            screenshot_path.parent.mkdir(parents=True, exist_ok=True)
            shot_png = driver.execute_cdp_cmd("Page.captureScreenshot", shot)["data"]
            screenshot_path.write_bytes(base64.b64decode(shot_png))
            result["screenshot"] = str(screenshot_path)
        result["pages"].append(page)
        events += [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
        console += [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]

    external, failed = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            request_url = params["request"]["url"]
            if urlsplit(request_url).scheme not in ("data", "blob", "about") and not request_url.startswith(base):
                external.append(request_url)
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{params.get('type', '')}: {params.get('errorText', '')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            failed.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
    pages = result["pages"]
    result.update(external_requests=external, failed_requests=failed, console_errors=console,
                  images=sum(len(p["images"]) for p in pages), links=sum(len(p["links"]) for p in pages),
                  broken_images=[{"page": p["url"], **i} for p in pages for i in p["broken_images"]],
                  broken_links=[{"page": p["url"], **link} for p in pages for link in p["broken_links"]])
    problems = [f"image {i['src']!r} on {i['page']} did not load" for i in result["broken_images"]]
    problems += [f"link {link['raw']!r} on {link['page']}: {link['why']}" for link in result["broken_links"]]
    problems += [f"request to another host: {u}" for u in external]
    problems += [f"failed request: {f}" for f in failed]
    problems += [f"console error: {e}" for e in console]
    if not pages or not pages[0]["images"]:
        problems.append("the page shows no image")
    result.update(problems=problems, ok=not problems)
    return result


if __name__ == "__main__":  # python tests/browser.py --install | results/report/index.html [/tmp/shot.png]
    import sys

    if sys.argv[1:] == ["--install"]:
        try:
            found = install_chromium()
        except ChromiumUnavailable as exc:
            sys.exit(f"make install-browser: {exc}")
        print(f"Chromium: {found.binary}, chromedriver: {found.driver}")
        sys.exit(0)
    out = check_report_in_browser(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    for p in out["pages"]:
        p.pop("links", None), p.pop("images", None)
    print(json.dumps(out, indent=1)[:6000])
