"""Classical restorers: the non-learned peers of the paper's ResUNet, one family per degradation.

Guo et al. (2020) restore each degradation of ``baa.degrade`` with a learned U-Net but never compare
it with classical methods. This module supplies that comparison, following
``../shared/reference/skeletal-maturation.md`` ("Quantum (Poisson) noise, done properly" and
"Classical restorers to compare a learned model against"):

* **noise** -- the display image is mapped back to photon counts (the inverse of
  ``degrade.poisson_noise``'s display mapping: ``counts = photons * exp(-scale * v)``), the counts
  are variance-stabilised by the Anscombe transform ``A(x) = 2 sqrt(x + 3/8)`` (Poisson variance
  -> ~1 for means above ~4), denoised as Gaussian noise of sigma 1, and mapped back with the
  *exact unbiased* inverse of Makitalo & Foi (2011), not the algebraic one. Denoisers:
  non-local means (patch 5, distance 6, ``h = 0.8 sigma``), wavelet BayesShrink, TV Chambolle.
  (BM3D is left out: its PyPI package is non-commercial.)
* **label** -- the black label is found as the largest axis-aligned rectangle of *exact* zeros in
  the central 60 % of the image (where ``degrade.black_label`` puts it) and filled by biharmonic
  inpainting. Report PSNR inside the mask as well as over the image (``psnr(..., mask=...)``).
* **lowres** -- "bicubic or Lanczos upsampling of the 4x area-downsampled image". The restorer is
  handed the blurred full-size image, so the small image is first re-derived from it: by default
  by least-squares inversion of ``degrade.low_resolution``'s (known, separable) bicubic upsampler,
  which recovers the area-downsampled image almost exactly; ``rederive="area"`` instead
  area-downsamples the blurred input again (this blurs twice and loses ~2.5 dB on the test
  phantom). Note, honestly: ``degrade.low_resolution`` already *is* area-downsampling followed by
  bicubic upsampling, so ``"bicubic"`` essentially returns its input: the baseline that x4
  super-resolution CNNs are reported to beat by ~2-3 dB. ``"lanczos"`` (a sharper kernel) is the
  only classical gain here, small (~1 dB on the smooth test phantom).

Every restorer takes images ``(B, 1, H, W)`` float in [0, 1] (torch, any device), loops over the
batch with NumPy, and returns a tensor of the same shape, dtype and device, clipped to [0, 1].

Judge restorers by bone-age MAE after restoration, not by PSNR alone (reference: generative
clean-up raised bone-age MAE on inpainted RSNA images from ~6 to ~30 months in one report).

Layer: restore (above degrade).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from baa.degrade import LABEL_REGION, LINE_INTEGRAL_SCALE, LOWRES_FACTOR, PHOTONS, low_resolution

__all__ = [
    "RESTORERS", "restore", "find_label_mask", "anscombe", "exact_unbiased_inverse_anscombe",
    "algebraic_inverse_anscombe", "psnr", "ssim", "detail_ratio_db", "separating_threshold", "route_film",
]

_SQRT_3_2 = np.sqrt(1.5)


# --------------------------------------------------------------------------------------------
# Anscombe transform and its exact unbiased inverse
# --------------------------------------------------------------------------------------------

def anscombe(x):
    """Anscombe variance-stabilising transform ``A(x) = 2 sqrt(x + 3/8)``.

    For ``x ~ Poisson(lam)`` the variance of ``A(x)`` is ~1 once ``lam`` exceeds ~4 (reference,
    "Quantum (Poisson) noise"). Works on NumPy arrays, scalars and torch tensors.
    """
    if isinstance(x, torch.Tensor):
        return 2.0 * torch.sqrt(torch.clamp(x, min=0) + 3.0 / 8.0)
    return 2.0 * np.sqrt(np.maximum(np.asarray(x, dtype=np.float64), 0.0) + 3.0 / 8.0)


def algebraic_inverse_anscombe(y):
    """The naive algebraic inverse ``(y / 2)^2 - 3/8``: biased low for small counts (kept only
    to show, in the tests, why the exact unbiased inverse is used)."""
    y = np.asarray(y, dtype=np.float64)
    return (y / 2.0) ** 2 - 3.0 / 8.0


def exact_unbiased_inverse_anscombe(y):
    """Closed-form approximation of the exact unbiased inverse of the Anscombe transform
    (Makitalo & Foi, IEEE TIP 2011, "A closed-form approximation of the exact unbiased inverse
    of the Anscombe variance-stabilizing transformation"):

        I(y) = 1/4 y^2 + 1/4 sqrt(3/2) y^-1 - 11/8 y^-2 + 5/8 sqrt(3/2) y^-3 - 1/8

    ``I`` maps ``E[A(x) | lam]`` back to ``lam`` (unbiased in the mean), unlike the algebraic
    inverse ``(y/2)^2 - 3/8``. ``I`` is exactly 0 at ``y = 2 sqrt(3/8)`` (the value of ``A(0)``);
    below that it is set to 0, as in the authors' code. Works on NumPy arrays, scalars and torch
    tensors (returned as the same kind).
    """
    if isinstance(y, torch.Tensor):
        out = exact_unbiased_inverse_anscombe(y.detach().cpu().double().numpy())
        return torch.as_tensor(out, dtype=y.dtype, device=y.device)
    y = np.asarray(y, dtype=np.float64)
    ys = np.maximum(y, 2.0 * np.sqrt(3.0 / 8.0))  # keep the negative powers finite
    out = (0.25 * ys ** 2 + 0.25 * _SQRT_3_2 / ys - 11.0 / 8.0 / ys ** 2
           + 5.0 / 8.0 * _SQRT_3_2 / ys ** 3 - 1.0 / 8.0)
    return np.where(y < 2.0 * np.sqrt(3.0 / 8.0), 0.0, np.maximum(out, 0.0))


# --------------------------------------------------------------------------------------------
# Batch plumbing
# --------------------------------------------------------------------------------------------

def _check(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 1:
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise ValueError(f"expected images of shape (B, 1, H, W) as a torch tensor, got {shape}")


def _per_image(images: torch.Tensor, fn: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """Apply ``fn`` (2-D float64 array -> 2-D array) to every image of the batch."""
    _check(images)
    arr = images.detach().cpu().double().numpy()
    out = np.empty_like(arr)
    for i in range(arr.shape[0]):
        out[i, 0] = fn(arr[i, 0])
    out = np.clip(out, 0.0, 1.0)
    return torch.from_numpy(out).to(dtype=images.dtype, device=images.device)


# --------------------------------------------------------------------------------------------
# Noise: Anscombe domain denoising
# --------------------------------------------------------------------------------------------

def _anscombe_denoise(v: np.ndarray, denoise: Callable[[np.ndarray, float], np.ndarray],
                      photons: float, scale: float) -> np.ndarray:
    """display v -> counts -> Anscombe -> normalise to [0, 1] -> ``denoise(img, sigma)`` ->
    un-normalise -> exact unbiased inverse -> counts -> display v.

    The normalisation uses the physical range of the counts that a display value in [0, 1] can
    encode, ``[photons exp(-scale), photons]``, so that the Anscombe-domain noise sigma of 1 count
    unit becomes ``sigma = 1 / (A(photons) - A(photons exp(-scale)))`` on the [0, 1] image handed
    to scikit-image (its denoisers assume images in a [0, 1] range).
    """
    photons = float(photons)
    counts = photons * np.exp(-scale * v)
    y = anscombe(counts)
    lo, hi = float(anscombe(photons * np.exp(-scale))), float(anscombe(photons))
    span = hi - lo
    y_n = (y - lo) / span
    sigma = 1.0 / span
    d = denoise(y_n, sigma)
    y_hat = d * span + lo
    c_hat = exact_unbiased_inverse_anscombe(y_hat)
    c_hat = np.maximum(c_hat, 1.0)  # degrade.poisson_noise clamps counts at >= 1
    return -np.log(c_hat / photons) / scale


def _nlm(y: np.ndarray, sigma: float, h_factor: float = 0.8, patch_size: int = 5,
         patch_distance: int = 6) -> np.ndarray:
    from skimage.restoration import denoise_nl_means
    return denoise_nl_means(y, patch_size=patch_size, patch_distance=patch_distance,
                            h=h_factor * sigma, sigma=sigma, fast_mode=True, preserve_range=True)


def _wavelet(y: np.ndarray, sigma: float, wavelet: str = "db2") -> np.ndarray:
    try:
        import pywt  # noqa: F401  (scikit-image's denoise_wavelet needs PyWavelets)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("anscombe_wavelet needs PyWavelets: pip install PyWavelets") from err
    from skimage.restoration import denoise_wavelet
    # Input is in [0, 1]; clipping of the output to [0, 1] is then the physical range.
    return denoise_wavelet(y, sigma=sigma, wavelet=wavelet, mode="soft", method="BayesShrink",
                           rescale_sigma=True)


def _tv(y: np.ndarray, sigma: float, weight_factor: float = 1.0) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle
    # Chambolle's ROF weight scales with the noise level; weight ~ sigma (here ~0.06 at 100
    # photons, inside the reference's 0.05-0.2 for [0, 1] images) balances noise and staircasing.
    return denoise_tv_chambolle(y, weight=weight_factor * sigma)


def anscombe_nlm(images: torch.Tensor, photons: float = PHOTONS, scale: float = LINE_INTEGRAL_SCALE,
                 h_factor: float = 0.8, patch_size: int = 5, patch_distance: int = 6) -> torch.Tensor:
    """Anscombe + non-local means (``skimage.restoration.denoise_nl_means``, patch 5, distance 6,
    ``h = 0.8 sigma``, fast mode) + exact unbiased inverse."""
    return _per_image(images, lambda v: _anscombe_denoise(
        v, lambda y, s: _nlm(y, s, h_factor, patch_size, patch_distance), photons, scale))


def anscombe_wavelet(images: torch.Tensor, photons: float = PHOTONS, scale: float = LINE_INTEGRAL_SCALE,
                     wavelet: str = "db2") -> torch.Tensor:
    """Anscombe + wavelet BayesShrink (``skimage.restoration.denoise_wavelet``, soft thresholds,
    sigma given explicitly) + exact unbiased inverse. Needs PyWavelets."""
    return _per_image(images, lambda v: _anscombe_denoise(
        v, lambda y, s: _wavelet(y, s, wavelet), photons, scale))


def anscombe_tv(images: torch.Tensor, photons: float = PHOTONS, scale: float = LINE_INTEGRAL_SCALE,
                weight_factor: float = 1.0) -> torch.Tensor:
    """Anscombe + total-variation denoising (``skimage.restoration.denoise_tv_chambolle``,
    ``weight = weight_factor * sigma`` on the [0, 1]-normalised Anscombe image) + exact unbiased
    inverse."""
    return _per_image(images, lambda v: _anscombe_denoise(
        v, lambda y, s: _tv(y, s, weight_factor), photons, scale))


# --------------------------------------------------------------------------------------------
# Label: find the exact-zero rectangle, inpaint
# --------------------------------------------------------------------------------------------

def _largest_rectangle(ok: np.ndarray) -> tuple[int, int, int, int, int]:
    """Largest axis-aligned all-True rectangle of a 2-D boolean array (histogram-stack method,
    O(H W)). Returns ``(area, top, left, bottom, right)`` with exclusive bottom/right."""
    H, W = ok.shape
    heights = np.zeros(W + 1, dtype=np.int64)  # sentinel 0 at the end flushes the stack
    best = (0, 0, 0, 0, 0)
    for r in range(H):
        heights[:W] = np.where(ok[r], heights[:W] + 1, 0)
        if not heights[:W].any():
            continue
        stack: list[int] = []
        hs = heights.tolist()
        for c in range(W + 1):
            h = hs[c]
            while stack and hs[stack[-1]] >= h:
                top = stack.pop()
                ht = hs[top]
                left = stack[-1] + 1 if stack else 0
                area = ht * (c - left)
                if area > best[0]:
                    best = (area, r + 1 - ht, left, r + 1, c)
            stack.append(c)
    return best


def find_label_mask(image: np.ndarray, region: float = LABEL_REGION, min_side: int = 3,
                    min_area_fraction: float = 0.002) -> np.ndarray:
    """Boolean mask of the black label in one image ``(H, W)`` (NumPy or torch; also ``(1, H, W)``).

    ``degrade.black_label`` writes an *exactly zero* rectangle wholly inside the central
    ``region`` (60 %) of the image (paper section 3.1.2). The image's own dark background may be
    near zero too: after quantum noise it holds scattered exact zeros (counts >= photons clip to
    v = 0), and a clean image may even be exactly zero over large areas. Two steps:

    1. Connected components (4-connected) of exact zeros lying wholly inside the central region
       (padded by one pixel for rounding) that are *exactly rectangular* (pixel count = bounding
       box area): the largest of these is the label. This finds a label lying on tissue even when
       the background is a sea of exact zeros.
    2. Otherwise (the label touches other zeros, so its component is not a rectangle) the mask is
       the **largest axis-aligned rectangle of exact zeros within the central region**: scattered
       noise zeros form only thin or tiny rectangles, while the label is a solid block. If the
       background next to the label is exactly zero the rectangle may extend into it; inpainting
       such pixels returns ~0, so little is lost.

    A rectangle thinner than ``min_side`` pixels or smaller than ``min_area_fraction`` of the
    image is taken as "no label" (an all-False mask).
    """
    from scipy import ndimage

    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 2:
        raise ValueError(f"find_label_mask expects one (H, W) image, got shape {img.shape}")
    H, W = img.shape
    y0 = max(0, int(np.floor((1 - region) / 2 * H)) - 1)
    y1 = min(H, int(np.ceil((1 + region) / 2 * H)) + 1)
    x0 = max(0, int(np.floor((1 - region) / 2 * W)) - 1)
    x1 = min(W, int(np.ceil((1 + region) / 2 * W)) + 1)
    mask = np.zeros((H, W), dtype=bool)
    zeros_full = img == 0
    zeros = zeros_full[y0:y1, x0:x1]
    if not zeros.any():
        return mask

    def big_enough(h: int, w: int) -> bool:
        return min(h, w) >= min_side and h * w >= min_area_fraction * H * W

    # 1. exactly rectangular zero components wholly inside the (padded) central region
    labels, _ = ndimage.label(zeros_full)
    best = None
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        (t, b), (l, r) = (sl[0].start, sl[0].stop), (sl[1].start, sl[1].stop)
        if t < y0 or b > y1 or l < x0 or r > x1 or not big_enough(b - t, r - l):
            continue
        if (labels[sl] == k).all() and (best is None or (b - t) * (r - l) > best[0]):
            best = ((b - t) * (r - l), t, l, b, r)
    if best is not None:
        _, t, l, b, r = best
        mask[t:b, l:r] = True
        return mask

    # 2. largest all-zero rectangle inside the central region
    _, top, left, bottom, right = _largest_rectangle(zeros)
    if big_enough(bottom - top, right - left):
        mask[y0 + top:y0 + bottom, x0 + left:x0 + right] = True
    return mask


def biharmonic(images: torch.Tensor, masks: torch.Tensor | np.ndarray | None = None,
               region: float = LABEL_REGION) -> torch.Tensor:
    """Find the label with ``find_label_mask`` (or use the given ``masks``, ``(B, 1, H, W)`` bool,
    e.g. from ``degrade.black_label(..., return_mask=True)``) and fill it with
    ``skimage.restoration.inpaint_biharmonic``. Images without a detected label pass unchanged."""
    from skimage.restoration import inpaint_biharmonic

    _check(images)
    if masks is not None:
        m_all = masks.detach().cpu().numpy() if isinstance(masks, torch.Tensor) else np.asarray(masks)
        m_all = m_all.reshape(images.shape).astype(bool)
    arr = images.detach().cpu().double().numpy()
    out = arr.copy()
    for i in range(arr.shape[0]):
        m = m_all[i, 0] if masks is not None else find_label_mask(arr[i, 0], region)
        if m.any():
            out[i, 0] = inpaint_biharmonic(arr[i, 0], m)
    out = np.clip(out, 0.0, 1.0)
    return torch.from_numpy(out).to(dtype=images.dtype, device=images.device)


# --------------------------------------------------------------------------------------------
# Low resolution: re-derive the small image, upsample
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def _bicubic_pinv(n: int, N: int) -> torch.Tensor:
    """Pseudo-inverse ``(n, N)`` of PyTorch's 1-D bicubic upsampling ``n -> N`` (``align_corners=
    False``), built by upsampling the identity. PyTorch's 2-D bicubic is separable, so the
    upsampled image is ``Uy @ s @ Ux.T`` and ``s = pinv(Uy) @ y @ pinv(Ux).T``."""
    eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, 1, n)
    U = F.interpolate(eye, size=(1, N), mode="bicubic", align_corners=False).reshape(n, N).T
    return torch.linalg.pinv(U)


def _small(images: torch.Tensor, factor: int, rederive: str = "lstsq") -> torch.Tensor:
    """Re-derive the ``factor``-times smaller image from the blurred input, on the CPU in float64.

    ``"area"``: area-downsample the blurred input (as ``degrade.low_resolution`` did to the
    original). This blurs a second time. ``"lstsq"`` (default): least-squares inversion of the
    known bicubic upsampler of ``degrade.low_resolution``, which recovers the original small image
    up to the effect of its final clamp to [0, 1] (max error ~0.01 on the test phantom)."""
    H, W = images.shape[-2:]
    h, w = max(1, H // factor), max(1, W // factor)
    x = images.detach().cpu().double()
    if rederive == "area":
        return F.interpolate(x, size=(h, w), mode="area")
    if rederive == "lstsq":
        return _bicubic_pinv(h, H) @ x @ _bicubic_pinv(w, W).T
    raise ValueError(f"unknown rederive {rederive!r}; choose lstsq or area")


def bicubic(images: torch.Tensor, factor: int = LOWRES_FACTOR, rederive: str = "lstsq") -> torch.Tensor:
    """Bicubic upsampling (PyTorch, ``align_corners=False``, a = -0.75) of the re-derived small
    image. This is exactly ``degrade.low_resolution``'s own upsampling, so with the default
    ``rederive="lstsq"`` it returns (nearly) its input: the baseline, not an improvement. With
    ``rederive="area"`` it blurs twice and is *worse* than the input."""
    _check(images)
    H, W = images.shape[-2:]
    up = F.interpolate(_small(images, factor, rederive), size=(H, W), mode="bicubic", align_corners=False)
    return up.clamp(0.0, 1.0).to(dtype=images.dtype, device=images.device)


def lanczos(images: torch.Tensor, factor: int = LOWRES_FACTOR, rederive: str = "lstsq") -> torch.Tensor:
    """Lanczos-3 upsampling (PIL ``Image.resize(..., Image.LANCZOS)`` on float 'F' images) of the
    re-derived small image (see ``_small``)."""
    from PIL import Image

    _check(images)
    H, W = images.shape[-2:]
    small = _small(images, factor, rederive).numpy()
    out = np.empty((small.shape[0], 1, H, W), dtype=np.float64)
    for i in range(small.shape[0]):
        im = Image.fromarray(small[i, 0].astype(np.float32), mode="F")
        out[i, 0] = np.asarray(im.resize((W, H), Image.LANCZOS), dtype=np.float64)
    out = np.clip(out, 0.0, 1.0)
    return torch.from_numpy(out).to(dtype=images.dtype, device=images.device)


# --------------------------------------------------------------------------------------------
# Registry and metrics
# --------------------------------------------------------------------------------------------

RESTORERS: dict[str, dict[str, Callable[..., torch.Tensor]]] = {
    "noise": {"anscombe_nlm": anscombe_nlm, "anscombe_wavelet": anscombe_wavelet,
              "anscombe_tv": anscombe_tv},
    "label": {"biharmonic": biharmonic},
    "lowres": {"bicubic": bicubic, "lanczos": lanczos},
}


def restore(images: torch.Tensor, kind: str, method: str, **kw) -> torch.Tensor:
    """Restore ``images`` (``(B, 1, H, W)`` in [0, 1]) degraded by ``kind`` with a classical
    ``method`` from ``RESTORERS[kind]``; keyword arguments go to the restorer (``photons``,
    ``scale``, ``factor``, ``masks``, ...)."""
    if kind not in RESTORERS:
        raise ValueError(f"unknown degradation {kind!r}; choose one of {', '.join(RESTORERS)}")
    methods = RESTORERS[kind]
    if method not in methods:
        raise ValueError(f"unknown {kind} restorer {method!r}; choose one of {', '.join(methods)}")
    return methods[method](images, **kw)


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def psnr(a, b, mask=None) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (peak 1): ``-10 log10(MSE)``, the
    MSE pooled over all elements (all images of a batch), or over ``mask`` (True = counted; e.g.
    the label box, as the reference asks). ``inf`` when identical; ``nan`` for an empty mask."""
    a, b = _np(a), _np(b)
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ, {a.shape} vs {b.shape}")
    d2 = (a - b) ** 2
    if mask is not None:
        m = _np(mask).astype(bool)
        m = np.broadcast_to(m, d2.shape)
        if not m.any():
            return float("nan")
        d2 = d2[m]
    mse = float(np.mean(d2))
    return float("inf") if mse == 0 else float(-10.0 * np.log10(mse))


