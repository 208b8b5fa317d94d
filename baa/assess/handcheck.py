"""Is the file a hand radiograph the models can read? Decided before an age is given (issue 21).

Four kinds of evidence, in this order; the first that refuses gives the one-line reason:

1. **The DICOM header**, where there is one: a Modality that is not a projection radiograph
   (``REFUSED_MODALITIES``: CT, MR, PET, NM, US, radiotherapy objects, mammography, photographs) or a
   BodyPartExamined that names another part of the body (``OTHER_BODY_PARTS``). A PALETTE COLOR
   image is a colour map, not a film.
2. **Colour**: a radiograph is grey. The mean chroma (max - min of R, G, B over 255) of the
   non-black pixels above ``MAX_CHROMA`` is a colour photograph. A grey film saved as RGB (PNG or an
   RGB DICOM from a film scanner) has chroma ~0 and is read as grey, as before.
3. **The image**, as the network will see it (the preparation's crop, brought to ``SIDE`` pixels,
   as it is and with the heel effect's linear ramp removed): at each of ``LEVELS`` grey levels the
   largest bright component (``prepare._hand_mask``'s recipe) is a candidate hand. Around its palm
   (the largest inscribed disc, centre and radius R; or the next one, where a forearm is wider)
   circles of radius 1.3 R to 3.3 R cross the fingers: a candidate has **fingers** when 4 to 6
   narrow arcs (0.12 R to 1.2 R wide, within 200 degrees, at most 4x apart in width, at most two
   other arcs) cross ``MIN_FINGER_RADII`` or more consecutive circles: long, parallel protrusions,
   not a notch. It must also have a palm (R / sqrt(area) >= ``MIN_PALM``), cover ``AREA`` of the
   image, and the intensity statistics of a radiograph: soft tissue and bone inside (``inner``: the
   spread inside over the contrast to the outside) and a flat background (``background``: the
   spread outside over that contrast). :func:`distribution_score` combines the two into the
   **score**, at most 1 on a hand; the first candidate with fingers and a score <= 1 decides
   "hand", else the film is refused: "no hand-shaped foreground" when no candidate has fingers,
   "out of the training distribution" with the lowest score when some have.

4. **The hand classifier** (``baa.assess.handnet``, shipped in ``baa/weights``): where the image
   rule says "hand", an ensemble of small CNNs trained on phantoms, the 38 real films and eight
   families of synthetic non-hands has the last word: a mean probability below its threshold
   (0.5) refuses the file, "out of the training distribution (hand classifier: ...)".

Why the classifier: the image rule's thresholds were set on 178 hands (100 + 40 phantoms of sizes
64-256 and the 38 real films of the shared folder) against 46 non-hands (``handsets.negative_set``), and it
accepts 4 of those 46 and 7 of 20 non-hands it was not set on (``handsets.heldout_negative_set``: an MR
slice, elevation maps, strokes, cells, a photograph, a flat hand silhouette). A rule on shape and
grey-level statistics cannot see what a radiograph is. :func:`measure` gives both rates on both
sets; ``python -m baa.assess.handcheck`` prints them (the real films when ``shared/`` is present),
``python -m baa.assess.handnet build`` the classifier's own, cross-validated on the real films.

**Not used: BoNet+'s features.** The shipped BoNet+'s pooled features do not tell hands from
non-hands: :func:`feature_separation` scores each file by the cosine distance of its features to
the nearest hand's (leave-one-out for the hands) and measures the area under the ROC curve and the
false-acceptance rate at zero false refusals (``python -m baa.assess.handcheck --features``).
Uniform noise, gradients and discs land closer to a hand than many phantoms do to each other: a
regressor trained only on hands has no direction in its features for "not a hand"; a classifier
trained against non-hands has.
Layer: assess.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# the measuring sets, re-exported: handcheck.negative_set and the rest, as before
from baa.assess.handsets import (SKIMAGE_NEGATIVES, _save_png, heldout_negative_set, negative_set, phantom_set,  # noqa: F401
                                 real_films)
from baa.data.prepare import prepare_full
from baa.errors import InputError
from baa.io import save_json
from baa.io.dicom import dicom_attributes, dicom_pixels, is_dicom
from baa.io.images import resize_pad
from baa.weights import load_hand_classifier, load_shipped

# -- 1. the DICOM header ---------------------------------------------------------------------------

REFUSED_MODALITIES = {
    "CT": "cross-sectional image (DICOM Modality CT)",
    "MR": "cross-sectional image (DICOM Modality MR)",
    "PT": "cross-sectional image (DICOM Modality PT, PET)",
    "NM": "nuclear medicine image (DICOM Modality NM)",
    "US": "ultrasound image (DICOM Modality US)",
    "RTDOSE": "radiotherapy dose grid (DICOM Modality RTDOSE)",
    "RTSTRUCT": "radiotherapy structure set (DICOM Modality RTSTRUCT)",
    "RTPLAN": "radiotherapy plan (DICOM Modality RTPLAN)",
    "SEG": "segmentation (DICOM Modality SEG)",
    "MG": "mammogram (DICOM Modality MG)",
    "XC": "colour photograph (DICOM Modality XC)",
    "OP": "ophthalmic photograph (DICOM Modality OP)",
    "ES": "endoscopy image (DICOM Modality ES)",
    "SM": "slide microscopy image (DICOM Modality SM)",
}

# BodyPartExamined (DICOM PS3.16 CID 4031 terms) of films that are not of a hand; hand, wrist,
# extremity or an empty field are left to the image check
OTHER_BODY_PARTS = ("CHEST", "SKULL", "HEAD", "BRAIN", "NECK", "ABDOMEN", "PELVIS", "HIP", "KNEE", "LEG", "FOOT",
                    "ANKLE", "SPINE", "CSPINE", "TSPINE", "LSPINE", "SSPINE", "BREAST", "SHOULDER", "THORAX",
                    "HEART", "LUNG", "FEMUR", "TIBIA", "HEEL", "TOE", "JAW", "TMJ", "SINUS", "ORBIT")

# -- 2. colour ----------------------------------------------------------------------------------------

MAX_CHROMA = 0.06  # grey RGB exports measure < 0.005 (JPEG chroma noise < 0.02); photographs > 0.1

# -- 3. the image -----------------------------------------------------------------------------------

SIDE = 256  # the analysis copy's long side (up from a 64 px phantom: fingers then span several pixels)
LEVELS = 25  # grey levels tried, from the 5th to the 95th percentile, on each of the two copies
RADII = np.arange(1.3, 3.31, 0.1)  # circles around the palm, in palm radii
MIN_FINGER_RADII = 2  # consecutive circles crossed by 4-6 fingers
MIN_PALM = 0.21  # palm radius / sqrt(component area): a hand has a palm, a texture does not
AREA = (0.05, 0.8)  # fraction of the image the hand's component covers
MAX_INNER = 0.85  # the spread inside the hand over its contrast to the background
MAX_BACKGROUND = 0.65  # the spread of the background over the same contrast
MAX_MEAN = 0.65  # the mean of the two ratios above (each over its maximum)


def distribution_score(inner: float, background: float) -> float:
    """How far a candidate's intensity statistics lie outside the radiographs' (<= 1 inside):
    ``max(inner / MAX_INNER, background / MAX_BACKGROUND, mean of those two / MAX_MEAN)``."""
    i, b = inner / MAX_INNER, background / MAX_BACKGROUND
    return max(i, b, (i + b) / 2 / MAX_MEAN)


@dataclass
class HandCheck:
    """``hand``: assess it; ``reason``: why not (one line, without the "not a hand radiograph: "
    prefix); ``score``: :func:`distribution_score` of the deciding candidate (<= 1 for a hand; None
    when no candidate had fingers or the header or colour refused); ``features`` of that candidate."""

    hand: bool
    reason: str | None = None
    score: float | None = None
    features: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def header_reason(path) -> str | None:
    """A refusal from the DICOM header (Modality, BodyPartExamined, PALETTE COLOR), else None."""
    if not is_dicom(Path(path)):
        return None
    att = dicom_attributes(path)
    if att["modality"] in REFUSED_MODALITIES:
        return REFUSED_MODALITIES[att["modality"]]
    words = set(att["body_part"].replace("_", " ").replace("-", " ").split())
    other = sorted(words & set(OTHER_BODY_PARTS))
    if other and not words & {"HAND", "WRIST", "FINGER"}:
        return f"DICOM BodyPartExamined is {att['body_part']}"
    if att["photometric"].startswith("PALETTE"):
        return "colour-mapped image (DICOM PALETTE COLOR)"
    return None


def chroma(path) -> float:
    """Mean chroma of the file's non-black pixels (0 for grey data, up to 1), on a copy of at most
    256 pixels a side."""
    p = Path(path)
    if is_dicom(p):
        rgb = dicom_pixels(p)
        if rgb.ndim != 3:
            return 0.0
        rgb = rgb.astype(np.float32) / max(1.0, float(rgb.max()))
    else:
        from PIL import Image

        with Image.open(p) as im:
            if im.mode in ("L", "1", "I", "F", "LA", "La") or im.mode.startswith("I;16"):
                return 0.0
            im.draft("RGB", (256, 256))  # JPEG: decode at a reduced scale
            im = im.convert("RGB")
            im.thumbnail((256, 256))
            rgb = np.asarray(im, dtype=np.float32) / 255.0
    c = rgb.max(-1) - rgb.min(-1)
    lit = rgb.max(-1) > 0.1
    return float(c[lit].mean()) if lit.any() else 0.0


def _analysis_copies(img: np.ndarray) -> list[np.ndarray]:
    """``img`` with its long side at ``SIDE``, as it is and with the best-fitting linear ramp of its
    darkest 40 % (the background: a heel effect, an uneven scan) removed, each scaled to [0, 1]."""
    h, w = img.shape
    s = SIDE / max(h, w)
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
    a = F.interpolate(t, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear", antialias=s < 1,
                      align_corners=False)[0, 0].numpy().astype(np.float64)
    yy, xx = np.mgrid[: a.shape[0], : a.shape[1]] / SIDE
    A = np.stack([np.ones(a.size), yy.ravel(), xx.ravel()], 1)
    v = a.ravel()
    sel = v <= np.percentile(v, 40)
    for _ in range(2):  # refit on the darkest 40 % of what the first fit leaves
        coef = np.linalg.lstsq(A[sel], v[sel], rcond=None)[0]
        r = v - A @ coef
        sel = r <= np.percentile(r, 40)
    out = []
    for b in (a, (v - A @ coef).reshape(a.shape)):
        lo, hi = np.percentile(b, (0.5, 99.5))
        out.append(np.clip((b - lo) / max(hi - lo, 1e-6), 0, 1))
    return out


def _component(smooth: np.ndarray, level: float) -> np.ndarray | None:
    """The largest component of ``smooth`` (the analysis copy, Gaussian-smoothed by 1 px) above
    ``level``, opened, holes filled: ``_hand_mask``'s recipe."""
    from scipy import ndimage as ndi

    m = ndi.binary_opening(smooth > level)
    lab, n = ndi.label(m)
    if n == 0:
        return None
    sizes = ndi.sum(m, lab, np.arange(1, n + 1))
    m = lab == 1 + int(np.argmax(sizes))
    # fill the holes: background components that do not reach the border (binary_fill_holes, faster)
    bg, nb = ndi.label(~m)
    border = np.unique(np.r_[bg[0], bg[-1], bg[:, 0], bg[:, -1]])
    return m | ~np.isin(bg, border)


