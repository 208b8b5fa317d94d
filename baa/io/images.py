"""Reading any radiograph file into a float32 grey image in [0, 1], bone bright; resizing to the
network's square input (Table 1: 1x256x256); writing images.

Layer: io (below data). Bad input raises :class:`baa.errors.InputError` (one line: file, problem).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from baa.errors import InputError, one_line
from baa.io.atomic import atomic_path
from baa.io.dicom import is_dicom, read_dicom


log = logging.getLogger(__name__)


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")


MIN_SIDE = 8  # smaller than this cannot show a hand; 1x1 "images" are export bugs


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
        raise InputError(path, f"image too large ({one_line(e)})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as e:
        raise InputError(path, f"truncated or corrupt image ({one_line(e)})") from None
    return arr, eight_bit


def read_image(path: str | os.PathLike, fix_polarity: bool = True) -> np.ndarray:
    """Read a radiograph as float32 (H,W) in [0,1], bone bright and background dark.

    Formats: 8/16-bit PNG, JPEG, TIFF, BMP (RGB/RGBA converted to grey), DICOM (by the ``DICM``
    magic or a ``.dcm`` name; rescale slope/intercept, VOI LUT or window, MONOCHROME1
    inverted). 8-bit data is min-max scaled; deeper data (12-16-bit, float, DICOM) is scaled
    between its 0.5 and 99.5 percentiles. With ``fix_polarity`` an inverted export (background
    brighter than the hand, ``../shared/reference/datasets.md``) is detected by :func:`detect_inverted` and flipped.

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
    if is_dicom(p):
        arr, eight_bit = read_dicom(p), False
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


def save_image(img, out: str | os.PathLike, bits: int = 8) -> None:
    """Write a [0,1] float image (H, W) as 8- or 16-bit PNG (or any PIL format by suffix), atomically."""
    arr = np.clip(np.asarray(img, dtype=np.float64), 0, 1)
    im = Image.fromarray((arr * 65535).round().astype(np.uint16)) if bits == 16 else Image.fromarray((arr * 255).round().astype(np.uint8))
    with atomic_path(out) as tmp:
        im.save(tmp)
