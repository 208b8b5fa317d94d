"""Loading a labelled dataset into a :class:`BoneAgeData` (``load_rsna``, ``load_dha``,
``load_csv``, ``load``) and checking one cheaply (``summarize``, for ``baa data DIR``).

Layer: data.
"""

from __future__ import annotations
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence
import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm
from baa.errors import InputError
from baa.data.dataset import AGE_RANGE_YEARS, BoneAgeData
from baa.data.formats import RSNA_CSV, RSNA_IMAGES, _Table, _csv_table, _dha_table, _rsna_table, _table
from baa.errors import one_line
from baa.io.dicom import is_dicom, open_dicom, transfer_syntax_name
from baa.io.images import MIN_SIDE, read_image, resize_pad


_MAX_LISTED = 5  # problems listed by name in summarize() before "... and N more"


def _check_for_load(t: _Table) -> pd.DataFrame:
    rows = t.rows
    if len(rows) == 0:
        raise InputError(t.where, "empty dataset (no rows)")
    bad = ~np.isfinite(rows["age_years"].to_numpy())
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            t.where,
            f"{int(bad.sum())} rows without a numeric bone age (first: id {rows['id'].iloc[i]}, "
            f"value {rows['age_raw'].iloc[i]!r})",
        )
    missing = ~rows["exists"].to_numpy(dtype=bool)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InputError(
            rows["path"].iloc[i],
            f"image not found (id {rows['id'].iloc[i]}; {int(missing.sum())} of {len(rows)} listed images are missing)",
        )
    return rows


def _read_resized(path: str, size: int, fix_polarity: bool) -> np.ndarray:
    return resize_pad(read_image(path, fix_polarity=fix_polarity), size)


def _read_many(paths: Sequence[str], size: int, fix_polarity: bool, progress: bool, workers: int | None, desc: str) -> torch.Tensor:
    """Read and resize ``paths`` into (N,1,S,S); threads overlap file I/O and PIL decoding."""
    n = len(paths)
    out = torch.empty((n, 1, size, size), dtype=torch.float32)
    workers = min(4, os.cpu_count() or 1) if workers is None else max(1, int(workers))
    bar = tqdm(total=n, desc=desc, unit="img", disable=not progress or n < 2)
    try:
        if workers == 1 or n < 4:
            for k, p in enumerate(paths):
                out[k, 0] = torch.from_numpy(_read_resized(p, size, fix_polarity))
                bar.update()
        else:
            ex = ThreadPoolExecutor(max_workers=workers)
            try:
                futs = [ex.submit(_read_resized, p, size, fix_polarity) for p in paths]
                for k, fu in enumerate(futs):
                    out[k, 0] = torch.from_numpy(fu.result())
                    bar.update()
            finally:
                ex.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
    return out


def _load_table(t: _Table, size: int, limit: int | None, fix_polarity: bool, progress: bool, workers: int | None) -> BoneAgeData:
    rows = t.rows
    if limit is not None:
        rows = rows.iloc[: max(0, int(limit))]
        t = _Table(rows, t.source, t.where, t.units, t.problems, t.extra_cols)
    rows = _check_for_load(t)
    images = _read_many(rows["path"].tolist(), int(size), fix_polarity, progress, workers, t.source.split(":")[0])
    extra = {"path": rows["path"].tolist()}
    for c in t.extra_cols:
        extra[c] = rows[c].tolist()
    return BoneAgeData(
        images=images,
        age=torch.tensor(rows["age_years"].to_numpy(), dtype=torch.float32),
        male=torch.tensor(rows["male"].to_numpy(), dtype=torch.float32),
        ids=rows["id"].tolist(),
        source=t.source,
        extra=extra,
    )


def load_rsna(
    root: str | os.PathLike,
    size: int = 256,
    limit: int | None = None,
    *,
    csv_name: str = RSNA_CSV,
    image_dir: str = RSNA_IMAGES,
    fix_polarity: bool = True,
    progress: bool = True,
    workers: int | None = None,
) -> BoneAgeData:
    """RSNA Pediatric Bone Age Challenge 2017 (datasets.md): ``root/boneage-training-dataset.csv``
    (``id,boneage,male``; months, integer or decimal; male True/False/1/0) and
    ``root/boneage-training-dataset/{id}.png``. The validation/test CSV column names
    (``Image ID``, ``Bone Age (months)``, ``Case ID``, ``Sex``) are recognised too; ``root`` may
    be the CSV itself. Months become years. ``limit`` keeps the first rows of the CSV."""
    t = _rsna_table(root, csv_name=csv_name, image_dir=image_dir)
    return _load_table(t, size, limit, fix_polarity, progress, workers)


