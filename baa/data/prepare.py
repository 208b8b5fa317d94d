"""One preparation path for every film: cut uniform borders, find the hand (inside the exposed field where a
film's field is brighter than the film around it), orient it fingers up with the thumb to the right, crop
with a margin, resize and pad to the network's input; and ``bone_detail``, an optional last step that
chapter 11 measures (a standardised image reduced to its detail).

Layer: data (training, evaluation and `baa assess` prepare every film the same way).
"""

from __future__ import annotations
import math
from dataclasses import dataclass, field
import numpy as np
import torch
import torch.nn.functional as F
from baa.io import normalize, read_image, resize_pad


ANALYSIS_SIDE = 256  # masks and moments are computed on a copy this large (fast, resolution-free)


MIN_THUMB_SCORE = 0.03  # below this the thumb side is a guess: leave the image as it is


MARGIN = 0.04  # hand crop margin, fraction of the hand's larger side (the phantoms frame the hand tightly)


VERSION = 2  # raised whenever a change moves a prepared pixel; caches of prepared images carry it (2: exposed fields)


@dataclass


class Prepared:
    """``tensor`` (1,1,S,S) network input; ``image`` the prepared crop at the file's resolution
    (H',W') float32 in [0,1]; ``info`` what each step did; ``companion`` (1,C,S,S) the maps the caller gave
    (e.g. a phantom's masks), moved exactly as the image was, or None."""

    tensor: torch.Tensor
    image: np.ndarray
    info: dict = field(default_factory=dict)
    companion: torch.Tensor | None = None


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


FIELD_FILL = 0.75  # a mask filling this much of its smallest enclosing rectangle is an exposed field, not a hand
FIELD_HAND = (0.1, 0.7)  # the share of an exposed field a hand in it may cover
FIELD_EXIT = 0.3  # the most of the field's edge a hand in it may cross (its forearm; a tight crop's more)