@functools.lru_cache(maxsize=None)
def _circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    th = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.sin(th), np.cos(th)


def _arcs(m: np.ndarray, cy: float, cx: float, r: float) -> tuple[np.ndarray, np.ndarray]:
    """(widths in pixels, centre angles) of the runs of ``m`` along the circle (cy, cx, r)."""
    n = max(180, int(2 * math.pi * r))
    sin, cos = _circle(n)
    y, x = np.round(cy + r * sin).astype(int), np.round(cx + r * cos).astype(int)
    inside = (y >= 0) & (y < m.shape[0]) & (x >= 0) & (x < m.shape[1])
    v = np.zeros(n, bool)
    v[inside] = m[y[inside], x[inside]]
    if v.all() or not v.any():
        return np.zeros(0), np.zeros(0)
    k = int(np.argmin(v))  # start on a gap, so no run wraps around
    v = np.roll(v, -k)
    d = np.diff(np.r_[0, v.astype(int), 0])
    s, e = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return (e - s) * 2 * math.pi * r / n, ((s + e) / 2 + k) * 2 * math.pi / n


def _fingers_on(w: np.ndarray, ang: np.ndarray, R: float) -> int:
    """Finger arcs on one circle (module docstring), or 0 when the circle does not look like it
    crosses a hand's fingers."""
    f = (w >= 0.12 * R) & (w <= 1.2 * R)
    k = int(f.sum())
    if not 4 <= k <= 6 or len(w) > k + 2 or w[f].max() > 4 * w[f].min():
        return 0
    a = np.sort(ang[f] % (2 * math.pi))
    spread = 2 * math.pi - np.diff(np.r_[a, a[0] + 2 * math.pi]).max()
    return k if spread <= math.radians(200) else 0