def load_dha(
    root: str | os.PathLike,
    size: int = 256,
    metadata_csv: str | os.PathLike | None = None,
    reading_cols: Sequence[str] = ("reading1", "reading2"),
    id_col: str = "id",
    units: str = "months",
    *,
    age_col: str = "bone_age",
    sex_col: str | None = None,
    limit: int | None = None,
    fix_polarity: bool = True,
    progress: bool = True,
    workers: int | None = None,
) -> BoneAgeData:
    """Digital Hand Atlas, the paper's data (section 4.1, ~1400 left hands, 0-19 years).

    Images: ``root/JPEGimages/{RACE}{SEX}/{RACE}{SEX}{AA}/{id}.jpg`` (datasets.md); sex and race
    come from the folder names. Labels from ``metadata_csv`` (default: the one CSV in ``root``):
    either two radiologists' readings ``reading_cols`` keyed by ``id_col`` -- ground truth is
    their mean, as in the paper -- or, since the readings are hard to get today, a plain
    ``image_ID,dir,patient_ID,sex,bone_age`` CSV (``age_col``). ``units``: "months" (default)
    or "years". Images in the tree without a metadata row are ignored.
    """
    t = _dha_table(root, metadata_csv, reading_cols, id_col, units, age_col=age_col, sex_col=sex_col)
    return _load_table(t, size, limit, fix_polarity, progress, workers)


def load_csv(
    csv_path: str | os.PathLike,
    image_root: str | os.PathLike | None = None,
    path_col: str | None = None,
    age_col: str | None = None,
    sex_col: str | None = None,
    age_units: str = "months",
    size: int = 256,
    *,
    id_col: str | None = None,
    dir_col: str | None = "dir",
    limit: int | None = None,
    fix_polarity: bool = True,
    progress: bool = True,
    workers: int | None = None,
) -> BoneAgeData:
    """Any folder of images plus a CSV of image path and bone age.

    Paths are relative to ``image_root`` (default: the CSV's folder), optionally below a
    ``dir_col`` sub-folder (the ``image_ID,dir,...`` form of datasets.md); a path without an
    extension tries .png/.jpg/.jpeg/.dcm/.tif. Columns default to the first found of
    path/image_path/file/filename/image_ID/image/id, bone_age/boneage/age and sex/male/gender
    (sex optional: NaN when absent). ``age_units``: "months" or "years".
    """
    t = _csv_table(csv_path, image_root, path_col, age_col, sex_col, age_units, id_col, dir_col)
    return _load_table(t, size, limit, fix_polarity, progress, workers)


def load(root: str | os.PathLike, format: str = "rsna", size: int = 256, **kw) -> BoneAgeData:
    """Dispatch to :func:`load_rsna`, :func:`load_dha` or :func:`load_csv` (``root`` is then the CSV)."""
    fmt = str(format).lower()
    if fmt == "rsna":
        return load_rsna(root, size=size, **kw)
    if fmt == "dha":
        return load_dha(root, size=size, **kw)
    if fmt == "csv":
        return load_csv(root, size=size, **kw)
    raise InputError(root, f"unknown dataset format {format!r} (choose rsna, dha or csv)")


