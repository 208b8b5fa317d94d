"""Reading radiographs and bone-age datasets into one in-memory container.

Everything a model sees goes through here:

* :func:`read_image` turns any real-world file (8/16-bit PNG, JPEG, TIFF, DICOM) into a float32
  grey image in [0, 1] with bone bright, whatever the file's polarity
  (``docs: shared/reference/datasets.md``, "What real files bring").
* :func:`resize_pad` brings it to the network's square input (paper Table 1: 1x256x256).
* :func:`load_rsna`, :func:`load_dha`, :func:`load_csv` (and the :func:`load` dispatcher) read
  the public datasets in their exact on-disk layouts into a :class:`BoneAgeData`;
  :func:`summarize` checks a dataset cheaply for ``baa data DIR``.
* :func:`augment` is the paper's augmentation (section 4.1: random rotation, shift, zoom) as one
  batched affine warp on any device; :func:`kfold_splits` is its 5-fold cross validation,
  stratified by age.

Every bad input raises :class:`baa.errors.InputError` whose message is one line
``path: problem``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from tqdm.auto import tqdm

from baa.errors import InputError

__all__ = [
    "BoneAgeData",
    "read_image",
    "detect_inverted",
    "normalize",
    "normalize_images",
    "resize_pad",
    "tta_views",
    "TTA_VIEWS",
    "load_rsna",
    "load_dha",
    "load_csv",
    "load",
    "summarize",
    "augment",
    "flip_augment",
    "blur_augment",
    "kfold_splits",
    "IMAGE_EXTENSIONS",
    "MIN_SIDE",
]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")
DICOM_EXTENSIONS = (".dcm", ".dicom")
MIN_SIDE = 8  # smaller than this cannot show a hand; 1x1 "images" are export bugs
AGE_RANGE_YEARS = (0.0, 20.0)  # DHA: 0-18 (paper: 0-19); RSNA: 0-19 years
_MAX_LISTED = 5  # problems listed by name in summarize() before "... and N more"


# --------------------------------------------------------------------------------------------
# Container
# --------------------------------------------------------------------------------------------


@dataclass
class BoneAgeData:
    """A dataset in memory, the common currency of phantom and real data.

    ``images`` (N,1,S,S) float32 in [0,1] (paper Table 1: S=256); ``age`` (N,) ground-truth bone
    age in years (DHA: mean of the two readings, paper section 4.1); ``male`` (N,) 1/0, NaN when
    unknown; ``ids`` one string per image; ``source`` where it came from (``"phantom"``,
    ``"rsna:/path"``, ``"dha:/path"``, ``"csv:/path"``). ``extra`` holds optional per-image
    lists (e.g. ``"path"``, ``"race"``) that :meth:`subset` keeps aligned.
    """

    images: torch.Tensor
    age: torch.Tensor
    male: torch.Tensor
    ids: list[str]
    source: str
    extra: dict[str, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(f"images must be (N,1,S,S), got {tuple(self.images.shape)}")
        if self.age.shape != (n,) or self.male.shape != (n,) or len(self.ids) != n:
            raise ValueError(
                f"inconsistent lengths: images {n}, age {tuple(self.age.shape)}, "
                f"male {tuple(self.male.shape)}, ids {len(self.ids)}"
            )
        for k, v in self.extra.items():
            if len(v) != n:
                raise ValueError(f"extra[{k!r}] has {len(v)} entries for {n} images")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, idx: Any) -> "BoneAgeData":
        """The images at ``idx`` (ints, a bool mask, a slice, a numpy array or a tensor)."""
        if isinstance(idx, slice):
            index = torch.arange(len(self))[idx]
        else:
            index = torch.as_tensor(np.asarray(idx.cpu() if torch.is_tensor(idx) else idx))
            if index.dtype == torch.bool:
                index = torch.nonzero(index, as_tuple=False).flatten()
            index = index.long().flatten()
        pos = index.tolist()
        dev = self.images.device
        return BoneAgeData(
            images=self.images[index.to(dev)],
            age=self.age[index.to(self.age.device)],
            male=self.male[index.to(self.male.device)],
            ids=[self.ids[i] for i in pos],
            source=self.source,
            extra={k: [v[i] for i in pos] for k, v in self.extra.items()},
        )

    def to(self, device: Any) -> "BoneAgeData":
        return BoneAgeData(
            images=self.images.to(device),
            age=self.age.to(device),
            male=self.male.to(device),
            ids=list(self.ids),
            source=self.source,
            extra={k: list(v) for k, v in self.extra.items()},
        )


# --------------------------------------------------------------------------------------------
# Single images
# --------------------------------------------------------------------------------------------


def normalize(arr: np.ndarray, percentiles: tuple[float, float] | None = (0.5, 99.5)) -> np.ndarray:
    """Robust min-max to [0,1]: clip at ``percentiles`` (None: plain min-max).

    Percentiles keep a few hot/dead pixels or a lead marker of 12-16-bit data from squeezing the
    hand into a narrow grey band. Raises ``ValueError`` for a constant image.
    """
    a = arr.astype(np.float32, copy=False)
    if percentiles is None:
        lo, hi = float(a.min()), float(a.max())
    else:
        lo, hi = (float(v) for v in np.percentile(a, percentiles))
        if hi <= lo:  # mostly-constant image: fall back to the full range
            lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        raise ValueError(f"blank image (all pixels equal {lo:g})")
    out = (a - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def normalize_images(images: torch.Tensor, percentiles: tuple[float, float] = (0.5, 99.5)) -> torch.Tensor:
    """``normalize`` applied to each image of a batch (N,1,H,W) -> float32: the level convention
    of ``read_image`` and ``baa assess``, so that networks trained on rendered phantoms see the
    same intensity scale as files read from disk (rendered levels vary by site and exposure; a
    file's levels are arbitrary)."""
    arr = images.detach().float().cpu().numpy()
    out = np.stack([normalize(a[0], percentiles)[None] for a in arr])
    return torch.from_numpy(out)


def strip_uniform_borders(img: np.ndarray, max_fraction: float = 0.3, tol: float = 0.04) -> np.ndarray:
    """Crop flat bands along the edges: collimator shadows (unexposed, so white on a correct
    radiograph and black on an inverted one) and film borders. A row or column belongs to a band
    while its spread (10th-90th percentile) stays under ``tol``; at most ``max_fraction`` of each
    side is removed. Used before judging polarity, which such bands would otherwise decide."""
    a = np.asarray(img, dtype=np.float32)
    h, w = a.shape
    top, bottom, left, right = 0, h, 0, w

    def flat(v: np.ndarray) -> bool:
        q10, q90 = np.percentile(v, (10, 90))
        return q90 - q10 < tol

    while top < int(max_fraction * h) and flat(a[top, left:right]):
        top += 1
    while h - bottom < int(max_fraction * h) and flat(a[bottom - 1, left:right]):
        bottom -= 1
    while left < int(max_fraction * w) and flat(a[top:bottom, left]):
        left += 1
    while w - right < int(max_fraction * w) and flat(a[top:bottom, right - 1]):
        right -= 1
    return a[top:bottom, left:right]


def detect_inverted(img: np.ndarray, margin: float = 0.08) -> bool:
    """True when ``img`` looks like an inverted export: background brighter than the hand.

    A hand radiograph has the hand (soft tissue and bone, bright) in the middle and air
    (dark) along most of the border. We compare the median of a border ring (outer 5 %) with
    the median of the central half; medians ignore film edges, rulers and 'L'/'R' markers that
    touch one side. ``margin`` (in [0,1] grey levels) leaves ambiguous images (hand filling the
    frame) alone. Works on any range; the image is min-max scaled first.
    """
    a = np.asarray(img, dtype=np.float32)
    if a.ndim != 2 or min(a.shape) < 4:
        return False
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    if not hi > lo:
        return False
    a = (a - lo) / (hi - lo)
    a = strip_uniform_borders(a)
    h, w = a.shape
    b = max(1, int(round(0.05 * min(h, w))))
    border = np.concatenate([a[:b].ravel(), a[-b:].ravel(), a[b:-b, :b].ravel(), a[b:-b, -b:].ravel()])
    centre = a[h // 4 : h - h // 4, w // 4 : w - w // 4]
    return bool(np.median(border) - np.median(centre) > margin)


def _grey_from_pil(img: Image.Image) -> np.ndarray:
    """PIL image -> 2-D numpy array, keeping 16-bit and float data as they are."""
    mode = img.mode
    if mode in ("L", "I", "F") or mode.startswith("I;16"):
        return np.array(img)
    if mode == "1":
        return np.array(img.convert("L"))
    if mode in ("LA", "La"):
        a = np.array(img.convert("LA"), dtype=np.float32)
        return a[..., 0] * (a[..., 1] / 255.0)
    if mode not in ("RGB", "RGBA"):
        img = img.convert("RGBA")  # palette, CMYK, YCbCr ...
    a = np.array(img, dtype=np.float32)
    # ITU-R 601 luma in float, so grey-saved-as-RGB round-trips exactly
    grey = a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
    if a.shape[-1] == 4:  # transparent = no X-ray = background (dark)
        grey = grey * (a[..., 3] / 255.0)
    return grey


def _read_pil(path: Path) -> tuple[np.ndarray, bool]:
    """Returns (array, is_8bit)."""
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)  # phone photos of films carry an orientation tag
            arr = _grey_from_pil(img)
            eight_bit = img.mode in ("L", "1", "LA", "La", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr")
    except UnidentifiedImageError:
        raise InputError(path, "not an image (format not recognised)") from None
    except Image.DecompressionBombError as e:
        raise InputError(path, f"image too large ({_one_line(e)})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as e:
        raise InputError(path, f"truncated or corrupt image ({_one_line(e)})") from None
    return arr, eight_bit


def _one_line(e: BaseException) -> str:
    """Library messages can span lines (pydicom lists every plugin); InputError is one line."""
    return " ".join(str(e).split())


def _is_dicom(path: Path) -> bool:
    if path.suffix.lower() in DICOM_EXTENSIONS:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _open_dicom(path: Path, **kw):
    """pydicom Dataset with pixel data, or InputError. ``kw`` go to ``dcmread``."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path, **kw)
    except InvalidDicomError:
        try:  # old files without the 128-byte preamble
            ds = pydicom.dcmread(path, force=True, **kw)
            ok = "PixelData" in ds and "Rows" in ds
        except Exception:
            ok = False
        if not ok:
            raise InputError(path, "not a DICOM file (no DICM header, no pixel data)") from None
    except Exception as e:
        raise InputError(path, f"corrupt DICOM file ({type(e).__name__}: {_one_line(e)})") from None
    if "PixelData" not in ds:
        raise InputError(path, "DICOM file has no pixel data")
    return ds


def _transfer_syntax_name(ds) -> str:
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return str(getattr(ts, "name", None) or ts or "unknown")


def _read_dicom(path: Path) -> np.ndarray:
    """DICOM -> display values: modality LUT (slope/intercept), VOI LUT or window, MONOCHROME1
    inverted so bone is bright. pydicom's ``pixel_array`` alone gives raw stored values."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    ds = _open_dicom(path)
    try:
        raw = ds.pixel_array
    except Exception as e:
        raise InputError(
            path,
            f"cannot decode DICOM pixel data (transfer syntax {_transfer_syntax_name(ds)}: "
            f"{type(e).__name__}: {_one_line(e)})",
        ) from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        log.info("%s: %d frames, using the first", path, frames)
        raw = raw[0]
    if raw.ndim == 3:  # colour (RGB / YBR already converted to RGB by pydicom)
        a = raw.astype(np.float32)
        return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114
    try:
        arr = apply_modality_lut(raw, ds).astype(np.float64)
        voi = apply_voi_lut(arr, ds)
    except Exception as e:
        raise InputError(path, f"invalid DICOM rescale/window/LUT ({type(e).__name__}: {_one_line(e)})") from None
    arr = np.asarray(voi, dtype=np.float64)
    if photometric == "MONOCHROME1":  # minimum value is white: flip so bone is bright
        arr = arr.max() + arr.min() - arr
    return arr


def read_image(path: str | os.PathLike, fix_polarity: bool = True) -> np.ndarray:
    """Read a radiograph as float32 (H,W) in [0,1], bone bright and background dark.

    Formats: 8/16-bit PNG, JPEG, TIFF, BMP (RGB/RGBA converted to grey), DICOM (by the ``DICM``
    magic or a ``.dcm`` name; rescale slope/intercept, VOI LUT or window, MONOCHROME1
    inverted). 8-bit data is min-max scaled; deeper data (12-16-bit, float, DICOM) is scaled
    between its 0.5 and 99.5 percentiles. With ``fix_polarity`` an inverted export (background
    brighter than the hand, datasets.md) is detected by :func:`detect_inverted` and flipped.

    Raises :class:`InputError` for a missing, empty, truncated or non-image file, garbage DICOM,
    an undecodable transfer syntax, NaN/inf pixels, an image under ``MIN_SIDE`` pixels a side,
    or a blank image.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if p.is_dir():
        raise InputError(p, "is a directory, not an image file")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise InputError(p, f"cannot read ({e.strerror})") from None
    if size == 0:
        raise InputError(p, "empty file (0 bytes)")
    if _is_dicom(p):
        arr, eight_bit = _read_dicom(p), False
    else:
        arr, eight_bit = _read_pil(p)
    if arr.ndim != 2:
        raise InputError(p, f"unexpected pixel array shape {arr.shape}")
    h, w = arr.shape
    if min(h, w) < MIN_SIDE:
        raise InputError(p, f"image too small ({w}x{h} pixels; need at least {MIN_SIDE} a side)")
    if np.issubdtype(arr.dtype, np.floating):
        bad = ~np.isfinite(arr)
        if bad.any():
            n_nan = int(np.isnan(arr).sum())
            what = f"{n_nan} NaN" if n_nan else f"{int(bad.sum())} infinite"
            raise InputError(p, f"{what} pixel value(s)")
    try:
        img = normalize(arr, None if eight_bit else (0.5, 99.5))
    except ValueError as e:
        raise InputError(p, str(e)) from None
    if fix_polarity and detect_inverted(img):
        log.info("%s: background brighter than the hand, inverting", p)
        img = 1.0 - img
    return img


def resize_pad(img: np.ndarray | torch.Tensor, size: int, fill: float = 0.0) -> np.ndarray:
    """Fit ``img`` (H,W) into a ``size`` x ``size`` square: aspect-preserving resize (antialiased
    when shrinking, so thin bone edges average instead of aliasing) and centred padding with
    ``fill`` (0 = background). Paper Table 1 input: 256x256."""
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    t = torch.as_tensor(np.asarray(img, dtype=np.float32) if not torch.is_tensor(img) else img)
    t = t.detach().float().cpu()
    if t.ndim != 2:
        raise ValueError(f"resize_pad expects a 2-D image, got shape {tuple(t.shape)}")
    h, w = t.shape
    scale = size / max(h, w)
    nh, nw = max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))
    if (nh, nw) != (h, w):
        t = F.interpolate(t[None, None], size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)[0, 0]
    out = torch.full((size, size), float(fill), dtype=torch.float32)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = t
    return out.numpy()


# --------------------------------------------------------------------------------------------
# CSV helpers
# --------------------------------------------------------------------------------------------

_TRUE = {"true", "t", "1", "1.0", "m", "male", "man", "boy", "yes", "y"}
_FALSE = {"false", "0", "0.0", "f", "female", "woman", "girl", "no", "n"}


def _parse_sex(values: Iterable[Any]) -> np.ndarray:
    """RSNA ``male`` True/False/1/0 or ``sex`` M/F -> 1/0, anything else NaN (unknown)."""
    out = []
    for v in values:
        s = str(v).strip().lower() if v is not None and not (isinstance(v, float) and math.isnan(v)) else ""
        out.append(1.0 if s in _TRUE else 0.0 if s in _FALSE else math.nan)
    return np.asarray(out, dtype=np.float32)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(path, "CSV file not found")
    if path.is_dir():
        raise InputError(path, "is a directory, expected a CSV file")
    try:
        df = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(path, "empty CSV file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise InputError(path, f"not a readable CSV ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _norm_col(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _find_col(df: pd.DataFrame, candidates: Sequence[str]) -> str | None:
    """First column matching one of ``candidates``, ignoring case, spaces and punctuation."""
    by_norm = {_norm_col(c): c for c in df.columns}
    for cand in candidates:
        if cand in df.columns:
            return cand
        hit = by_norm.get(_norm_col(cand))
        if hit is not None:
            return hit
    return None


def _missing_columns(csv: Path, df: pd.DataFrame, missing: Sequence[str]) -> InputError:
    return InputError(
        csv, f"missing column(s) {', '.join(missing)}; the CSV has columns {', '.join(map(str, df.columns))}"
    )


def _stem(value: Any) -> str:
    """'7186', '7186.jpg', 'JPEGimages/CAUM/CAUM12/7186.jpg' or a URL -> '7186'."""
    s = str(value).strip().split("?")[0]
    s = re.split(r"[\\/]", s)[-1]
    base, ext = os.path.splitext(s)
    return base if ext.lower() in IMAGE_EXTENSIONS else s


def _resolve(root: Path, name: str, subdir: str | None = None) -> tuple[Path, bool]:
    """Find the image ``name`` (optionally under ``subdir``) below ``root``; returns (path, exists)."""
    rel = Path(str(name).strip())
    if rel.is_absolute():
        cands = [rel]
    else:
        cands = []
        if subdir and str(subdir).strip() and str(subdir).lower() != "nan":
            cands.append(root / str(subdir).strip() / rel)
        cands.append(root / rel)
    if rel.suffix.lower() not in IMAGE_EXTENSIONS:
        cands += [c.with_name(c.name + ext) for c in list(cands) for ext in (".png", ".jpg", ".jpeg", ".dcm", ".tif")]
    for c in cands:
        if c.is_file():
            return c, True
    return cands[0], False


def _to_years(months_or_years: np.ndarray, units: str, where: Path) -> np.ndarray:
    u = str(units).lower()
    if u in ("months", "month", "m"):
        return months_or_years / 12.0
    if u in ("years", "year", "y"):
        return months_or_years
    raise InputError(where, f"unknown age units {units!r} (use 'months' or 'years')")


# A dataset before its images are read: one row per labelled image. Columns: id, path (str),
# exists (bool), age_years (float, NaN if not a number), age_raw (the CSV text), male (float).
# ``problems`` collects what summarize() reports; load_* turns the fatal ones into InputError.


@dataclass
class _Table:
    rows: pd.DataFrame
    source: str
    where: Path  # the CSV (or root) named in errors
    units: str = "months"
    problems: list[str] = field(default_factory=list)
    extra_cols: tuple[str, ...] = ()


def _make_rows(ids, paths, exists, age_raw, age_years, male, **extra) -> pd.DataFrame:
    d = {
        "id": [str(i) for i in ids],
        "path": [str(p) for p in paths],
        "exists": list(exists),
        "age_raw": list(age_raw),
        "age_years": np.asarray(age_years, dtype=np.float64),
        "male": np.asarray(male, dtype=np.float32),
    }
    d.update(extra)
    return pd.DataFrame(d)


def _numeric(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Dataset indexes (no pixels read)
# --------------------------------------------------------------------------------------------

RSNA_CSV = "boneage-training-dataset.csv"
RSNA_IMAGES = "boneage-training-dataset"


def _rsna_table(root: str | os.PathLike, csv_name: str = RSNA_CSV, image_dir: str = RSNA_IMAGES) -> _Table:
    root = Path(root)
    if root.is_file():  # the CSV itself was given
        csv, root = root, root.parent
    else:
        if not root.exists():
            raise InputError(root, "dataset folder not found")
        csv = root / csv_name
        if not csv.exists():
            found = sorted(p.name for p in root.glob("*.csv"))
            if len(found) == 1:
                csv = root / found[0]
            else:
                raise InputError(csv, f"RSNA label CSV not found (CSV files in the folder: {found or 'none'})")
    df = _read_csv(csv)
    # training CSV: id,boneage,male; validation: Image ID,male,Bone Age (months); test: Case ID,Sex,...
    id_col = _find_col(df, ["id", "Image ID", "Case ID", "image_ID"])
    age_col = _find_col(df, ["boneage", "Bone Age (months)", "Ground truth bone age (months)", "bone_age"])
    sex_col = _find_col(df, ["male", "Sex", "gender"])
    missing = [n for n, c in (("id", id_col), ("boneage", age_col)) if c is None]
    if missing:
        raise _missing_columns(csv, df, missing)
    img_dir = root
    for cand in (root / image_dir / image_dir, root / image_dir):  # Kaggle zips nest the folder
        if cand.is_dir() and next(cand.glob("*.png"), None) is not None:
            img_dir = cand
            break
    ids = [str(v).strip() for v in df[id_col]]
    resolved = [_resolve(img_dir, i if Path(i).suffix else f"{i}.png") for i in ids]
    months = _numeric(df[age_col])
    male = _parse_sex(df[sex_col]) if sex_col else np.full(len(df), np.nan, np.float32)
    rows = _make_rows(ids, [r[0] for r in resolved], [r[1] for r in resolved], df[age_col].tolist(), months / 12.0, male)
    t = _Table(rows, f"rsna:{root}", csv, "months")
    if sex_col is None:
        t.problems.append(f"no sex column (male/Sex) in {csv.name}: sex unknown for all images")
    return t


_DHA_GROUP = re.compile(r"^(ASI|BLK|CAU|HIS)([FM])(\d{1,2})$", re.IGNORECASE)
_DHA_RACESEX = re.compile(r"^(ASI|BLK|CAU|HIS)([FM])$", re.IGNORECASE)


def _dha_index(tree: Path) -> dict[str, dict]:
    """stem -> {path, race, male, group, dup} for every image under the DHA tree
    ``JPEGimages/{RACE}{SEX}/{RACE}{SEX}{AA}/{id}.jpg`` (datasets.md)."""
    index: dict[str, dict] = {}
    for p in sorted(tree.rglob("*")):
        if p.suffix.lower() not in IMAGE_EXTENSIONS or not p.is_file():
            continue
        race, male, group = None, math.nan, None
        m = _DHA_GROUP.match(p.parent.name)
        if m:
            race, male, group = m.group(1).upper(), 1.0 if m.group(2).upper() == "M" else 0.0, int(m.group(3))
        else:
            m = _DHA_RACESEX.match(p.parent.name)
            if m:
                race, male = m.group(1).upper(), 1.0 if m.group(2).upper() == "M" else 0.0
        entry = {"path": p, "race": race, "male": male, "group": group, "dup": []}
        if p.stem in index:
            index[p.stem]["dup"].append(p)
        else:
            index[p.stem] = entry
    return index


def _dha_table(
    root: str | os.PathLike,
    metadata_csv: str | os.PathLike | None = None,
    reading_cols: Sequence[str] = ("reading1", "reading2"),
    id_col: str = "id",
    units: str = "months",
    age_col: str = "bone_age",
    sex_col: str | None = None,
) -> _Table:
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "DHA folder not found" if not root.exists() else "expected the DHA folder, got a file")
    tree = root / "JPEGimages" if (root / "JPEGimages").is_dir() else root
    index = _dha_index(tree)
    if metadata_csv is None:
        found = sorted(root.glob("*.csv")) or sorted(tree.glob("*.csv"))
        if len(found) != 1:
            raise InputError(
                root,
                "no metadata CSV given and "
                + (f"several CSVs found ({', '.join(p.name for p in found)})" if found else "none found")
                + f": pass metadata_csv= (columns {id_col},{','.join(reading_cols)} or image_ID,{age_col})",
            )
        csv = found[0]
    else:
        csv = Path(metadata_csv)
        if not csv.is_absolute() and not csv.exists() and (root / csv).exists():
            csv = root / csv
    df = _read_csv(csv)
    problems: list[str] = []

    read_found = [_find_col(df, [c]) for c in reading_cols]
    if all(c is not None for c in read_found):
        vals = np.stack([_numeric(df[c]) for c in read_found], axis=1)
        n_one = int((np.isfinite(vals).sum(axis=1) == 1).sum())
        if n_one:
            problems.append(f"{n_one} rows with only one reading (its value used as ground truth)")
        # ground truth = mean of the two radiologists' readings (paper section 4.1); one missing
        # reading -> the other; none -> NaN (reported / refused later)
        cnt = np.isfinite(vals).sum(axis=1)
        tot = np.where(np.isfinite(vals), vals, 0.0).sum(axis=1)
        raw_age = np.divide(tot, cnt, out=np.full(len(df), np.nan), where=cnt > 0)
        age_raw_text = [" / ".join(str(df[c].iloc[i]) for c in read_found) for i in range(len(df))]
    else:
        a_col = _find_col(df, [age_col, "boneage", "Bone Age (months)"])
        if a_col is None:
            miss = [c for c, f in zip(reading_cols, read_found) if f is None]
            raise InputError(
                csv,
                f"missing column(s) {', '.join(miss)} (two readings) or {age_col} (one bone age); "
                f"the CSV has columns {', '.join(map(str, df.columns))}",
            )
        raw_age = _numeric(df[a_col])
        age_raw_text = df[a_col].tolist()
    i_col = _find_col(df, [id_col, "image_ID", "id", "image", "filename", "path"])
    if i_col is None:
        raise _missing_columns(csv, df, [id_col])
    dir_col = _find_col(df, ["dir"])
    s_col = _find_col(df, [sex_col] if sex_col else ["sex", "gender", "male"])
    csv_male = _parse_sex(df[s_col]) if s_col else np.full(len(df), np.nan, np.float32)

    ids, paths, exists, male, race, group = [], [], [], [], [], []
    conflicts = 0
    for k, raw in enumerate(df[i_col].tolist()):
        stem = _stem(raw)
        ids.append(stem)
        hit = index.get(stem)
        if hit is not None:
            p, ok = hit["path"], True
        else:
            p, ok = _resolve(root, str(raw).strip(), df[dir_col].iloc[k] if dir_col else None)
            hit = {}
        paths.append(p)
        exists.append(ok)
        m_folder = hit.get("male", math.nan)
        m_csv = float(csv_male[k])
        if not math.isnan(m_folder) and not math.isnan(m_csv) and m_folder != m_csv:
            conflicts += 1
        male.append(m_folder if not math.isnan(m_folder) else m_csv)  # folder name wins (datasets.md)
        race.append(hit.get("race"))
        group.append(hit.get("group"))
    if conflicts:
        problems.append(f"{conflicts} rows whose CSV sex contradicts the folder name (folder used)")
    dups = {s: e["dup"] for s, e in index.items() if e["dup"]}
    if dups:
        s0 = next(iter(dups))
        problems.append(f"{len(dups)} image numbers appear in several folders (first: {s0}; the first path is used)")
    unlabelled = len(set(index) - set(ids))
    if unlabelled:
        problems.append(f"{unlabelled} images in {tree.name} have no row in {csv.name} (ignored)")
    rows = _make_rows(ids, paths, exists, age_raw_text, _to_years(raw_age, units, csv), male, race=race, age_group=group)
    return _Table(rows, f"dha:{root}", csv, units, problems, extra_cols=("race", "age_group"))


def _csv_table(
    csv_path: str | os.PathLike,
    image_root: str | os.PathLike | None = None,
    path_col: str | None = None,
    age_col: str | None = None,
    sex_col: str | None = None,
    age_units: str = "months",
    id_col: str | None = None,
    dir_col: str | None = "dir",
) -> _Table:
    csv = Path(csv_path)
    df = _read_csv(csv)
    root = Path(image_root) if image_root is not None else csv.parent
    p_col = _find_col(df, [path_col] if path_col else ["path", "image_path", "file", "filename", "image_ID", "image", "id"])
    a_col = _find_col(df, [age_col] if age_col else ["bone_age", "boneage", "bone_age_months", "Bone Age (months)", "age"])
    missing = [n for n, c in ((path_col or "path/image_ID", p_col), (age_col or "bone_age", a_col)) if c is None]
    if missing:
        raise _missing_columns(csv, df, missing)
    s_col = _find_col(df, [sex_col] if sex_col else ["sex", "male", "gender"])
    if sex_col and s_col is None:
        raise _missing_columns(csv, df, [sex_col])
    d_col = _find_col(df, [dir_col]) if dir_col else None
    i_col = _find_col(df, [id_col]) if id_col else None
    if id_col and i_col is None:
        raise _missing_columns(csv, df, [id_col])
    names = [str(v).strip() for v in df[p_col]]
    resolved = [_resolve(root, n, df[d_col].iloc[k] if d_col else None) for k, n in enumerate(names)]
    ids = [str(v).strip() for v in df[i_col]] if i_col else [_stem(n) for n in names]
    male = _parse_sex(df[s_col]) if s_col else np.full(len(df), np.nan, np.float32)
    rows = _make_rows(
        ids, [r[0] for r in resolved], [r[1] for r in resolved], df[a_col].tolist(),
        _to_years(_numeric(df[a_col]), age_units, csv), male,
    )
    return _Table(rows, f"csv:{csv}", csv, age_units)


def _table(root: str | os.PathLike, format: str, **kw) -> _Table:
    fmt = str(format).lower()
    if fmt == "rsna":
        return _rsna_table(root, **kw)
    if fmt == "dha":
        if "metadata_csv" not in kw and Path(root).is_file() and Path(root).suffix.lower() == ".csv":
            kw["metadata_csv"], root = root, Path(root).parent
        return _dha_table(root, **kw)
    if fmt == "csv":
        return _csv_table(root, **kw)
    raise InputError(root, f"unknown dataset format {format!r} (choose rsna, dha or csv)")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Summary (baa data DIR)
# --------------------------------------------------------------------------------------------


def _quick_check(path: str) -> str | None:
    """Cheap readability check: header and chunk CRCs, no decoding to full-size pixels."""
    p = Path(path)
    try:
        if p.stat().st_size == 0:
            return "empty file (0 bytes)"
        if _is_dicom(p):
            ds = _open_dicom(p, defer_size="1 KB")
            if ds.file_meta.get("TransferSyntaxUID") is not None:
                from pydicom.pixels import get_decoder

                try:
                    if not get_decoder(ds.file_meta.TransferSyntaxUID).is_available:
                        return f"no decoder installed for transfer syntax {_transfer_syntax_name(ds)}"
                except NotImplementedError:
                    return f"unsupported transfer syntax {_transfer_syntax_name(ds)}"
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
        return f"unreadable ({type(e).__name__}: {_one_line(e)})"
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


# --------------------------------------------------------------------------------------------
# Augmentation and cross validation (paper section 4.1)
# --------------------------------------------------------------------------------------------


MAX_ROTATION, MAX_SHIFT, ZOOM = 15.0, 0.1, (0.9, 1.1)  # the training augmentation's ranges (section 4.1)
# Bilinear resampling smooths: a BoNet+ that only ever sees warped images reads a sharp, unwarped
# one as older (cpu profile: +0.43 y bias on the clean bench phantoms, +0.19 y after a half-pixel
# resample of the same images), and then any blurring restorer "helps". BoNet+ training therefore
# warps only this share of its images (``train.regressor_batches``); the quality classifier warps
# every image, as the paper (with half its images unwarped its accuracy on labels fell to 51 %).
P_WARP = 0.5
TTA_VIEWS = 16  # test-time views baa assess averages over (chapter 9 measures the agreement they buy)


def augment(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    max_rotation: float = MAX_ROTATION,
    max_shift: float = MAX_SHIFT,
    zoom: tuple[float, float] = ZOOM,
    p_warp: float = 1.0,
) -> torch.Tensor:
    """The paper's augmentation (section 4.1: "random rotation, shift, zoom"; it gives no ranges,
    ours are the usual Keras-style ones) as one batched affine warp per image.

    ``images`` (N,C,H,W) on any device; rotation uniform in +-``max_rotation`` degrees, shift
    uniform in +-``max_shift`` of the side per axis, zoom (content magnification) uniform in
    ``zoom``; bilinear ``grid_sample`` with zero padding (the background is black). Each image is
    warped with probability ``p_warp`` (default: every image) and otherwise passed through unchanged
    (BoNet+ training uses ``P_WARP``).
    The random parameters are drawn from ``generator`` (on its own device), so a generator seeded
    the same way gives the same output on CPU and GPU.
    """
    if images.ndim != 4:
        raise ValueError(f"augment expects (N,C,H,W), got {tuple(images.shape)}")
    n = len(images)
    if n == 0:
        return images
    gdev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((n, 5), generator=generator, device=gdev, dtype=torch.float64).to(images.device)
    warped = _warp(images, u[:, :4], max_rotation, max_shift, zoom)
    keep = (u[:, 4] >= p_warp).view(n, 1, 1, 1)
    return torch.where(keep, images.to(warped.dtype), warped)


def _warp(images: torch.Tensor, u: torch.Tensor, max_rotation: float, max_shift: float,
          zoom: tuple[float, float]) -> torch.Tensor:
    """:func:`augment`'s warp of each image, its four parameters given as ``u`` (N,4) in [0,1)."""
    n, _, h, w = images.shape
    ang = (u[:, 0] * 2 - 1) * math.radians(max_rotation)
    tx, ty = (u[:, 1] * 2 - 1) * max_shift * 2, (u[:, 2] * 2 - 1) * max_shift * 2  # [-1,1] spans the side: x2
    z = zoom[0] + u[:, 3] * (zoom[1] - zoom[0])
    cos, sin = torch.cos(ang) / z, torch.sin(ang) / z  # output -> input map: zoom z shrinks the sampled area
    # rotate in pixel units, not normalised ones, so non-square images are not sheared
    ar = w / h
    theta = torch.zeros((n, 2, 3), dtype=torch.float64, device=images.device)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = cos, -sin / ar, -tx
    theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = sin * ar, cos, -ty
    dtype = images.dtype if images.is_floating_point() else torch.float32
    grid = F.affine_grid(theta.to(dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images.to(dtype), grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def tta_views(images: torch.Tensor, views: int, seed: int = 0) -> torch.Tensor:
    """``views`` copies of each image for test-time augmentation: the image itself, then
    ``views - 1`` warps drawn by :func:`augment` with its training ranges from a generator seeded
    ``seed`` (the same views every call). ``images`` (N,C,H,W) -> (views*N,C,H,W), view-major, so
    ``out.view(views, N, ...)`` groups them.

    Why: BoNet+ is trained on warped images (section 4.1's rotation, shift and zoom; half of them,
    see ``P_WARP``), and a short schedule leaves its age a rough function of the framing: moving
    the hand crop by one pixel moved a cpu-profile age by up to 0.5 y. The mean over warps of the training
    distribution is a smooth function of the input (chapter 9 measures what it buys)."""
    if views <= 1:
        return images
    # one warp per view, the same for every image: an image's views do not depend on its batch
    u = torch.rand((views - 1, 4), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    u = u.repeat_interleave(len(images), 0).to(images.device)
    x = images if images.is_floating_point() else images.float()
    return torch.cat([x, _warp(x.repeat(views - 1, 1, 1, 1), u, MAX_ROTATION, MAX_SHIFT, ZOOM)])


# blur_augment: share of images blurred, largest sigma (pixels). Up to 2 px spans what the restorers
# leave: the 4x low-resolution image brought back to size is about as soft as a 1.5-2 px Gaussian.
BLUR_P, BLUR_MAX_SIGMA = 0.5, 2.0


def blur_augment(images: torch.Tensor, generator: torch.Generator | None = None, p: float = BLUR_P,
                 max_sigma: float = BLUR_MAX_SIGMA) -> torch.Tensor:
    """Beyond the paper: a Gaussian blur of sigma uniform in (0, ``max_sigma``] pixels on a share
    ``p`` of the images (separable, replicate padding), the rest unchanged.

    Why: sharpness differs between sites (detector blur) and every restorer leaves some smoothing;
    a BoNet+ that reads age from sharpness scores a restorer by how much it blurs, not by what it
    restores (chapter 8). Trained on sharp and blurred images alike, it learns to read the bones."""
    n = len(images)
    if n == 0 or p <= 0:
        return images
    gdev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((n, 2), generator=generator, device=gdev, dtype=torch.float64).to(images.device)
    r = max(1, math.ceil(3 * max_sigma))
    k = torch.arange(-r, r + 1, device=images.device, dtype=torch.float64)
    sig = (u[:, 1] * max_sigma).clamp(min=1e-3)[:, None]
    w = torch.exp(-0.5 * (k[None] / sig) ** 2)
    w = (w / w.sum(1, keepdim=True)).to(images.dtype)  # (N, 2r+1)
    c, h, wd = images.shape[1:]
    x = images.reshape(1, n * c, h, wd)
    wk = w.repeat_interleave(c, 0)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), wk[:, None, None, :], groups=n * c)
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), wk[:, None, :, None], groups=n * c)
    keep = (u[:, 0] >= p).view(n, 1, 1, 1)
    return torch.where(keep, images, x.reshape(images.shape))


def flip_augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random horizontal and vertical flips, each with probability 1/2, per image: a lossless
    augmentation for the restorers. ``augment``'s bilinear resampling low-passes the clean target,
    and a ResUNet trained on such targets learns to blur (on the cpu profile's noise expert,
    0.7 dB lower PSNR than with flips); flips move pixels without changing a value."""
    if images.ndim != 4:
        raise ValueError(f"flip_augment expects (N,C,H,W), got {tuple(images.shape)}")
    gdev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((len(images), 2), generator=generator, device=gdev).to(images.device)
    out = torch.where((u[:, 0] < 0.5)[:, None, None, None], images.flip(-1), images)
    return torch.where((u[:, 1] < 0.5)[:, None, None, None], out.flip(-2), out)


def kfold_splits(age: Any, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k-fold cross validation (paper section 4.1: 5-fold) stratified by age.

    Images are sorted by age (ties in random order) and dealt, ``k`` at a time, into the ``k``
    folds in a shuffled order per block, so every fold spans the whole age range and fold
    sizes differ by at most one. Returns ``[(train_idx, val_idx), ...]`` of sorted int64
    arrays; every index is in exactly one validation fold. Same ``seed`` -> same folds.
    """
    a = np.asarray(age.detach().cpu() if torch.is_tensor(age) else age, dtype=np.float64).ravel()
    n = a.size
    k = int(k)
    if k < 2 or k > n:
        raise ValueError(f"need 2 <= k <= number of images, got k={k} for {n} images")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    order = perm[np.argsort(np.nan_to_num(a[perm], nan=np.inf), kind="stable")]
    fold = np.empty(n, dtype=np.int64)
    counts = np.zeros(k, dtype=np.int64)
    for start in range(0, n, k):
        block = order[start : start + k]
        if len(block) == k:
            fold[block] = rng.permutation(k)
        else:  # the last partial block goes to the currently smallest folds (ties at random)
            cand = np.lexsort((rng.random(k), counts))[: len(block)]
            fold[block] = rng.permutation(cand)
        np.add.at(counts, fold[block], 1)
    idx = np.arange(n)
    return [(idx[fold != f], idx[fold == f]) for f in range(k)]