def _palms(e: np.ndarray) -> list[tuple[float, int, int]]:
    """(radius, y, x) of the largest inscribed disc of a component (``e``: its distance map) and of
    the largest one at least 1.5 radii away from it, if as large as 0.6 of it: at a high grey level
    a forearm can be wider than what is left of the palm."""
    R = float(e.max())
    cy, cx = np.unravel_index(int(np.argmax(e)), e.shape)
    out = [(R, int(cy), int(cx))]
    yy, xx = np.ogrid[: e.shape[0], : e.shape[1]]
    rest = np.where((yy - cy) ** 2 + (xx - cx) ** 2 > (1.5 * R) ** 2, e, 0)
    if rest.max() >= 0.6 * R:
        cy2, cx2 = np.unravel_index(int(np.argmax(rest)), e.shape)
        out.append((float(rest.max()), int(cy2), int(cx2)))
    return out


def candidate(a: np.ndarray, m: np.ndarray) -> dict:
    """The features of one candidate component ``m`` of the analysis image ``a``."""
    from scipy import ndimage as ndi

    best, R = -1, 0.0
    for r, cy, cx in _palms(ndi.distance_transform_edt(m)):
        if best >= 0 and r / math.sqrt(m.sum()) < MIN_PALM:
            continue  # a second disc too small for a palm
        run = most = 0
        for k in RADII:
            run = run + 1 if _fingers_on(*_arcs(m, cy, cx, k * r), r) else 0
            most = max(most, run)
        if most > best:
            best, R = most, r
    inside, outside = a[m], a[~m]
    contrast = max(float(inside.mean() - (outside.mean() if outside.size else 0.0)), 1e-3)
    return {"finger_radii": best, "area": round(float(m.mean()), 4), "palm": round(R / math.sqrt(m.sum()), 4),
            "inner": round(float(inside.std()) / contrast, 4),
            "background": round(float(outside.std()) / contrast if outside.size else 0.0, 4)}


