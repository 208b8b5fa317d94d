"""The real films beside the repository (``../shared``, or ``BAA_SHARED``): the labelled RSNA development set
and the unlabelled toddler films that chapter 11 and the shipped model measure on. Never copied into the repo.

Layer: data.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """``../shared`` beside the repository (``BAA_SHARED`` overrides)."""
    return Path(os.environ.get("BAA_SHARED", ROOT.parent / "shared"))


def real_files() -> dict | None:
    """The real films of ``../shared``: ``{"rows"}`` (rsna-dev's label rows), ``{"rsna"}`` their files in that
    order, ``{"toddlers"}`` the unlabelled films in their numbers' order; None when rsna-dev is absent."""
    sh = shared_dir()
    csvf = sh / "rsna-dev" / "boneage-training-dataset.csv"
    if not csvf.exists():
        return None
    with open(csvf) as f:
        rows = list(csv.DictReader(f))
    return {"rows": rows, "rsna": [sh / "rsna-dev" / "boneage-training-dataset" / f"{r['id']}.png" for r in rows],
            "toddlers": sorted((sh / "real-xrays").glob("raw-*.png"), key=lambda p: int(p.stem.split("-")[1]))}
