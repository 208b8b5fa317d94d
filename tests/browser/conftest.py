"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, the built book served
on localhost, and JupyterLab on localhost.

Chromium is the system one (``apt-get install chromium chromium-driver``; ``.ci/run`` installs it):
Playwright cannot download a browser here. Without ``/usr/bin/chromium`` every test in this folder
is skipped with the reason. Screenshots go to ``screenshots/`` (git-ignored).
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from browser_helpers import (BOOK_BUILD_TIMEOUT, BOOK_HTML, CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS, PageWatch,
                             book_is_stale, start_jupyterlab, stop_jupyterlab)


@pytest.fixture(scope="session", autouse=True)
def _chromium_present():
    """Skip every browser test, with the reason, when the system Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium "
                    "chromium-driver` (as .ci/run does) to run the browser tests")
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)")


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    """One headless Chromium for the session, with a fresh profile directory."""
    from playwright.sync_api import sync_playwright

    profile_dir = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(profile_dir), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, service_workers="block")
        ctx.set_default_timeout(30_000)
        yield ctx
        ctx.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def book_html(tmp_path_factory) -> Path:
    """``_build/html``, built first with ``python -m baa.book --profile smoke --reuse`` when missing or
    older than the notebooks: the chapters ``pytest --nbval`` just executed (``conftest.py``) are
    reused, the others run (a few minutes on 2 cores; the smoke models trained by nbval are reused)."""
    why = book_is_stale()
    if why:
        log = tmp_path_factory.mktemp("book") / "build.log"
        print(f"\n[browser] building the book at profile smoke ({why}); log: {log}", flush=True)
        t0 = time.perf_counter()
        env = dict(os.environ, BAA_PROFILE="smoke")
        with open(log, "w") as fh:
            proc = subprocess.run([sys.executable, "-m", "baa.book", "--profile", "smoke", "--reuse"], cwd=ROOT,
                                  env=env,
                                  stdout=fh, stderr=subprocess.STDOUT, timeout=BOOK_BUILD_TIMEOUT)
        tail = log.read_text(errors="replace")[-4000:]
        if proc.returncode != 0 or not (BOOK_HTML / "index.html").exists():
            pytest.fail(f"`python -m baa.book --profile smoke` failed (exit {proc.returncode}):\n{tail}")
        print(f"[browser] book built in {time.perf_counter() - t0:.0f} s", flush=True)
    return BOOK_HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="session")
def book_server(book_html):
    """The built book on http://127.0.0.1:<free port>/ (a threaded http.server)."""
    handler = lambda *a, **k: _QuietHandler(*a, directory=str(book_html), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser_context):
    """A fresh tab with a ``watch`` (PageWatch) attribute; closed after the test."""
    pg = browser_context.new_page()
    pg.watch = PageWatch(pg)
    yield pg
    pg.close()


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab serving a temporary copy of ``notebooks/`` (so a run never writes outputs into the
    clean notebooks), with ``BAA_PROFILE=smoke`` in the kernels' environment. Yields a dict with
    ``url``, ``token``, ``root`` and ``log``."""
    work = tmp_path_factory.mktemp("jupyterlab")
    root = work / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    proc, base, token, log = start_jupyterlab(root, work, {"BAA_PROFILE": "smoke"})
    try:
        yield {"url": base, "token": token, "root": root, "log": log, "process": proc}
    finally:
        stop_jupyterlab(proc)