@functools.lru_cache(maxsize=1)
def hand_classifier() -> dict:
    """The shipped ``HandClassifier`` (``baa.weights.load_hand_classifier``), loaded once."""
    return load_hand_classifier()


@torch.inference_mode()
def hand_probability(img: np.ndarray) -> float:
    """The shipped classifier's probability that the prepared image ``img`` (H, W) is a hand
    radiograph, on the input ``prepare_full`` would make at its size."""
    m = hand_classifier()
    x = torch.from_numpy(resize_pad(np.ascontiguousarray(img, dtype=np.float32), m["size"]))[None, None]
    return float(torch.stack([torch.sigmoid(n(x)) for n in m["nets"]]).mean())


def check_image(img: np.ndarray) -> HandCheck:
    """Steps 3 and 4 of the module docstring (the image rule, then the hand classifier) on a
    prepared grey image (H,W) in [0, 1]."""
    from scipy import ndimage as ndi

    shaped = []  # candidates with fingers, a palm and a hand's share of the image
    for a in _analysis_copies(img):
        smooth = ndi.gaussian_filter(a, 1.0)
        for level in np.percentile(a, np.linspace(5, 95, LEVELS)):
            m = _component(smooth, level)
            if m is None or m.sum() < 50:
                continue
            c = candidate(a, m)
            if c["finger_radii"] >= MIN_FINGER_RADII and c["palm"] >= MIN_PALM and AREA[0] <= c["area"] <= AREA[1]:
                c["score"] = round(distribution_score(c["inner"], c["background"]), 4)
                shaped.append(c)
                if c["score"] <= 1:  # the image rule says hand; the classifier has the last word
                    p, t = hand_probability(img), hand_classifier()["threshold"]
                    c["hand_probability"] = round(p, 4)
                    if p >= t:
                        return HandCheck(True, None, c["score"], c)
                    return HandCheck(False, f"out of the training distribution (hand classifier: probability {p:.3f} "
                                            f"< {t})", c["score"], c)
    if not shaped:
        return HandCheck(False, "no hand-shaped foreground (no grey level shows a palm with 4-6 fingers)")
    best = min(shaped, key=lambda c: c["score"])
    return HandCheck(False, f"out of the training distribution (score {best['score']:.2f} > 1: "
                            f"intensity spread inside {best['inner']:.2f}, background {best['background']:.2f})",
                     best["score"], best)