def _largest(m: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi

    lab, n = ndi.label(m)
    if n == 0:
        return m
    sizes = ndi.sum(m, lab, index=np.arange(1, n + 1))
    return ndi.binary_fill_holes(lab == 1 + int(np.argmax(sizes)))


def _outline(a: np.ndarray, level: float) -> np.ndarray:
    from scipy import ndimage as ndi

    return _largest(ndi.binary_opening(ndi.gaussian_filter(a, 1.0) > level, iterations=1))


def rectangle_fill(mask: np.ndarray) -> float:
    """The mask's area over the area of the smallest rectangle, at any angle, that holds it (rotating calipers
    over its convex hull): about 1 for a collimated field, well under it for a hand with its fingers (chapter 11
    lists the real films of ``../shared`` that the preparation finds in a field)."""
    from scipy.spatial import ConvexHull, QhullError

    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return 0.0
    pts = np.c_[xs, ys].astype(np.float64)
    try:
        hull = pts[ConvexHull(pts).vertices]
    except QhullError:  # all on one line
        return 1.0
    edges = np.roll(hull, -1, 0) - hull
    best = np.inf
    for t in np.arctan2(edges[:, 1], edges[:, 0]):
        c, s = math.cos(t), math.sin(t)
        r = hull @ np.array([[c, -s], [s, c]])
        best = min(best, (np.ptp(r[:, 0]) + 1) * (np.ptp(r[:, 1]) + 1))
    return float(len(xs) / best)


def hand_and_field(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(hand, field): the largest connected component above the background/tissue Otsu level (the hand and
    forearm; rulers, markers and dust are smaller), holes filled, and None. Where that component is an exposed
    field (a rectangle, ``FIELD_FILL``: a film whose collimated area is brighter than the unexposed film
    around it: a third of the ``rsna-dev`` films), the hand is looked for again inside it, with the field's own
    level as the background, and the field comes back as the second mask: there the forearm leaves the field,
    not the image."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    t1, _ = _levels(a)
    m = _outline(a, t1)
    if m.sum() < 64 or rectangle_fill(m) < FIELD_FILL:
        return m, None
    inside = ndi.binary_erosion(m, iterations=_field_rim(a))  # off the field's edge, often brighter
    if inside.sum() < 64:
        return m, None
    f1, _ = _levels(a[inside])
    b = a.copy()
    b[~inside] = float(np.median(a[inside & (a <= f1)]))  # the field becomes the background
    # three classes in the field (field, tissue, bone) first; where a shaded field splits into two of them
    # (a small infant's hand), two classes: field and hand
    rim = inside & ~ndi.binary_erosion(inside, iterations=2)
    for level in (f1, float(threshold_otsu(a[inside]))):
        hand = _outline(b, level) & inside
        # a hand in a field: a fair part of it, not a rectangle, leaving it through the forearm only (a
        # photograph's objects run across its whole frame)
        if (FIELD_HAND[0] * m.sum() < hand.sum() <= FIELD_HAND[1] * m.sum() and rectangle_fill(hand) < FIELD_FILL
                and (hand & rim).sum() <= FIELD_EXIT * rim.sum()):
            return hand, m
    return m, None


def _field_rim(a: np.ndarray) -> int:
    return max(2, round(0.02 * min(a.shape)))


def _hand_mask(a: np.ndarray) -> np.ndarray:
    """The hand of ``hand_and_field``."""
    return hand_and_field(a)[0]


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
    """A hand outline the moments can be trusted on: 2-70 % of the image (an infant's hand in a large exposed
    field is small), leaving it through one side at most (the forearm). Otherwise (collimator edges or
    background merged into the mask) orientation and the hand crop are skipped rather than guessed."""
    frac = mask.mean()
    if not 0.02 <= frac <= 0.7:
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
    from scipy import ndimage as ndi

    mask, field = hand_and_field(a)
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
    if field is not None:  # in an exposed field the forearm leaves the field
        rim |= field & ~ndi.binary_erosion(field, iterations=_field_rim(a) + b)
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


def prepare_full(path, size: int, orient: bool = True, companion: np.ndarray | None = None) -> Prepared:
    """Read ``path`` and bring it to the network input (module docstring, steps 1-5). ``companion``: (H,W) or
    (C,H,W) maps of the file's size that every geometric step moves with the image (cut, painted 0 where a
    border band is, rotated, mirrored, cropped, resized), as a phantom's masks follow its image."""
    # read_image scales 8-bit data min-max and deeper data between percentiles; one more
    # percentile stretch makes both the same (it is affine-invariant), whatever the encoding
    img = normalize(read_image(path, fix_polarity=True), (0.5, 99.5))
    info: dict = {"original_shape": list(img.shape)}
    comp = None
    if companion is not None:
        comp = np.asarray(companion, dtype=np.float32)
        comp = comp[None] if comp.ndim == 2 else comp
        if comp.shape[1:] != img.shape:
            raise ValueError(f"{path}: companion {comp.shape} is not the image's shape {img.shape}")
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
        if comp is not None:
            comp = np.where(full_band[None], 0.0, comp).astype(np.float32)
        a = a.copy()
        a[band] = bg
    H, W = img.shape
    c = info["border_cut"]
    img = img[c["top"]:H - c["bottom"], c["left"]:W - c["right"]]
    if comp is not None:
        comp = comp[:, c["top"]:H - c["bottom"], c["left"]:W - c["right"]]
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
        if comp is not None:
            comp = np.stack([_rotate(m, o["rotate"], 0.0) for m in comp])
        if o["mirror"]:
            img, a = img[:, ::-1], a[:, ::-1]
            comp = comp[:, :, ::-1] if comp is not None else None
    # 4. the hand's bounding box
    mask, field = hand_and_field(a)
    info["exposed_field"] = field is not None
    if _clear_outline(mask):
        ys, xs = np.nonzero(mask)
        sy, sx = img.shape[0] / a.shape[0], img.shape[1] / a.shape[1]
        y0, y1, x0, x1 = ys.min() * sy, (ys.max() + 1) * sy, xs.min() * sx, (xs.max() + 1) * sx
        m = MARGIN * max(y1 - y0, x1 - x0)
        y0, x0 = max(0, int(y0 - m)), max(0, int(x0 - m))
        y1, x1 = min(img.shape[0], int(math.ceil(y1 + m))), min(img.shape[1], int(math.ceil(x1 + m)))
        img = img[y0:y1, x0:x1]
        comp = comp[:, y0:y1, x0:x1] if comp is not None else None
        info["hand_box"] = [x0, y0, x1, y1]
    else:
        info["hand_box"] = None  # no clear hand: keep the whole image
    img = np.ascontiguousarray(img, dtype=np.float32)
    # 5. the network's square input
    x = torch.from_numpy(resize_pad(img, size))[None, None]
    info["prepared_shape"] = list(img.shape)
    if comp is not None:
        comp = torch.from_numpy(np.stack([resize_pad(np.ascontiguousarray(m), size) for m in comp]))[None]
    return Prepared(x, img, info, comp)


def prepare(path, size: int) -> torch.Tensor:
    """The (1,1,size,size) network input for the file at ``path`` (read, border crop,
    orientation, hand crop, resize_pad)."""
    return prepare_full(path, size).tensor


def _gaussian(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` (B,1,S,S) blurred by a Gaussian of ``sigma`` px (separable, zero outside the frame)."""
    r = max(1, int(round(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype) / sigma) ** 2)
    k = (k / k.sum()).to(x.device)
    x = F.conv2d(x, k.view(1, 1, 1, -1), padding=(0, r))
    return F.conv2d(x, k.view(1, 1, -1, 1), padding=(r, 0))


def bone_detail(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Standardised images (B,1,S,S; background 0, hand in [FLOOR, 1]) reduced to their detail inside the
    hand: each pixel less the Gaussian mean (``sigma`` px) of the hand pixels around it (a normalised
    convolution, so the hand's outline adds no edge), divided by the image's detail SD in the hand and
    centred at 0.5; the background stays 0. What varies slowly across the hand, the soft tissue's
    thickness and the standardisation's share of bone, no longer reaches the network; the bones' edges,
    epiphyses and gaps do."""
    m = (x > 0).to(x.dtype)
    local = _gaussian(x * m, sigma) / _gaussian(m, sigma).clamp_min(1e-6)
    d = (x - local) * m
    n = m.sum((1, 2, 3), keepdim=True).clamp_min(1)
    sd = ((d ** 2).sum((1, 2, 3), keepdim=True) / n).sqrt().clamp_min(1e-6)
    return (0.5 + d / (4 * sd)).clamp(0, 1) * m
