"""Real labelled datasets for the experiments (the ``DataSpec`` of ``baa.profiles``, chosen once at the
edge): their tag (from its file list and labels: a changed label file retrains, an unchanged one reuses), and
every film prepared exactly as ``baa assess`` prepares it (``baa.data.prepare``), cached once per
dataset and size. A film that cannot be prepared is reported in one line (file and reason), left
out, and counted; the run goes on.

Layer: data.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from baa.data.dataset import BoneAgeData
from baa.data.formats import _Table, _table
from baa.data.prepare import VERSION, prepare
from baa.errors import InputError, one_line
from baa.io.atomic import save_torch
from baa.profiles import DataSpec


def _table_digest(t: _Table, h) -> None:
    """Feed the label rows and each image's name and size into ``h``."""
    rows = t.rows.sort_values("id", kind="stable")
    for r in rows.itertuples(index=False):
        size = Path(r.path).stat().st_size if r.exists else -1
        h.update(f"{r.id}|{Path(r.path).name}|{r.age_years!r}|{r.male!r}|{size}\n".encode())


def data_tag(spec: DataSpec) -> str:
    """``phantom``, or ``<folder name>-<10 hex>``: a hash of the format, the label rows (ids, ages,
    sexes) and the image files' names and sizes, of the test set too, and the preparation's version.
    Artifacts live under it, so models of two datasets never mix, a changed label file is a new tag, and
    no model trained on films another preparation made is reused."""
    if spec.phantom:
        return "phantom"
    h = hashlib.sha1(spec.format.encode())
    h.update(f"preparation {VERSION}\n".encode())
    _table_digest(_table(spec.root, spec.format), h)
    if spec.test_root:
        h.update(b"test\n")
        _table_digest(_table(spec.test_root, spec.format), h)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.name).strip("-") or "data"
    return f"{slug}-{h.hexdigest()[:10]}"


def _prepare_rows(t: _Table, size: int, progress: bool) -> tuple[list[int], list[torch.Tensor], list[tuple[str, str]]]:
    """Prepare every listed film; returns the rows kept, their tensors, and ``(file, reason)`` of
    each film left out (no image, no numeric age, or one the preparation cannot read)."""
    kept, images, failed = [], [], []
    rows = t.rows
    for i in tqdm(range(len(rows)), desc=f"preparing {t.source.split(':')[0]} films", unit="film", disable=not progress):
        r = rows.iloc[i]
        if not r["exists"]:
            failed.append((str(r["path"]), "image not found"))
        elif not np.isfinite(r["age_years"]):
            failed.append((str(r["path"]), f"no numeric bone age ({r['age_raw']!r})"))
        else:
            try:
                images.append(prepare(r["path"], size)[0])
                kept.append(i)
            except InputError as e:
                failed.append((str(r["path"]), e.problem))
            except (OSError, ValueError) as e:
                failed.append((str(r["path"]), one_line(e)))
    for path, reason in failed:
        print(f"baa: {path}: {reason} (left out)", file=sys.stderr, flush=True)
    return kept, images, failed


def load_prepared(root: str | os.PathLike, format: str, size: int, cache_dir: str | os.PathLike | None = None,
                  progress: bool = True) -> tuple[BoneAgeData, list[tuple[str, str]]]:
    """Every film of a labelled dataset prepared for a ``size`` x ``size`` network input (with
    ``extra["path"]``), and ``[(file, reason)]`` of the films left out. Cached in ``cache_dir`` under
    the dataset's tag and the preparation's version: a second call reads no image, a new preparation
    prepares again."""
    spec = DataSpec(str(root), format)
    cache = Path(cache_dir) / f"prepared-{size}-{data_tag(spec)}-prep{VERSION}.pt" if cache_dir else None
    if cache is not None and cache.exists():
        return torch.load(cache, weights_only=False)
    t = _table(root, format)
    kept, images, failed = _prepare_rows(t, int(size), progress)
    if not kept:
        raise InputError(t.where, f"no film could be prepared ({len(failed)} left out)")
    rows = t.rows.iloc[kept]
    data = BoneAgeData(images=torch.stack(images), age=torch.tensor(rows["age_years"].to_numpy(), dtype=torch.float32),
                       male=torch.tensor(rows["male"].to_numpy(), dtype=torch.float32), ids=rows["id"].tolist(),
                       source=f"{spec.name} ({format}, {len(kept)} films)",
                       extra={"path": rows["path"].tolist()})
    if cache is not None:
        save_torch((data, failed), cache)
    return data, failed