def check_file(path, prepared=None) -> HandCheck:
    """All four steps for the file at ``path``; ``prepared`` (a ``prepare_full`` result) saves
    preparing it again. Raises InputError for a file that cannot be read at all."""
    if prepared is None:  # first: a file that cannot be read raises its own one-line InputError
        prepared = prepare_full(path, 64)
    reason = header_reason(path)
    if reason:
        return HandCheck(False, reason)
    c = chroma(path)
    if c > MAX_CHROMA:
        return HandCheck(False, f"colour photograph (mean chroma {c:.2f} > {MAX_CHROMA})", features={"chroma": c})
    return check_image(prepared.image)


# -- measuring the rule ----------------------------------------------------------------------------

def rates(hands: dict, negatives: dict, progress: bool = False) -> dict:
    """The rule measured: ``hands`` and ``negatives`` map names to files. Returns
    ``{"false_refusal_rate", "false_acceptance_rate", "n_hands", "n_negatives", "refused_hands":
    {name: reason}, "accepted_negatives": {name: score}, "negatives": {name: reason or "accepted"},
    "hand_scores": {name: score}}``. A file that cannot be read counts as refused."""
    from tqdm.auto import tqdm

    def run(files: dict, desc: str) -> dict:
        res = {}
        for name, f in tqdm(files.items(), desc=desc, disable=not progress):
            try:
                res[name] = check_file(f)
            except InputError as e:
                res[name] = HandCheck(False, e.problem)
        return res

    h, n = run(hands, "hands"), run(negatives, "non-hands")
    refused = {k: c.reason for k, c in h.items() if not c.hand}
    accepted = {k: c.score for k, c in n.items() if c.hand}
    return {"false_refusal_rate": len(refused) / max(1, len(h)), "false_acceptance_rate": len(accepted) / max(1, len(n)),
            "n_hands": len(h), "n_negatives": len(n), "refused_hands": refused, "accepted_negatives": accepted,
            "negatives": {k: c.reason or "accepted" for k, c in n.items()},
            "hand_scores": {k: c.score for k, c in h.items()}}


@torch.inference_mode()
def shipped_features(files: dict) -> np.ndarray:
    """The shipped BoNet+'s pooled features (N, F) of each file, prepared and standardised as
    ``baa assess`` does with the shipped model."""
    m = load_shipped()
    pipe = m["pipe"]
    x = torch.cat([pipe.restore(prepare_full(f, m["size"]).tensor) for f in files.values()])
    return pipe.regressor.bonet.forward_features(x).flatten(1).double().numpy()


def feature_separation(hands: dict, negatives: dict) -> dict:
    """How well the shipped network's features separate ``hands`` from ``negatives`` (both
    ``{name: file}``): each file's score is the cosine distance of its features to the nearest
    hand's (for a hand: the nearest other hand). Returns ``{"auc"`` (the probability that a
    negative scores above a hand; 1: perfect, 0.5: chance), ``"false_acceptance_at_zero_refusals"``
    (the share of negatives at or below the highest hand score), ``"hand_scores"``,
    ``"negative_scores"}``."""
    uh, un = (f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
              for f in (shipped_features(hands), shipped_features(negatives)))
    dh = 1 - uh @ uh.T
    np.fill_diagonal(dh, np.inf)
    sh, sn = dh.min(1), (1 - un @ uh.T).min(1)
    auc = float(((sn[:, None] > sh[None]) + 0.5 * (sn[:, None] == sh[None])).mean())
    return {"auc": auc, "false_acceptance_at_zero_refusals": float((sn <= sh.max()).mean()),
            "n_hands": len(sh), "n_negatives": len(sn),
            "hand_scores": dict(zip(hands, sh.round(4).tolist())), "negative_scores": dict(zip(negatives, sn.round(4).tolist()))}


