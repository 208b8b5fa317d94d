"""Execute the notebooks with papermill and build the HTML book with Jupyter Book 1.x.

    python -m baa.book --profile cpu      # what `make book` runs

Each ``notebooks/NN-*.ipynb`` is executed (kernel ``python3``, working directory the book's
chapter folder, parameter ``profile``) into ``book/chapters/``; then ``jupyter-book build`` with
``execute_notebooks: "off"`` writes ``_build/html``. Trained models and tables go to
``artifacts/<profile>/``, so a second run with the same profile trains nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = ROOT / "book" / "chapters"


def notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def execute(profile: str, only: list[str] | None = None) -> list[tuple[str, float]]:
    import nbformat
    import papermill as pm

    CHAPTERS.mkdir(parents=True, exist_ok=True)
    times = []
    env_profile = os.environ.get("BAA_PROFILE")
    os.environ["BAA_PROFILE"] = profile  # the notebooks' default, for any helper they spawn
    try:
        for nb in notebooks():
            if only and not any(o in nb.name for o in only):
                continue
            t0 = time.perf_counter()
            print(f"[book] executing {nb.name} at profile {profile}", flush=True)
            out = CHAPTERS / nb.name
            pm.execute_notebook(str(nb), str(out), parameters={"profile": profile},
                                kernel_name="python3", cwd=str(CHAPTERS), progress_bar=False)
            # Live widgets need a kernel; the HTML book shows the static gallery instead, so drop
            # the widget state (it would otherwise pull a widget manager from a CDN).
            executed = nbformat.read(out, as_version=4)
            executed.metadata.pop("widgets", None)
            nbformat.write(executed, out)
            times.append((nb.name, time.perf_counter() - t0))
            print(f"[book] {nb.name}: {times[-1][1]:.0f} s", flush=True)
    finally:
        if env_profile is None:
            os.environ.pop("BAA_PROFILE", None)
        else:
            os.environ["BAA_PROFILE"] = env_profile
    return times


def build() -> Path:
    cmd = [sys.executable, "-m", "jupyter_book", "build", str(ROOT / "book"), "--config", str(ROOT / "_config.yml"),
           "--toc", str(ROOT / "book" / "_toc.yml"), "--path-output", str(ROOT), "--keep-going"]
    jb = Path(sys.executable).with_name("jupyter-book")
    if jb.exists():
        cmd = [str(jb)] + cmd[3:]
    subprocess.run(cmd, check=True)
    return ROOT / "_build" / "html" / "index.html"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m baa.book", description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default=os.environ.get("BAA_PROFILE", "cpu"))
    ap.add_argument("--only", nargs="*", help="execute only notebooks whose name contains one of these")
    ap.add_argument("--skip-build", action="store_true")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    times = execute(a.profile, a.only)
    if not a.skip_build:
        index = build()
        print(f"[book] HTML: {index}")
    print(f"[book] {len(times)} notebooks at profile {a.profile} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
