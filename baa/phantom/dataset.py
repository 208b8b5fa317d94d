"""Phantom datasets: an indexable ``PhantomDataset`` rendered in worker processes, the RSNA-layout
writer (``baa phantom``), and a grid of ages for figures.

Layer: phantom.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing as mp
import os
import shutil
import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from baa.phantom.anatomy import PhantomConfig, sample_subjects
from baa.phantom.render import render

# Disjoint phantom index ranges: a subject is one index, so no image is in two sets.
SPLIT_OFFSET = {"train": 0, "test": 1_000_000, "bench": 2_000_000, "held_out": 10_000_000}


class PhantomDataset(torch.utils.data.Dataset):
    """Phantom images ``start .. start+n-1`` rendered on the fly (or all at once with ``render_all``).

    ``__getitem__`` returns dict(image=(1,S,S) float32, label=float years (mean of the two readings),
    male=float 0/1, index=int).  Subject fields are sampled up front (cheap), so ``labels`` /
    ``subjects`` are available without rendering."""

    def __init__(self, n: int, seed: int = 0, config: PhantomConfig | None = None, size: int | None = None,
                 device="cpu", start: int = 0):
        self.n, self.seed, self.start, self.device = int(n), int(seed), int(start), device
        self.config = replace(config or PhantomConfig(), **({"size": int(size)} if size else {}))
        self.subjects = sample_subjects(self.n, self.seed, self.config, self.start)
        self.labels = self.subjects["label"]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        if not -self.n <= i < self.n:
            raise IndexError(i)
        i = i % self.n
        out = render([self.start + i], self.seed, self.config, self.device)
        return dict(image=out["image"][0], label=float(out["label"][0]), male=float(out["male"][0]), index=self.start + i)

    def render_all(self, batch_size: int = 64, progress: bool = True, masks: bool = False,
                   workers: int | None = None) -> dict:
        """``render`` over every index, concatenated (tqdm progress bar). On the CPU, batches are
        rendered by ``workers`` processes (default: one per core, see ``default_workers``); the bytes
        are the same for any number of workers or batch size."""
        idx = torch.arange(self.start, self.start + self.n)
        batches = _Batches(idx, batch_size, self.seed, self.config, masks, self.device)
        return _cat(list(_iterate(batches, workers, progress, "phantom")))


class _Batches(torch.utils.data.Dataset):
    """Batch ``j`` of ``indices`` rendered (and passed through ``post``): the unit of work that
    ``_iterate`` hands to worker processes."""

    def __init__(self, indices: torch.Tensor, batch_size: int, seed: int, config: PhantomConfig, masks: bool = False,
                 device="cpu", post=None):
        self.idx, self.bs, self.seed, self.config = indices, max(1, int(batch_size)), seed, config
        self.masks, self.device, self.post = masks, device, post

    def __len__(self) -> int:
        return -(-len(self.idx) // self.bs)

    def __getitem__(self, j: int):
        out = render(self.idx[j * self.bs : (j + 1) * self.bs], self.seed, self.config, self.device, masks=self.masks)
        return self.post(out) if self.post else out


def _identity(x):
    return x


def default_workers(n_batches: int, device="cpu") -> int:
    """Worker processes for rendering ``n_batches`` batches: 0 (in-process) on a GPU, for a single
    batch, or inside a worker; else one per core (``BAA_PHANTOM_WORKERS`` overrides). Each worker runs
    one intra-op thread: the renderer's kernels are small, so processes scale where threads contend
    (2-core Xeon, 256 px, 512 images, a plain script: 226 / 197 / 133 images/s with two workers
    against 132 / 106 / 68 in-process, three interleaved rounds on a machine whose speed drifted)."""
    env = os.environ.get("BAA_PHANTOM_WORKERS")
    if env is not None:
        return max(0, int(env))
    if torch.device(device).type != "cpu" or n_batches < 2 or mp.current_process().daemon:
        return 0
    return min(n_batches, os.cpu_count() or 1)


def _iterate(batches: _Batches, workers: int | None, progress: bool, desc: str):
    """Yield the batches in order, rendered in-process or by a DataLoader's worker processes."""
    w = default_workers(len(batches), batches.device) if workers is None else int(workers)
    if w > 0:
        it = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False, num_workers=w, collate_fn=_identity)
    else:
        it = (batches[j] for j in range(len(batches)))
    # iter() first: tqdm.auto's class calls iter() on an iterable in its constructor and again when
    # iterated, which would start a second set of DataLoader workers rendering the same batches
    yield from tqdm(iter(it), total=len(batches), disable=not progress, desc=desc, unit="batch")