def measure(real_films, folder, seed: int = 0, every: int = 1, progress: bool = False) -> dict:
    """The rule measured twice: on the set its thresholds were set on (``real_films`` and
    :func:`phantom_set` against :func:`negative_set`) and out of sample (:func:`phantom_set` of seed
    ``seed + 1000`` against :func:`heldout_negative_set`). ``every`` keeps every n-th file of each
    set (a sample, for the smoke profile). Returns :func:`rates` of the first with ``"held_out"``:
    :func:`rates` of the second, and ``"hand_probability"``: ``{group: {name: probability}}``, the
    hand classifier's alone, for the real films, the phantoms and each non-hand set."""
    d = Path(folder)
    take = lambda files: dict(list(files.items())[::every])  # noqa: E731
    real = {Path(f).name: Path(f) for f in real_films}
    phantoms, negatives = take(phantom_set(d / "hands", seed=seed)), take(negative_set(d / "negatives", seed=seed))
    held_hands = take(phantom_set(d / "hands-held-out", seed=seed + 1000))
    held_negatives = take(heldout_negative_set(d / "negatives-held-out", seed=seed))
    r = rates({**real, **phantoms}, negatives, progress=progress)
    r["held_out"] = rates(held_hands, held_negatives, progress=progress)
    groups = {"real films": real, "phantoms": {**phantoms, **{f"{k}, held out": v for k, v in held_hands.items()}},
              "non-hands (negative_set)": negatives,
              "non-hands (held out)": held_negatives}
    r["hand_probability"] = {g: {k: round(file_probability(f), 4) for k, f in files.items()} for g, files in groups.items()}
    return r


def file_probability(path) -> float:
    """The hand classifier's probability for the file at ``path`` alone (no rule, no header, no
    colour check); 0 for a file that cannot be read."""
    try:
        return hand_probability(prepare_full(path, hand_classifier()["size"]).image)
    except InputError:
        return 0.0


def rates_markdown(r: dict) -> str:
    """Two sentences on :func:`measure`'s result: the rates on the set the thresholds were set on,
    and out of sample, with the names of what was wrongly refused or accepted."""
    def one(x: dict, what: str) -> str:
        return (f"{what}: false refusals **{x['false_refusal_rate']:.1%}** of {x['n_hands']} hands "
                f"({', '.join(x['refused_hands']) or 'none'}), false acceptances **{x['false_acceptance_rate']:.1%}** "
                f"of {x['n_negatives']} non-hands "
                f"({', '.join(x['accepted_negatives']) or 'none'}).")
    return one(r, "On the files the thresholds were set on") + " " + one(r["held_out"], "Held out (set on none of them)")


def main(argv=None) -> int:
    """``python -m baa.assess.handcheck [--shared DIR] [--out FILE] [--features]``: the rule's
    false-refusal rate on the real films of ``shared/`` and 100 phantoms (sizes 64-256), and its
    false-acceptance rate on :func:`negative_set`, then both out of sample; prints (and writes) the
    JSON of :func:`measure` (``--features``: of :func:`feature_separation` on the first set)."""
    import argparse
    import json
    import tempfile

    ap = argparse.ArgumentParser(prog="python -m baa.assess.handcheck", description=main.__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2].parent / "shared"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--features", action="store_true", help="measure the shipped network's features instead of the rule")
    a = ap.parse_args(argv)
    real = real_films(a.shared)
    with tempfile.TemporaryDirectory() as d:
        if a.features:
            hands = {**{f.name: f for f in real}, **phantom_set(Path(d) / "hands")}
            r = feature_separation(hands, negative_set(Path(d) / "negatives"))
        else:
            r = measure(real, d, progress=True)
    print(json.dumps(r, indent=1))
    if a.out:
        save_json(r, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
