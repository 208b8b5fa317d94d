"""Refresh the outputs the notebooks store: the outputs of the compared cells, nothing else.

    python -m baa.book.outputs                       # every notebook in notebooks/
    python -m baa.book.outputs notebooks/02-*.ipynb  # some of them
    make notebook-outputs

The notebooks are stored clean except the compared cells: ``pytest --nbval`` compares what a cell
prints with what the notebook stores, for the cells that state facts (Table 1's shapes, the U-Net's
layers, degradation statistics at a fixed seed, the paper's numbers...). Every other code cell is
tagged ``nbval-ignore-output`` and stored without outputs; a compared cell is tagged
``nbval-check-output`` (so ``--nbval-lax`` compares it too) and stored with its outputs and an
execution count (nbval skips a cell stored without one).

This executes each notebook at the smoke profile (as ``pytest --nbval`` does, see ``conftest.py``),
in its own folder, keeps the compared cells' outputs and strips the rest. Run it after changing what
a compared cell prints, and read the diff before committing it.

Layer: book.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

from baa.book.build import NOTEBOOKS, notebooks

IGNORE_TAGS = ("nbval-ignore-output", "nbval-skip")
IGNORE_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP")
CHECK_TAG = "nbval-check-output"


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def ignored(cell) -> bool:
    """Tagged (or commented) so that nbval runs the cell without comparing its outputs."""
    src = "".join(cell.get("source", ""))
    return any(t in tags(cell) for t in IGNORE_TAGS) or any(m in src for m in IGNORE_MARKERS)


def checked(cell) -> bool:
    """A compared cell: a code cell tagged ``nbval-check-output`` and not ignored."""
    return cell.get("cell_type") == "code" and CHECK_TAG in tags(cell) and not ignored(cell)


def problems(nb) -> list[str]:
    """What breaks the convention in a notebook (as read from its JSON): a code cell tagged neither
    ``nbval-check-output`` nor ``nbval-ignore-output``, or both; an ignored cell stored with outputs;
    a compared cell stored without outputs or without an execution count (nbval skips a cell stored
    unrun, so it would compare nothing)."""
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if ignored(cell) == (CHECK_TAG in tags(cell)):
            out.append(f"cell {i}: tag it either {CHECK_TAG} (compared) or nbval-ignore-output")
        elif checked(cell) and (cell.get("execution_count") is None or not cell.get("outputs")):
            out.append(f"cell {i}: tagged {CHECK_TAG} but stored without outputs or execution count")
        elif not checked(cell) and (cell.get("outputs") or cell.get("execution_count") is not None):
            out.append(f"cell {i}: not compared by nbval, yet stored with outputs")
    return out


def strip(nb):
    """Keep the outputs and execution counts of the compared cells (``checked``); clear every other
    code cell's. Drops the execution timing metadata and the widget state."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and not checked(cell):
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


def refresh(path: Path, profile: str = "smoke", timeout: int = 1800) -> list[str]:
    """Execute ``path`` at ``profile`` (kernel ``python3``, in the notebook's folder), keep the
    compared cells' outputs, write it back. Returns ``problems`` of the result."""
    from nbclient import NotebookClient  # the executor of the [book] extra; only this command needs it

    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("BAA_PROFILE")
    os.environ["BAA_PROFILE"] = profile  # the parameters cell reads it, as under pytest --nbval
    try:
        NotebookClient(nb, kernel_name="python3", timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if old is None:
            os.environ.pop("BAA_PROFILE", None)
        else:
            os.environ["BAA_PROFILE"] = old
    nbformat.write(strip(nb), path)
    return problems(nb)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m baa.book.outputs", description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help=f"default: every chapter in {NOTEBOOKS.name}/")
    ap.add_argument("--profile", default="smoke", help="the profile the stored outputs belong to (default smoke)")
    ap.add_argument("--check", action="store_true", help="execute nothing: list the cells that break the convention")
    a = ap.parse_args(argv)
    bad = 0
    for path in a.notebooks or notebooks():
        if a.check:
            found = problems(nbformat.read(path, as_version=4))
        else:
            print(f"[outputs] executing {path.name} at profile {a.profile}", flush=True)
            found = refresh(path, a.profile)
        bad += len(found)
        for p in found:
            print(f"{path.name}: {p}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
