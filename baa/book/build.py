"""Execute the notebooks with papermill and build the HTML book with Jupyter Book 1.x.

    python -m baa.book --profile cpu                               # what `make book` runs
    python -m baa.book --profile smoke --data DIR --format rsna    # the same book on a real dataset

Each ``notebooks/NN-*.ipynb`` is executed (kernel ``python3``, working directory the book's chapter
folder) into ``book/chapters/``; then ``jupyter-book build`` with ``execute_notebooks: "off"``
writes ``_build/html``. Papermill is the one channel into the notebooks: it injects ``profile``
and, for a real dataset, ``data``, ``data_format`` and ``test_data``. Trained models and tables go
to ``artifacts/<profile>/...``, so a second run with the same parameters trains nothing.

While a chapter runs, a cell counter shows how far it is; at the end a table lists every chapter's
wall time.

Every executed copy is stamped (``metadata.baa``) with its parameters, the notebook's hash and the
package's: ``--reuse`` keeps a copy whose stamp matches (the same notebook, run with the same
parameters on the same code) instead of executing it again. ``pytest --nbval`` writes such copies
(``conftest.py``), so the browser tests that follow it in ``make test`` build the book without
running every chapter a second time.

Layer: book.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from baa.profiles import get_profile
from baa.train.device import use_fast_malloc

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = ROOT / "book" / "chapters"


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The chapters in order; ``only``: those whose file name contains one of these strings."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    return [nb for nb in found if not only or any(o in nb.name for o in only)]


def code_hash() -> str:
    """sha256 over the package's Python sources: a copy executed on other code is not reused."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "baa").rglob("*.py")):
        h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def stamp(nb: Path, params: dict, by: str) -> dict:
    """What an executed copy of ``nb`` records of how it was made (``metadata.baa``)."""
    return {"parameters": dict(params), "notebook_sha256": hashlib.sha256(nb.read_bytes()).hexdigest(),
            "code_sha256": code_hash(), "executed_by": by}


def reusable(nb: Path, params: dict) -> bool:
    """Whether ``book/chapters/`` holds a copy of ``nb`` executed with ``params`` on this notebook
    and this code, without an error output."""
    import nbformat  # here: see execute_one

    out = CHAPTERS / nb.name
    if not out.exists():
        return False
    executed = nbformat.read(out, as_version=4)
    old, new = executed.metadata.get("baa", {}), stamp(nb, params, "")
    same = all(old.get(k) == new[k] for k in ("parameters", "notebook_sha256", "code_sha256"))
    return same and not any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))


def save_executed(nb: Path, executed, params: dict, by: str) -> Path:
    """Write ``executed`` (a notebook with outputs) as the book's copy of ``nb``, stamped, without
    widget state: live widgets need a kernel, and the HTML book shows the static gallery instead
    (the state would otherwise pull a widget manager from a CDN)."""
    import nbformat  # here: see execute_one

    executed.metadata.pop("widgets", None)
    executed.metadata["baa"] = stamp(nb, params, by)
    CHAPTERS.mkdir(parents=True, exist_ok=True)
    out = CHAPTERS / nb.name
    tmp = out.with_suffix(".tmp")
    nbformat.write(executed, tmp)
    tmp.replace(out)
    return out


def parameters(profile: str, data: str | None = None, data_format: str | None = None,
               test_data: str | None = None) -> dict:
    """What papermill injects: the profile, and the dataset when it is not the phantom (folders
    made absolute, since the notebooks run in the chapter folder)."""
    out = {"profile": profile}
    if data:
        out.update(data=str(Path(data).resolve()), data_format=data_format or "rsna")
    if test_data:
        out["test_data"] = str(Path(test_data).resolve())
    return out


def execute_one(nb: Path, params: dict, progress: bool = True) -> float:
    """Run one chapter into ``book/chapters/``; returns its wall time in seconds."""
    import nbformat  # here, not at the top: nbformat's schema checks cost `baa` 2-3 s at every start
    import papermill as pm

    CHAPTERS.mkdir(parents=True, exist_ok=True)
    out = CHAPTERS / nb.name
    t0 = time.perf_counter()
    pm.execute_notebook(str(nb), str(out), parameters=params, kernel_name="python3", cwd=str(CHAPTERS),
                        progress_bar=progress)
    save_executed(nb, nbformat.read(out, as_version=4), params, "papermill")
    return time.perf_counter() - t0


def execute(params: dict, only: list[str] | None = None, progress: bool = True,
            reuse: bool = False) -> list[tuple[str, float]]:
    """Run the chapters in order (with ``reuse``, not those with a ``reusable`` copy); returns
    ``[(notebook, seconds)]``."""
    chosen = notebooks(only)
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    times = []
    for i, nb in enumerate(chosen, 1):
        if reuse and reusable(nb, params):
            print(f"[book] {i}/{len(chosen)} {nb.name}: executed copy reused ({shown})", flush=True)
            times.append((nb.name, 0.0))
            continue
        print(f"[book] {i}/{len(chosen)} {nb.name} ({shown})", flush=True)
        times.append((nb.name, execute_one(nb, params, progress)))
        print(f"[book] {nb.name}: {times[-1][1]:.0f} s", flush=True)
    return times


def times_table(times: list[tuple[str, float]]) -> str:
    """The chapter times as a plain-text table with each chapter's share and the total."""
    width = max([len(n) for n, _ in times] + [7])
    total = sum(t for _, t in times)
    rows = [f"{'chapter':<{width}}  {'seconds':>8}  {'share':>6}"]
    rows += [f"{n:<{width}}  {t:8.0f}  {t / total:6.1%}" for n, t in times] if total > 0 else []
    rows.append(f"{'total':<{width}}  {total:8.0f}  ({total / 60:.1f} min)")
    return "\n".join(rows)


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
    ap.add_argument("--profile", default=None, help="smoke, cpu or paper (default: $BAA_PROFILE, else cpu)")
    ap.add_argument("--data", default=None, help="a labelled dataset folder or CSV (default: the phantom)")
    ap.add_argument("--format", default="rsna", help="the dataset's layout: rsna, dha or csv")
    ap.add_argument("--test-data", default=None, help="a separate held-out test set (default: a part of --data)")
    ap.add_argument("--only", nargs="*", help="execute only notebooks whose name contains one of these")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--no-progress", action="store_true", help="no cell counter while a chapter runs")
    ap.add_argument("--reuse", action="store_true",
                    help="keep an executed copy made with the same parameters, notebook and code (as pytest --nbval "
                         "writes them) instead of running the chapter again")
    a = ap.parse_args(argv)
    params = parameters(get_profile(a.profile).name, a.data, a.format, a.test_data)
    use_fast_malloc()  # for the chapters' kernels
    times = execute(params, a.only, progress=not a.no_progress, reuse=a.reuse)
    if not a.skip_build:
        print(f"[book] HTML: {build()}")
    print("[book] chapter times:\n" + times_table(times), flush=True)
    return 0