def _cat(parts: list[dict]) -> dict:
    out = {}
    for k, v in parts[0].items():
        if torch.is_tensor(v):
            out[k] = torch.cat([p[k] for p in parts])
        elif isinstance(v, dict):
            out[k] = _cat([p[k] for p in parts])
        else:
            out[k] = v
    return out


def _to_png_array(img: torch.Tensor, bits: int) -> np.ndarray:
    x = img.detach().float().cpu().clamp(0, 1).numpy()
    if bits == 8:
        return np.round(x * 255).astype(np.uint8)
    if bits == 16:
        return np.round(x * 65535).astype(np.uint16)
    raise ValueError("bits must be 8 or 16")


def _png_batch(r: dict, bits: int) -> tuple[list[bytes], list[tuple]]:
    """PNG-encode one rendered batch (in the worker) and return its CSV rows (id, months, male)."""
    arr, pngs = _to_png_array(r["image"][:, 0], bits), []
    for a in arr:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="PNG", compress_level=1)
        pngs.append(buf.getvalue())
    rows = [(int(i) + 1, round(float(age) * 12, 2), bool(m)) for i, age, m in zip(r["index"], r["label"], r["male"])]
    return pngs, rows


def write_rsna(out_dir, n: int, size: int = 256, seed: int = 0, bits: int = 8, config: PhantomConfig | None = None,
               progress: bool = True, batch_size: int = 64, start: int = 0, workers: int | None = None) -> dict:
    """Write ``n`` phantom images in the RSNA layout under ``out_dir``:
    ``boneage-training-dataset.csv`` (``id,boneage,male``; boneage = label in months, 2 decimals;
    male True/False) and ``boneage-training-dataset/{id}.png`` (8- or 16-bit grey).  ids = index + 1.

    Written into a temporary folder next to ``out_dir`` and renamed at the end, so an error leaves
    nothing half-written.  An existing ``out_dir`` is replaced.  Rendering and PNG encoding run in
    ``workers`` processes (see ``default_workers``).  Returns a summary dict."""
    cfg = replace(config or PhantomConfig(), size=int(size))
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        img_dir = tmp / "boneage-training-dataset"
        img_dir.mkdir()
        rows = []
        batches = _Batches(torch.arange(start, start + n), batch_size, seed, cfg, post=partial(_png_batch, bits=bits))
        for pngs, part in _iterate(batches, workers, progress, "write_rsna"):
            for data, row in zip(pngs, part):
                (img_dir / f"{row[0]}.png").write_bytes(data)
            rows.extend(part)
        with open(tmp / "boneage-training-dataset.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "boneage", "male"])
            for i, m, male in rows:
                w.writerow([i, f"{m:.2f}", "True" if male else "False"])
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    months = [m for _, m, _ in rows]
    n_male = sum(1 for *_, male in rows if male)
    return dict(n=len(rows), out=str(out), csv=str(out / "boneage-training-dataset.csv"), size=cfg.size, bits=bits,
                age_range_months=(min(months), max(months)) if rows else None, male=n_male, female=len(rows) - n_male)


def age_grid(ages=(0.5, 2, 4, 6, 8, 10, 12, 14, 16, 18), size: int = 128, seed: int = 0) -> torch.Tensor:
    """Figure helper: one hand per bone age, girls in the top row and boys below, same subject and
    a fixed upright pose with neutral exposure; returns a (2*size, len(ages)*size) float tensor."""
    cfg = PhantomConfig(size=size, collimation=False, marker=False, site_variation=False, pose_variation=False)
    rows = []
    for male in (False, True):
        ims = [render([0], seed, cfg, override=dict(bone_age=float(a), male=male))["image"][0, 0] for a in ages]
        rows.append(torch.cat(ims, 1))
    return torch.cat(rows, 0)


def code_version() -> str:
    """A hash of the phantom's source (every module of this package): images rendered by other code
    are stale."""
    h = hashlib.sha1()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:10]
