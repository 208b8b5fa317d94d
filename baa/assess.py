"""Assess real radiograph files: ``baa assess FILE...`` and ``baa restore IN OUT``.

The networks are trained on clean, framed, left-hand, fingers-up phantoms; real files bring
everything else (``shared/reference/datasets.md``, "What real files bring"). :func:`prepare` turns
any file into the network's input in five steps, each undoing one real-world difference:

1. **read** (:func:`baa.data.read_image`): PNG/JPEG/TIFF/DICOM, 8/16-bit, RGB, DICOM rescale and
   window, MONOCHROME1 and inverted exports flipped so bone is bright;
2. **border crop** (:func:`find_borders`): scanned films and collimated exposures have bright,
   unexposed bands along the edges; lines of the image that are mostly such a band are cut off
   and what is left of a slanted band is painted with the background level;
3. **orientation** (:func:`orientation`): the principal axis of the hand mask (second image
   moments) is turned vertical, fingers up (the forearm is the end that leaves the image, else
   the heavier end), and a right hand (thumb on the image's left) is mirrored into a left one;
4. **hand crop**: the bounding box of the largest bright component (the hand; rulers, 'L'/'R'
   markers and dust are smaller) plus a margin;
5. **resize_pad** (:func:`baa.data.resize_pad`) to the profile's square input (paper Table 1).

Handedness comes from a moment heuristic (:func:`thumb_side`): with the fingers up, the thumb
is the short digit that leaves the hand low and to one side, so the part of the hand mask below
its centroid reaches further out on the thumb's side. It is right on the phantoms and the real
radiographs we have, but a hand with an adducted thumb gives a weak signal; ``info["hand"]`` and
``info["handedness_confidence"]`` say what was decided, and ``--no-orient`` turns the step off.

Every file gets one result or one line ``file: problem``; a bad file never stops the batch and
never prints a traceback; the exit code is 2 when any file failed.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from baa.data import TTA_VIEWS, normalize, read_image, resize_pad, tta_views
from baa.errors import InputError

__all__ = ["Prepared", "prepare", "prepare_full", "find_borders", "orientation", "thumb_side",
           "load_models", "assess_files", "restore_file", "register_cli", "ENCODINGS", "write_encodings",
           "write_dicom", "encoding_agreement"]

ANALYSIS_SIDE = 256  # masks and moments are computed on a copy this large (fast, resolution-free)
MIN_THUMB_SCORE = 0.03  # below this the thumb side is a guess: leave the image as it is
MARGIN = 0.04  # hand crop margin, fraction of the hand's larger side (the phantoms frame the hand tightly)


# -- preprocessing ----------------------------------------------------------------------------------

@dataclass
class Prepared:
    """``tensor`` (1,1,S,S) network input; ``image`` the prepared crop at the file's resolution
    (H',W') float32 in [0,1]; ``info`` what each step did."""

    tensor: torch.Tensor
    image: np.ndarray
    info: dict = field(default_factory=dict)


def _shrink(img: np.ndarray, side: int = ANALYSIS_SIDE) -> tuple[np.ndarray, float]:
    h, w = img.shape
    s = min(1.0, side / max(h, w))
    if s == 1.0:
        return img.astype(np.float32, copy=False), 1.0
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
    out = F.interpolate(t, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear", antialias=True,
                        align_corners=False)[0, 0].numpy()
    return out, s


def _levels(a: np.ndarray) -> tuple[float, float]:
    """(background/tissue threshold, tissue/bright threshold) by three-class Otsu; two-class
    Otsu twice where the histogram is too flat for three classes."""
    from skimage.filters import threshold_multiotsu, threshold_otsu

    try:
        t1, t2 = (float(v) for v in threshold_multiotsu(a, classes=3, nbins=128))
    except ValueError:
        t1 = float(threshold_otsu(a))
        hi = a[a > t1]
        t2 = float(threshold_otsu(hi)) if hi.size > 1 and np.ptp(hi) > 0 else t1
    return t1, t2


def find_borders(a: np.ndarray, min_run: float = 0.25, max_cut: float = 0.35) -> tuple[np.ndarray, dict]:
    """Bright bands along the edges of ``a`` (a scanned film's border, a collimator's shadow).

    A band is a connected component of bright pixels (above the upper three-class Otsu level,
    or above 0.9) that touches an edge along at least ``min_run`` of its length; bones leave
    the image through the forearm only, over a small part of one edge. Returns the band mask
    and ``{"top","bottom","left","right"}`` the number of lines to cut on each side: lines, from
    the edge inward, at least half covered by the band (at most ``max_cut`` of the side).
    """
    from scipy import ndimage as ndi

    h, w = a.shape
    _, t2 = _levels(a)
    bright = a > max(t2, min(0.9, float(np.percentile(a, 99))))
    lab, n = ndi.label(bright)
    band = np.zeros_like(bright)
    if n:
        edges = {"top": lab[0], "bottom": lab[-1], "left": lab[:, 0], "right": lab[:, -1]}
        for side, line in edges.items():
            ids, counts = np.unique(line[line > 0], return_counts=True)
            for i, c in zip(ids, counts):
                if c >= min_run * line.size:
                    band |= lab == i
    cut = {"top": 0, "bottom": 0, "left": 0, "right": 0}
    if band.any():
        rows, cols = band.mean(1), band.mean(0)
        for side, prof, lim in (("top", rows, h), ("bottom", rows[::-1], h), ("left", cols, w), ("right", cols[::-1], w)):
            k = 0
            while k < int(max_cut * lim) and prof[k] >= 0.5:
                k += 1
            cut[side] = k
    return band, cut


def _hand_mask(a: np.ndarray) -> np.ndarray:
    """Largest connected component above the background/tissue Otsu level (the hand and forearm;
    rulers, markers and dust are smaller), holes filled."""
    from scipy import ndimage as ndi

    t1, _ = _levels(a)
    m = ndi.binary_opening(ndi.gaussian_filter(a, 1.0) > t1, iterations=1)
    lab, n = ndi.label(m)
    if n == 0:
        return m
    sizes = ndi.sum(m, lab, index=np.arange(1, n + 1))
    return ndi.binary_fill_holes(lab == 1 + int(np.argmax(sizes)))


def _moments(mask: np.ndarray) -> tuple[float, float, float]:
    """Centroid (x, y) and the principal axis angle (radians, from the image's vertical)."""
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean(), ys.mean()
    dx, dy = xs - cx, ys - cy
    mxx, myy, mxy = (dx * dx).mean(), (dy * dy).mean(), (dx * dy).mean()
    # direction of the larger eigenvector, as an angle from the vertical axis
    theta = 0.5 * math.atan2(2 * mxy, myy - mxx)
    return float(cx), float(cy), float(theta)


def thumb_side(mask: np.ndarray) -> float:
    """With the fingers up: > 0 when the thumb is on the image's right (a left hand seen PA, as
    the networks are trained), < 0 when on the left (a right hand). Over the rows from 35 % to
    75 % of the mask's height (palm and thumb), the mean reach of the mask to the right of the
    forearm's centre line minus its reach to the left, as a fraction of the image width: the
    four fingers and the palm sit over the forearm, the thumb sticks out on one side."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 10:
        return 0.0
    top, bottom = int(ys.min()), int(ys.max())
    fc = xs[ys > bottom - 0.1 * (bottom - top)].mean()  # forearm centre: the lowest tenth
    left, right = [], []
    for r in range(int(top + 0.35 * (bottom - top)), int(top + 0.75 * (bottom - top)) + 1):
        row = np.flatnonzero(mask[r])
        if len(row):
            left.append(fc - row.min())
            right.append(row.max() - fc)
    if not left:
        return 0.0
    return float((np.mean(right) - np.mean(left)) / mask.shape[1])


def _clear_outline(mask: np.ndarray) -> bool:
    """A hand outline the moments can be trusted on: 5-70 % of the image, leaving it through one
    side at most (the forearm). Otherwise (collimator edges or background merged into the mask)
    orientation and the hand crop are skipped rather than guessed."""
    frac = mask.mean()
    if not 0.05 <= frac <= 0.7:
        return False
    b = max(1, int(0.03 * min(mask.shape)))
    touched = sum(float(e.mean()) > 0.08 for e in (mask[:b], mask[-b:], mask[:, :b], mask[:, -b:]))
    return touched <= 1


def _rotate(img: np.ndarray, degrees: float, fill: float) -> np.ndarray:
    from scipy import ndimage as ndi

    if abs(degrees) < 1e-3:
        return img
    return ndi.rotate(img, degrees, reshape=True, order=1, mode="constant", cval=fill).astype(np.float32)


def orientation(a: np.ndarray) -> dict:
    """How to turn ``a`` so the hand stands fingers up as a left hand: ``{"rotate": degrees
    counter-clockwise, "mirror": bool, "thumb_score": float}`` (see the module docstring)."""
    mask = _hand_mask(a)
    if not _clear_outline(mask):
        return {"rotate": 0.0, "mirror": False, "thumb_score": 0.0, "skipped": True}
    _, _, theta = _moments(mask)
    deg = -math.degrees(theta)  # ndimage.rotate turns counter-clockwise for positive angles (y down)
    m = _rotate(mask.astype(np.float32), deg, 0.0) > 0.5
    # Where the hand leaves the image (the forearm; fingertips touch it far less) is the wrist's
    # end. The contact pixels are found in the original frame and turned with the mask: after a
    # turn, the canvas grows and its top and bottom rows no longer tell the ends apart.
    b = max(1, int(0.03 * min(mask.shape)))
    rim = np.zeros_like(mask)
    rim[:b], rim[-b:], rim[:, :b], rim[:, -b:] = True, True, True, True
    edge = _rotate((mask & rim).astype(np.float32), deg, 0.0) > 0.25
    ys = np.nonzero(m)[0]
    cy = ys.mean()
    ey = np.nonzero(edge)[0]
    above, below = int((ey < cy).sum()), int((ey > cy).sum())
    if above != below:
        down = above > below  # the forearm leaves the image: that end is the wrist
    else:
        down = cy < 0.5 * (ys.min() + ys.max())  # the heavier end (palm, forearm) below
    if down:
        deg += 180.0
        m = m[::-1, ::-1]
    deg = (deg + 180.0) % 360.0 - 180.0
    score = thumb_side(m)
    return {"rotate": deg, "mirror": score < -MIN_THUMB_SCORE, "thumb_score": score, "skipped": False}


def prepare_full(path, size: int, orient: bool = True) -> Prepared:
    """Read ``path`` and bring it to the network input (module docstring, steps 1-5)."""
    # read_image scales 8-bit data min-max and deeper data between percentiles; one more
    # percentile stretch makes both the same (it is affine-invariant), whatever the encoding
    img = normalize(read_image(path, fix_polarity=True), (0.5, 99.5))
    info: dict = {"original_shape": list(img.shape)}
    a, s = _shrink(img)
    # 2. bright borders: cut whole lines, paint what is left of a slanted band with the background
    band, cut = find_borders(a)
    info["border_cut"] = {k: int(round(v / s)) for k, v in cut.items()}
    if band.any():
        t1, _ = _levels(a)
        bg = float(np.median(a[(a <= t1) & ~band])) if ((a <= t1) & ~band).any() else 0.0
        full_band = F.interpolate(torch.from_numpy(band.astype(np.float32))[None, None], size=img.shape,
                                  mode="nearest")[0, 0].numpy() > 0.5
        img = img.copy()
        img[full_band] = bg
        a = a.copy()
        a[band] = bg
    H, W = img.shape
    c = info["border_cut"]
    img = img[c["top"]:H - c["bottom"], c["left"]:W - c["right"]]
    a = a[cut["top"]:a.shape[0] - cut["bottom"], cut["left"]:a.shape[1] - cut["right"]]
    # 3. orientation
    fill = float(np.percentile(a, 1))
    if orient:
        o = orientation(a)
        info.update(orientation="skipped (no clear hand outline)" if o["skipped"] else "corrected",
                    rotate_degrees=round(o["rotate"], 2), mirrored=bool(o["mirror"]),
                    hand="right" if o["mirror"] else "left" if o["thumb_score"] > MIN_THUMB_SCORE else "undecided (assumed left)", thumb_score=round(o["thumb_score"], 3))
        img = _rotate(img, o["rotate"], fill)
        a = _rotate(a, o["rotate"], fill)
        if o["mirror"]:
            img, a = img[:, ::-1], a[:, ::-1]
    # 4. the hand's bounding box
    mask = _hand_mask(a)
    if _clear_outline(mask):
        ys, xs = np.nonzero(mask)
        sy, sx = img.shape[0] / a.shape[0], img.shape[1] / a.shape[1]
        y0, y1, x0, x1 = ys.min() * sy, (ys.max() + 1) * sy, xs.min() * sx, (xs.max() + 1) * sx
        m = MARGIN * max(y1 - y0, x1 - x0)
        y0, x0 = max(0, int(y0 - m)), max(0, int(x0 - m))
        y1, x1 = min(img.shape[0], int(math.ceil(y1 + m))), min(img.shape[1], int(math.ceil(x1 + m)))
        img = img[y0:y1, x0:x1]
        info["hand_box"] = [x0, y0, x1, y1]
    else:
        info["hand_box"] = None  # no clear hand: keep the whole image
    img = np.ascontiguousarray(img, dtype=np.float32)
    # 5. the network's square input
    x = torch.from_numpy(resize_pad(img, size))[None, None]
    info["prepared_shape"] = list(img.shape)
    return Prepared(x, img, info)


def prepare(path, size: int) -> torch.Tensor:
    """The (1,1,size,size) network input for the file at ``path`` (read, border crop,
    orientation, hand crop, resize_pad)."""
    return prepare_full(path, size).tensor


# -- models -------------------------------------------------------------------------------------------

def _size_of(ckpt_dir: Path, default: int) -> int:
    """The image size a checkpoint folder was trained at (stored profile), else ``default``."""
    for name in ("bonet_mae_fold0", "bonet_nq", "resunet_dq", "classifier"):
        f = ckpt_dir / f"{name}.pt"
        if f.exists():
            extra = torch.load(f, map_location="cpu", weights_only=False).get("extra", {})
            size = (extra.get("profile") or {}).get("image_size")
            if size:
                return int(size)
    return default


def load_models(pipeline: str = "dq", profile=None, checkpoint=None) -> dict:
    """``{"pipe", "classifier" (or None), "size", "source"}`` for ``pipeline`` from
    ``artifacts/<profile>/models`` or ``checkpoint`` (a folder, or one BoNet+ checkpoint file).
    Raises ``FileNotFoundError`` naming what is missing and how to make it (``make book``)."""
    from baa.models import PlainPipeline
    from baa.pipelines import artifact_dir, load_pipeline
    from baa.profiles import get_profile
    from baa.train import load_checkpoint

    prof = get_profile(profile)
    if checkpoint and Path(checkpoint).is_file():
        model, state = load_checkpoint(checkpoint)
        if state["spec"]["name"] != "BoNetPlus":
            raise InputError(checkpoint, f"holds a {state['spec']['name']}, not a BoNet+; pass a folder of checkpoints")
        size = ((state.get("extra") or {}).get("profile") or {}).get("image_size") or prof.image_size
        return {"pipe": PlainPipeline(model).eval(), "classifier": None, "size": int(size),
                "source": str(checkpoint), "pipeline": "plain"}
    d = Path(checkpoint) if checkpoint else artifact_dir(prof) / "models"
    if checkpoint and not d.is_dir():
        raise FileNotFoundError(f"{d}: no such checkpoint file or folder")
    pipe = load_pipeline(pipeline, prof, d)
    clf = None
    if (d / "classifier.pt").exists():  # the CQ classifier's view of the quality, whatever the pipeline
        clf = load_checkpoint(d / "classifier.pt")[0].eval()
    size = _size_of(d, prof.image_size) if checkpoint else prof.image_size
    return {"pipe": pipe, "classifier": clf, "size": size, "source": str(d), "pipeline": pipeline}


# -- assessment ---------------------------------------------------------------------------------------

def _years_months(years: float) -> str:
    total = max(0, int(round(years * 12)))
    return f"{total // 12} y {total % 12} mo"


@torch.inference_mode()
def _assess_one(path, models: dict, male: float | None, save_dir: Path | None, tta: int = TTA_VIEWS) -> dict:
    prep = prepare_full(path, models["size"])
    x = prep.tensor
    pipe = models["pipe"]
    reg = pipe.regressor
    m = None
    if getattr(reg, "config", None) is not None and reg.config.use_sex:
        if male is None:
            raise InputError(path, "this BoNet+ uses the sex: pass --sex M or --sex F")
        m = torch.tensor([male])
    restored = pipe.restore(x)
    views = max(1, int(tta))
    # the mean age over the restored image and views - 1 warps of it (data.tta_views)
    age = float(reg(tta_views(restored, views), None if m is None else m.expand(views)).mean())
    res = {"file": str(path), "bone_age_years": round(age, 3), "bone_age_months": round(age * 12, 1),
           "bone_age": _years_months(age), "pipeline": models["pipeline"], "tta_views": views}
    clf = models["classifier"]
    if clf is not None:
        probs = (torch.sigmoid(clf(x)) if clf.multi_label else clf(x).softmax(1))[0]
        res["quality"] = clf.classes[int(probs.argmax())]
        res["quality_probs"] = {c: round(float(p), 4) for c, p in zip(clf.classes, probs)}
    else:
        res["quality"], res["quality_probs"] = None, None
    res["preprocessing"] = prep.info
    if save_dir is not None:
        out = Path(save_dir) / f"{Path(path).stem}-restored.png"
        _save(_add_residual(prep.image, (restored - x)[0, 0].numpy(), models["size"]), out)
        res["restored"] = str(out)
    return res


def assess_files(files, pipeline: str = "dq", profile=None, checkpoint=None, male: float | None = None,
                 save_dir=None, tta: int = TTA_VIEWS) -> list[dict]:
    """One dict per file: the assessment (:func:`_assess_one`'s keys) or ``{"file", "error"}``.
    ``tta``: the age is the mean over this many views of the restored input (1: the input alone)."""
    models = load_models(pipeline, profile, checkpoint)
    out = []
    for f in files:
        try:
            out.append(_assess_one(f, models, male, Path(save_dir) if save_dir else None, tta))
        except InputError as e:
            out.append({"file": str(f), "error": e.problem})
        except Exception as e:  # an unexpected failure on one file must not stop the batch
            out.append({"file": str(f), "error": f"{type(e).__name__}: {' '.join(str(e).split())}"})
    return out


# -- the same radiograph in every encoding -----------------------------------------------------------

ENCODINGS = ("png8", "png16", "rgb", "inverted", "jpeg_half", "tiff16", "dicom_m2", "dicom_m1")


def write_dicom(path, stored: np.ndarray, photometric: str = "MONOCHROME2", slope: float | None = None,
                intercept: float | None = None, window: tuple[float, float] | None = None,
                transfer_syntax=None) -> Path:
    """A 16-bit secondary-capture DICOM of ``stored`` (uint16 values) with optional rescale
    slope/intercept and VOI window; a compressed ``transfer_syntax`` gets a dummy codestream (for
    the unsupported-syntax check)."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept, "US"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = np.asarray(stored).astype("<u2").tobytes()
    if transfer_syntax is not None and meta.TransferSyntaxUID.is_compressed:  # not a real codestream
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(64)])
        ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return Path(path)


