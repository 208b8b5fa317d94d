"""Shared by the browser tests' fixtures (conftest.py) and tests: paths, the Chromium command line,
a page watcher, the book's staleness rule, and starting / stopping JupyterLab."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("BAA_CHROMIUM", "/usr/bin/chromium"))
# BAA_BOOK_HTML: test a book built elsewhere, as it is (never rebuilt)
BOOK_HTML = Path(os.environ.get("BAA_BOOK_HTML") or ROOT / "_build" / "html")
SCREENSHOTS = ROOT / "screenshots"
BOOK_BUILD_TIMEOUT = 20 * 60  # s; the smoke build executes every notebook

# --headless etc. as the issue asks; the profile directory is a fresh temporary one per session,
# passed as Playwright's user_data_dir (it refuses --user-data-dir in args).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine (localhost, or data:/blob:/about: documents)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-error"):
        return True
    return parts.hostname in LOCAL_HOSTS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _book_sources() -> list[Path]:
    paths = list((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")) + list((ROOT / "book").glob("*.md"))
    return paths + [ROOT / "_config.yml", ROOT / "book" / "_toc.yml"]


def book_is_stale() -> str | None:
    """Why the HTML book must be (re)built, or None when ``_build/html`` is newer than its sources."""
    index = BOOK_HTML / "index.html"
    if os.environ.get("BAA_BOOK_HTML"):
        return None
    if not index.exists():
        return f"{index.relative_to(ROOT)} is missing"
    newer = [p for p in _book_sources() if p.exists() and p.stat().st_mtime > index.stat().st_mtime]
    if newer:
        return f"{', '.join(p.relative_to(ROOT).as_posix() for p in sorted(newer))} newer than the built book"
    return None


class PageWatch:
    """Everything a page did that a test may object to: JavaScript exceptions, console errors,
    failed or >= 400 responses, and requests leaving localhost."""

    def __init__(self, page):
        self.page = page
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.bad_responses: list[str] = []
        self.failed_requests: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", lambda msg: self.console_errors.append(f"{msg.text} ({msg.location.get('url', '')})")
                if msg.type == "error" else None)
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("requestfailed", lambda req: self.failed_requests.append(f"{req.url}: {req.failure}"))
        page.on("response", lambda res: self.bad_responses.append(f"{res.status} {res.url}")
                if res.status >= 400 else None)

    @property
    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not is_local(u)]

    def clear(self):
        for lst in (self.page_errors, self.console_errors, self.bad_responses, self.failed_requests, self.requests):
            lst.clear()


# -- JupyterLab ---------------------------------------------------------------------------------

LAB_CONFIG = {
    "ServerApp": {"open_browser": False, "ip": "127.0.0.1", "allow_remote_access": False,
                  "terminals_enabled": False},
    "LabApp": {
        "news_url": None,  # no announcements feed
        "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "extension_manager": "readonly",  # no PyPI queries
        "expose_app_in_browser": True,  # window.jupyterapp: run cells through Lab's own commands
    },
}
# Plugins the lab would otherwise use to reach the internet or to ask questions in a toast.
LAB_PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
LAB_SETTINGS = {
    # never write the notebook back (the copy under test lives in a temporary folder anyway)
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # render every cell, also those scrolled out of view, so the app's widgets stay in the DOM
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def start_jupyterlab(root_dir: Path, work: Path, env_extra: dict | None = None, timeout: float = 120):
    """Start ``jupyter lab`` (this interpreter's) on a free localhost port with a random token, its
    configuration, settings, runtime and data folders under ``work`` so nothing of the user's is
    read or written. Returns ``(process, base_url, token, log_path)``."""
    token = secrets.token_hex(16)
    port = free_port()
    cfg, settings, data, runtime = (work / n for n in ("config", "settings", "data", "runtime"))
    for d in (cfg / "labconfig", settings, data, runtime, work / "workspaces"):
        d.mkdir(parents=True, exist_ok=True)
    config = json.loads(json.dumps(LAB_CONFIG))
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root
        config["ServerApp"]["allow_root"] = True
    (cfg / "jupyter_server_config.json").write_text(json.dumps(config))
    (cfg / "labconfig" / "page_config.json").write_text(json.dumps(LAB_PAGE_CONFIG))
    for rel, value in LAB_SETTINGS.items():
        p = settings / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(value))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(cfg), JUPYTER_DATA_DIR=str(data), JUPYTER_RUNTIME_DIR=str(runtime),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"),
               PYTHONUNBUFFERED="1", **(env_extra or {}))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--port-retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={work / 'workspaces'}"]
    log = work / "jupyterlab.log"
    fh = open(log, "w")
    proc = subprocess.Popen(cmd, cwd=root_dir, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    fh.close()
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_jupyterlab(proc)
            raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return proc, base, token, log


def stop_jupyterlab(proc: subprocess.Popen, timeout: float = 20):
    """SIGTERM (the server shuts its kernels down), then SIGKILL to the process group we started."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(5)
    try:  # a kernel left behind by a hard kill lives in the same (new) session / process group
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