def ssim(a, b) -> float:
    """Structural similarity (``skimage.metrics.structural_similarity``, ``data_range=1``) of two
    [0, 1] images ``(H, W)``; for ``(B, 1, H, W)`` / ``(B, H, W)`` batches, the mean over images."""
    from skimage.metrics import structural_similarity

    a, b = _np(a), _np(b)
    if a.shape != b.shape:
        raise ValueError(f"ssim: shapes differ, {a.shape} vs {b.shape}")
    if a.ndim == 2:
        return float(structural_similarity(a, b, data_range=1.0))
    a2, b2 = a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:])
    return float(np.mean([structural_similarity(x, y, data_range=1.0) for x, y in zip(a2, b2)]))


# --------------------------------------------------------------------------------------------
# Which degradation a film has: the router of `baa restore` (CQ's idea at the film's scale)
# --------------------------------------------------------------------------------------------

def detail_ratio_db(images: torch.Tensor, factor: int = LOWRES_FACTOR, coarse: int = 4) -> torch.Tensor:
    """How much of an image's detail lies in its finest band, in dB, per image ``(B,)``:

        10 log10( ||x - L_f(x)||^2 / ||x - L_(f*coarse)(x)||^2 ),

    ``L_k`` being ``degrade.low_resolution`` with factor ``k``. A film already ``factor``-times low
    resolution has almost nothing left for ``L_f`` to remove, so the ratio falls far below that of a
    clean, noisy or labelled film (noise raises it). Dimensionless: exposure and contrast cancel."""
    x = images.detach().double().cpu()
    fine = (x - low_resolution(x, factor)).pow(2).flatten(1).mean(1)
    broad = (x - low_resolution(x, factor * coarse)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(fine.clamp_min(1e-20) / broad.clamp_min(1e-20))


def separating_threshold(inside: np.ndarray, outside: np.ndarray) -> float:
    """The threshold ``t`` that best separates two samples of a score, ``inside`` (below ``t``) from
    ``outside`` (at or above): the fewest misclassified, then the middle of the widest gap."""
    v = np.sort(np.concatenate([inside, outside]))
    cands = (v[:-1] + v[1:]) / 2
    errors = np.array([(inside >= t).sum() + (outside < t).sum() for t in cands])
    best = np.flatnonzero(errors == errors.min())
    gaps = v[best + 1] - v[best]
    return float(cands[best[np.argmax(gaps)]])


def route_film(image, router: dict) -> dict:
    """Where ``baa restore --kind auto`` sends one image (H, W), given the shipped router
    (``baa.weights.load_film_router``): ``{"kind": "lowres" | "any",
    "detail_ratio_db", "threshold_db"}``."""
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))[None, None]
    db = float(detail_ratio_db(x, router["factor"], router["coarse"])[0])
    return {"kind": "lowres" if db < router["threshold_db"] else "any", "detail_ratio_db": round(db, 3),
            "threshold_db": router["threshold_db"]}