def write_encodings(img: np.ndarray, folder, stem: str = "a") -> dict[str, Path]:
    """``img`` (H,W) in [0,1] written as each of ``ENCODINGS`` (issue: "the same radiograph in any
    of these encodings"): 8-bit, 16-bit, RGB and inverted PNG; JPEG quality 75 at half size (Lanczos);
    16-bit TIFF; DICOM MONOCHROME2 (12-bit values); DICOM MONOCHROME1 with rescale slope/intercept
    and a VOI window. Returns ``{encoding: path}``."""
    from PIL import Image

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    img = np.clip(np.asarray(img, dtype=np.float64), 0, 1)
    u8, u16 = (img * 255).round().astype(np.uint8), (img * 65535).round().astype(np.uint16)
    h, w = u8.shape
    f = {e: d / f"{stem}-{e}.{ext}" for e, ext in zip(ENCODINGS, ("png", "png", "png", "png", "jpg", "tif", "dcm", "dcm"))}
    Image.fromarray(u8).save(f["png8"])
    Image.fromarray(u16).save(f["png16"])
    Image.fromarray(np.stack([u8] * 3, -1)).save(f["rgb"])
    Image.fromarray(255 - u8).save(f["inverted"])
    Image.fromarray(u8).resize((w // 2, h // 2), Image.LANCZOS).save(f["jpeg_half"], quality=75)
    Image.fromarray(u16).save(f["tiff16"])
    write_dicom(f["dicom_m2"], (img * 4095).round())
    v = (1 - img) * 4000 - 1000  # MONOCHROME1: modality value v = slope * stored + intercept, bone low
    write_dicom(f["dicom_m1"], ((v + 1000) / 2).round(), "MONOCHROME1", slope=2.0, intercept=-1000.0,
                window=(1000.0, 4000.0))
    return f


def encoding_agreement(images, pipeline: str = "dq", profile=None, checkpoint=None, names=None,
                       tta: int = TTA_VIEWS) -> dict:
    """Assess each radiograph of ``images`` ((N,H,W) in [0,1]) in every encoding of
    ``write_encodings`` with the trained models (``tta`` views a file, as ``baa assess``); returns
    ``{"ages": {name: {encoding: years}}, "spread": {name: max - min}, "max_spread", "worst": {name:
    encoding farthest from png8}, "pipeline", "source", "tta_views"}``."""
    import tempfile

    models = load_models(pipeline, profile, checkpoint)
    names = list(names or [f"image {i}" for i in range(len(images))])
    ages, worst = {}, {}
    with tempfile.TemporaryDirectory() as d:
        for name, img in zip(names, images):
            files = write_encodings(np.asarray(img), Path(d) / str(len(ages)))
            res = [_assess_one(p, models, None, None, tta) for p in files.values()]
            ages[name] = {e: r["bone_age_years"] for e, r in zip(files, res)}
            worst[name] = max(ENCODINGS, key=lambda e: abs(ages[name][e] - ages[name]["png8"]))
    spread = {n: max(a.values()) - min(a.values()) for n, a in ages.items()}
    return {"ages": ages, "spread": spread, "max_spread": max(spread.values()), "worst": worst,
            "pipeline": pipeline, "source": models["source"], "tta_views": max(1, int(tta))}


# -- restoration at the input's resolution ---------------------------------------------------------

def _add_residual(img: np.ndarray, residual: np.ndarray, size: int) -> np.ndarray:
    """Add a residual computed on ``resize_pad(img, size)`` back onto ``img`` at its own size:
    un-pad, upsample (bilinear), add, clip. Detail finer than the network's input is kept."""
    h, w = img.shape
    scale = size / max(h, w)
    nh, nw = max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))
    top, left = (size - nh) // 2, (size - nw) // 2  # as resize_pad centres the image
    r = torch.from_numpy(np.ascontiguousarray(residual[top:top + nh, left:left + nw], dtype=np.float32))
    r = F.interpolate(r[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
    return np.clip(img + r, 0.0, 1.0).astype(np.float32)


def _save(img: np.ndarray, out: Path, bits: int = 8) -> None:
    from baa.cli import _save_image

    _save_image(img, Path(out), bits)


@torch.inference_mode()
def restore_file(inp, out, profile=None, checkpoint=None, bits: int = 8) -> dict:
    """The DQ restoration of one file, saved at the input's size: the ResUNet runs at the
    profile's size and its residual, upsampled, is added to the full-resolution image."""
    models = load_models("dq", profile, checkpoint)
    img = read_image(inp, fix_polarity=True)
    size = models["size"]
    x = torch.from_numpy(resize_pad(img, size))[None, None]
    residual = (models["pipe"].restore(x) - x)[0, 0].numpy()
    _save(_add_residual(img, residual, size), Path(out), bits)
    return {"input": str(inp), "output": str(out), "shape": list(img.shape), "network_size": size}


# -- command line -------------------------------------------------------------------------------------

def _line(r: dict) -> str:
    s = f"{r['file']}: bone age {r['bone_age_years']:.2f} y ({r['bone_age']}), pipeline {r['pipeline']}"
    if r.get("quality"):
        probs = ", ".join(f"{k} {v:.2f}" for k, v in r["quality_probs"].items())
        s += f", quality {r['quality']} ({probs})"
    pre = r.get("preprocessing", {})
    if pre.get("orientation") == "corrected":
        s += f", {pre['hand']} hand, rotated {pre['rotate_degrees']:.0f} deg"
    return s


def cmd_assess(a) -> int:
    male = None if a.sex is None else float(a.sex.upper() == "M")
    try:
        results = assess_files(a.files, a.pipeline, a.profile, a.checkpoint, male, a.save_restored, a.tta)
    except FileNotFoundError as e:
        print(f"baa: {e}", file=sys.stderr)
        return 2
    failed = 0
    for r in results:
        if "error" in r:
            failed += 1
            if a.json:
                print(json.dumps({"file": r["file"], "error": r["error"]}), flush=True)
            else:
                print(f"baa: {r['file']}: {r['error']}", file=sys.stderr, flush=True)
        elif a.json:
            print(json.dumps(r), flush=True)
        else:
            print(_line(r), flush=True)
    return 2 if failed else 0


def cmd_restore(a) -> int:
    try:
        r = restore_file(a.input, a.output, a.profile, a.checkpoint, a.bits)
    except FileNotFoundError as e:
        print(f"baa: {e}", file=sys.stderr)
        return 2
    print(json.dumps(r))
    return 0


def register_cli(sub) -> None:
    """``baa assess`` and ``baa restore`` (picked up by :mod:`baa.cli`)."""
    s = sub.add_parser("assess", help="bone age of radiograph files (PNG, JPEG, TIFF, DICOM), one result per file")
    s.add_argument("files", nargs="+", metavar="FILE")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--profile", default=None, help="use artifacts/<profile>/models (default: $BAA_PROFILE or cpu)")
    g.add_argument("--checkpoint", default=None, help="a folder of checkpoints, or one BoNet+ checkpoint")
    s.add_argument("--pipeline", choices=["dq", "cq", "nq", "plain"], default="dq")
    s.add_argument("--sex", choices=["M", "F", "m", "f"], default=None, help="used only by a BoNet+ trained with the sex")
    s.add_argument("--json", action="store_true", help="one JSON object per line")
    s.add_argument("--save-restored", default=None, metavar="DIR", help="write each restored, prepared image here")
    s.add_argument("--tta", type=int, default=TTA_VIEWS, metavar="N",
                   help=f"average the age over N views of the input: itself and N-1 fixed warps of the training "
                        f"augmentation (default {TTA_VIEWS}; 1 turns it off)")
    s.set_defaults(fn=cmd_assess)

    s = sub.add_parser("restore", help="DQ restoration of one image, saved at the input's size")
    s.add_argument("input", metavar="IN")
    s.add_argument("output", metavar="OUT")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--profile", default=None)
    g.add_argument("--checkpoint", default=None, help="a folder of checkpoints")
    s.add_argument("--bits", type=int, choices=[8, 16], default=8)
    s.set_defaults(fn=cmd_restore)
