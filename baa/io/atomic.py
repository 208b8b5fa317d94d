"""Atomic writes: a temporary file in the same folder, then ``os.replace``. A reader never sees half a
file, an interrupted run leaves the old file intact, and a failed write leaves nothing behind.

Layer: io.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch


@contextmanager


def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that go by it still work);
    on success it replaces ``path``, on any error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix if suffix is None else suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the result is for everyone
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def jsonable(o):
    """``o`` with numpy scalars as Python numbers, tuples as lists, and inf / nan as ``None``."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer)):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None  # JSON has no inf / nan
    return o


def save_json(obj, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(obj), indent=1, allow_nan=False) + "\n")
    return Path(path)


def save_torch(obj, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically (checkpoints, cached datasets: torchrun ranks may write at once)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)