def _quick_check(path: str) -> str | None:
    """Cheap readability check: header and chunk CRCs, no decoding to full-size pixels."""
    p = Path(path)
    try:
        if p.stat().st_size == 0:
            return "empty file (0 bytes)"
        if is_dicom(p):
            ds = open_dicom(p, defer_size="1 KB")
            if ds.file_meta.get("TransferSyntaxUID") is not None:
                from pydicom.pixels import get_decoder

                try:
                    if not get_decoder(ds.file_meta.TransferSyntaxUID).is_available:
                        return f"no decoder installed for transfer syntax {transfer_syntax_name(ds)}"
                except NotImplementedError:
                    return f"unsupported transfer syntax {transfer_syntax_name(ds)}"
            return None
        with Image.open(p) as img:
            w, h = img.size
            if img.format == "JPEG":
                img.draft("L", (max(1, w // 8), max(1, h // 8)))  # DCT-scaled decode: 1/64 of the work
                img.load()  # a truncated JPEG fails here; verify() does nothing for JPEG
            else:
                img.verify()  # PNG: walks the chunks and checks CRCs without decoding
        if min(w, h) < MIN_SIDE:
            return f"image too small ({w}x{h} pixels)"
    except InputError as e:
        return e.problem
    except UnidentifiedImageError:
        return "not an image (format not recognised)"
    except Exception as e:  # any failure here is a finding to report, not a crash
        return f"unreadable ({type(e).__name__}: {one_line(e)})"
    return None


def _listed(items: list[str]) -> str:
    s = "; ".join(items[:_MAX_LISTED])
    return s + (f"; ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def summarize(root: str | os.PathLike, format: str = "rsna", check_images: bool = True, progress: bool = True, **kw) -> dict:
    """What ``baa data DIR --format ...`` prints: a JSON-able dict with ``n`` (labelled rows),
    ``n_images`` (those whose file exists), ``age_years`` {min,max,mean,median}, ``sex``
    {male,female,unknown}, and ``problems``: ids without images, unreadable images (header /
    PIL ``verify`` only, never decoded at full size), duplicates, non-numeric ages, ages outside
    0-20 years. Missing CSV / columns still raise :class:`InputError` (nothing to summarise)."""
    for k in ("size", "limit", "fix_polarity", "workers"):  # loader-only options: nothing is decoded here
        kw.pop(k, None)
    t = _table(root, format, **kw)
    rows = t.rows
    if len(rows) == 0:
        raise InputError(t.where, "empty dataset (no rows)")
    problems = list(t.problems)
    exists = rows["exists"].to_numpy(dtype=bool)
    if (~exists).any():
        miss = [f"{i} -> {p}" for i, p in zip(rows["id"][~exists], rows["path"][~exists])]
        problems.append(f"{len(miss)} ids without images: " + _listed(miss))
    if check_images and exists.any():
        bad = []
        for i, p in tqdm(list(zip(rows["id"][exists], rows["path"][exists])), desc="check", unit="img",
                         disable=not progress or exists.sum() < 2):
            msg = _quick_check(p)
            if msg:
                bad.append(f"{p}: {msg}")
        if bad:
            problems.append(f"{len(bad)} unreadable images: " + _listed(bad))
    dup_ids = rows["id"][rows["id"].duplicated()].unique().tolist()
    if dup_ids:
        problems.append(f"{len(dup_ids)} duplicated ids: " + _listed([str(d) for d in dup_ids]))
    dup_paths = rows["path"][exists & rows["path"].duplicated().to_numpy()].unique().tolist()
    if dup_paths:
        problems.append(f"{len(dup_paths)} images listed more than once: " + _listed(dup_paths))
    age = rows["age_years"].to_numpy()
    finite = np.isfinite(age)
    if (~finite).any():
        bad_age = [f"{i}: {v!r}" for i, v in zip(rows["id"][~finite], rows["age_raw"][~finite])]
        problems.append(f"{len(bad_age)} rows without a numeric bone age: " + _listed(bad_age))
    lo, hi = AGE_RANGE_YEARS
    out_range = finite & ((age < lo) | (age > hi))
    if out_range.any():
        ex = [f"{i}: {a:.2f} y" for i, a in zip(rows["id"][out_range], age[out_range])]
        problems.append(f"{len(ex)} ages outside {lo:g}-{hi:g} years (wrong units?): " + _listed(ex))
    if finite.sum() >= 5 and t.units.startswith("month") and np.nanmax(age) * 12 <= 20:
        problems.append("all ages are 20 months or less: were they given in years? (use units='years')")
    male = rows["male"].to_numpy()
    n_unknown = int(np.isnan(male).sum())
    return {
        "source": t.source,
        "csv": str(t.where),
        "n": int(len(rows)),
        "n_images": int(exists.sum()),
        "age_years": {
            "min": float(np.min(age[finite])) if finite.any() else None,
            "max": float(np.max(age[finite])) if finite.any() else None,
            "mean": float(np.mean(age[finite])) if finite.any() else None,
            "median": float(np.median(age[finite])) if finite.any() else None,
        },
        "sex": {"male": int((male == 1).sum()), "female": int((male == 0).sum()), "unknown": n_unknown},
        "problems": problems,
    }
