"""What the paper's degradations do (chapter 2): their parameters, the noise against the Poisson
model, where the label can fall, and each degradation's fingerprint in an image's statistics.

Every function takes its images and seeds as arguments; chapter 2 runs them on a fixed set
(``reference_set``: 16 phantom images at 64 x 64, seed 0), so the numbers are the same at every
profile and ``pytest --nbval`` compares them with the ones stored in the notebook.

Layer: analysis.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from baa import degrade as D
from baa.paper import QUALITIES
from baa.phantom import render
from baa.restore import psnr

SIZE, N_IMAGES = 64, 16  # the reference set: the same images at every profile
KIND_COLUMNS = ("high", "noise", "label", "lowres", "all")  # Fig. 1's columns
PHOTON_LEVELS = (30.0, 100.0, 300.0, 1000.0, 10000.0)


def reference_set(seed: int = 0, n: int = N_IMAGES, size: int = SIZE, masks: bool = True) -> dict:
    """The phantom images 0..n-1 at ``size`` (with their masks): ``baa.phantom.render``'s fields."""
    return render(torch.arange(n), seed=seed, size=size, masks=masks)


def parameter_table() -> pd.DataFrame:
    """The degradations' defaults, read from ``baa.degrade``."""
    rows = [("noise", "PHOTONS", D.PHOTONS, "incident photons per pixel, N0"),
            ("noise", "LINE_INTEGRAL_SCALE", D.LINE_INTEGRAL_SCALE, "k: display value v -> line integral p = k v"),
            ("label", "LABEL_FRACTION", D.LABEL_FRACTION, "label side, as a fraction of the image side (min, max)"),
            ("label", "LABEL_REGION", D.LABEL_REGION, "the label lies inside this central fraction of the image"),
            ("lowres", "LOWRES_FACTOR", D.LOWRES_FACTOR, "downsampling factor per axis (area), then bicubic back up")]
    return pd.DataFrame(rows, columns=["degradation", "constant", "value", "meaning"]).set_index("constant")


def photons_at(values=(0.0, 0.5, 1.0), photons: float = D.PHOTONS, k: float = D.LINE_INTEGRAL_SCALE) -> dict:
    """Mean photon count per pixel ``N0 exp(-k v)`` at display values ``v`` (1 decimal)."""
    return {f"v = {v:g}": round(photons * math.exp(-k * v), 1) for v in values}


def predicted_psnr(images: torch.Tensor, photons: float, k: float = D.LINE_INTEGRAL_SCALE) -> float:
    """First-order (delta-method) PSNR of Poisson noise: ``Var(-ln N / k) ~ 1 / (k^2 E[N])`` with
    ``E[N] = photons exp(-k v)``, averaged over the image (clipping to [0, 1] ignored)."""
    mse = (torch.exp(k * images.double()) / (k * k * photons)).mean().item()
    return -10 * math.log10(mse)


def noise_table(clean: torch.Tensor, seed: int, levels=PHOTON_LEVELS) -> tuple[pd.DataFrame, dict]:
    """PSNR of Poisson noise at each photon number of ``levels`` and at the default ``PHOTONS``,
    measured on ``clean`` and predicted; with the noisy images ``{photons: images}``."""
    levels = tuple(sorted(set(levels) | {D.PHOTONS}))
    noisy = {n0: D.poisson_noise(clean, n0, seed) for n0 in levels}
    table = pd.DataFrame({"photons N0": levels, "PSNR measured (dB)": [psnr(clean, noisy[n0]) for n0 in levels],
                          "PSNR predicted (dB)": [predicted_psnr(clean, n0) for n0 in levels]}).round(2)
    return table, noisy


def noise_text(table: pd.DataFrame) -> str:
    gain = np.polyfit(np.log10(table["photons N0"]), table["PSNR measured (dB)"], 1)[0]
    at_default = float(table.set_index("photons N0").loc[D.PHOTONS, "PSNR measured (dB)"])
    return (f"Measured: {gain:.1f} dB per decade of dose (a Poisson process predicts 10 dB: the variance is inversely "
            f"proportional to the dose). At the default N0 = {D.PHOTONS:g} the noisy images have PSNR {at_default:.1f} dB.")


def poisson_check(seed: int, rows: int = 4000, cols: int = 48, photons_fit: float = 1000.0) -> dict:
    """A ramp (one display value per column, ``rows`` rows) through ``poisson_noise``. Counts
    recovered as ``N = N0 exp(-k v_hat)`` at ``photons_fit`` must be whole photons, and their
    variance must grow with their mean with slope 1 (Poisson); at the default dose, the variance and
    the bias of ``v_hat`` per display value. Returns the arrays for the figure and the numbers."""
    k = D.LINE_INTEGRAL_SCALE
    v = torch.linspace(0.0, 1.0, cols)
    ramp = v.view(1, 1, 1, cols).expand(1, 1, rows, cols).contiguous()
    counts = photons_fit * torch.exp(-k * D.poisson_noise(ramp, photons_fit, seed).double())[0, 0]
    unclipped = counts > photons_fit * math.exp(-k) + 0.5
    if (counts[unclipped] - counts[unclipped].round()).abs().max() >= 0.05:
        raise AssertionError("recovered counts are not whole photons")
    mean_c, var_c = counts.mean(0).numpy(), counts.var(0).numpy()
    fit = ((v > 0.05) & (v < 0.85)).numpy()  # away from the clipping at both ends
    vhat = D.poisson_noise(ramp, D.PHOTONS, seed + 1)[0, 0].double()
    var_v, bias_v = vhat.var(0).numpy(), (vhat.mean(0) - v.double()).numpy()
    at = int(np.argmax(np.where(fit, bias_v, -np.inf)))
    return {"v": v.numpy(), "mean_counts": mean_c, "var_counts": var_c, "var_v": var_v, "bias_v": bias_v,
            "photons_fit": photons_fit,
            "slope": float(np.polyfit(mean_c[fit], var_c[fit], 1)[0]),
            "variance_rise": float(var_v[fit].max() / var_v[fit].min()),
            "max_bias": float(bias_v[at]), "max_bias_at": float(v[at]), "bias_at_1": float(bias_v[-1])}


def poisson_facts(check: dict) -> dict:
    """``poisson_check``'s numbers, rounded."""
    return {"slope of variance vs mean counts": round(check["slope"], 3),
            "variance rise, dark to bright": round(check["variance_rise"]),
            "largest bias of v_hat": round(check["max_bias"], 3), "at v": round(check["max_bias_at"], 2),
            "bias at v = 1": round(check["bias_at_1"], 3)}


def poisson_text(check: dict) -> str:
    return (f"The counts' variance grows with their mean with slope **{check['slope']:.3f}** (Poisson: 1). In the display "
            f"domain the variance rises {check['variance_rise']:.0f}-fold from dark to bright values: noise is signal "
            f"dependent, strongest on bone. The logarithm of a count is biased (Jensen's inequality): up to "
            f"{check['max_bias']:+.3f} in the mean at v = {check['max_bias_at']:.2f}, and the clipping to [0, 1] pulls the "
            f"brightest values down ({check['bias_at_1']:+.3f} at v = 1). A restorer must undo a shift as well as a scatter.")


def label_region(size: int, n: int, seed: int) -> dict:
    """``n`` label boxes on a ``size`` x ``size`` image: the central region's rows and columns
    (``first``, ``last``), the share of boxes covering each pixel (``coverage``), the box sides
    as fractions of the image side (``sides`` (n, 2)); raises if a label pixel leaves the region."""
    boxes = D.label_boxes(n, size, size, seed)
    masks = D.box_mask(boxes, size, size)
    first = math.ceil((1 - D.LABEL_REGION) / 2 * size)
    end = int((1 - D.LABEL_REGION) / 2 * size + D.LABEL_REGION * size)
    inside = torch.zeros(size, size, dtype=torch.bool)
    inside[first:end, first:end] = True
    if masks[:, 0][:, ~inside].any():
        raise AssertionError("a label pixel outside the central region")
    sides = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1).float() / size
    return {"n": n, "size": size, "first": first, "last": end - 1, "coverage": masks.float().mean(0)[0], "sides": sides}


def label_cover(images: torch.Tensor, masks: dict, seed: int) -> dict:
    """Why the label stays in the centre: the share of a label's pixels on the hand for boxes in
    the central region and anywhere, and the share of the bone pixels a label hides (median, max).
    Also the labelled images and label masks of ``black_label``."""
    n, size = images.shape[0], images.shape[-1]
    hand = masks["hand"]

    def hand_share(region, s):
        m = D.box_mask(D.label_boxes(n, size, size, s, region=region), size, size)
        return ((m & hand).sum((1, 2, 3)).float() / m.sum((1, 2, 3)).float()).mean().item()

    out, lmask = D.black_label(images, seed + 1, return_mask=True)
    if not (out[lmask] == 0).all():
        raise AssertionError("the label is not exact zeros")
    bone = masks["bones"]
    hidden = (lmask & bone).sum((1, 2, 3)).float() / bone.sum((1, 2, 3)).clamp(min=1).float()
    return {"hand share, centre": hand_share(D.LABEL_REGION, seed), "hand share, anywhere": hand_share(1.0, seed),
            "bone hidden, median": hidden.median().item(), "bone hidden, max": hidden.max().item(),
            "labelled": out, "label_mask": lmask}


def label_facts(region: dict, cover: dict) -> dict:
    """``label_region`` and ``label_cover``'s numbers, rounded."""
    sides = region["sides"]
    return {"boxes": region["n"], "image side": region["size"],
            "rows and columns": f"{region['first']}-{region['last']}",
            "side / image side": f"{float(sides.min()):.2f}-{float(sides.max()):.2f}",
            **{k: round(100 * cover[k]) for k in ("hand share, centre", "hand share, anywhere", "bone hidden, median",
                                                   "bone hidden, max")}}


def label_text(region: dict, cover: dict, n_images: int) -> str:
    f = label_facts(region, cover)
    return (f"All {f['boxes']} boxes lie inside rows and columns {f['rows and columns']} (asserted). Label sides span "
            f"{f['side / image side']} of the image side. Confined to the centre, **{f['hand share, centre']} %** of the "
            f"label's pixels cover the hand; placed anywhere, {f['hand share, anywhere']} %. On {n_images} of these "
            f"phantoms a label hides a median {f['bone hidden, median']} % (max {f['bone hidden, max']} %) of the bone pixels.")


def radial_power_spectrum(images) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of (N,1,H,W) (or (H,W)) images, mean over images:
    (frequency in cycles/pixel, power)."""
    a = images.detach().double().cpu().numpy() if torch.is_tensor(images) else np.asarray(images, dtype=np.float64)
    a = a.reshape(-1, a.shape[-2], a.shape[-1])
    a = a - a.mean(axis=(1, 2), keepdims=True)
    p = (np.abs(np.fft.fftshift(np.fft.fft2(a), axes=(1, 2))) ** 2).mean(0) / (a.shape[1] * a.shape[2])
    h, w = p.shape
    yy, xx = np.indices((h, w))
    r = np.hypot((yy - h // 2) / h, (xx - w // 2) / w)
    bins = np.linspace(0, 0.5, min(h, w) // 2 + 1)
    which = np.digitize(r.ravel(), bins) - 1
    ok = (which >= 0) & (which < len(bins) - 1)
    power = np.bincount(which[ok], weights=p.ravel()[ok], minlength=len(bins) - 1)
    count = np.bincount(which[ok], minlength=len(bins) - 1)
    return 0.5 * (bins[1:] + bins[:-1]), power / np.maximum(count, 1)


CUTOFF = 0.5 / D.LOWRES_FACTOR  # the low-resolution image's Nyquist frequency, cycles per pixel
POWER = f"power above {CUTOFF:g} c/px (%)"


def image_statistics(x: torch.Tensor, clean: torch.Tensor) -> dict:
    """Mean, variance, share of exact zeros, gradient energy (mean squared difference of
    neighbouring pixels), share of the power above ``CUTOFF`` and PSNR against ``clean``."""
    x = x.double()
    gx, gy = x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]
    f, pw = radial_power_spectrum(x)
    return {"mean": x.mean().item(), "variance": x.var().item(), "exact zeros (%)": 100 * (x == 0).double().mean().item(),
            "gradient energy": 0.5 * ((gx ** 2).mean() + (gy ** 2).mean()).item(),
            POWER: 100 * pw[f > CUTOFF].sum() / pw.sum(), "PSNR vs clean (dB)": psnr(clean, x)}


def statistics_table(clean: torch.Tensor, degraded: dict) -> pd.DataFrame:
    """``image_statistics`` of each kind's images (rows), rounded to 4 decimals."""
    return pd.DataFrame({kind: image_statistics(x, clean) for kind, x in degraded.items()}).T.round(4)


def statistics_text(st: pd.DataFrame) -> str:
    g = st["gradient energy"]
    return (f"Noise leaves the mean almost unchanged ({st.loc['high', 'mean']:.3f} -> {st.loc['noise', 'mean']:.3f}) but "
            f"multiplies the gradient energy by {g['noise'] / g['high']:.1f} and lifts the spectrum's high-frequency tail "
            f"to a white floor. Low resolution does the opposite: the gradient energy falls to {100 * g['lowres'] / g['high']:.0f} % "
            f"and the power above {CUTOFF:g} cycles/pixel from {st.loc['high', POWER]:.2f} % to {st.loc['lowres', POWER]:.3f} % "
            f"of the total: thin cortices, physis gaps and small carpal nuclei are what is lost. The noisy histograms are "
            f"combs at bright values: there only a few photon counts are possible (N0 exp(-k) = "
            f"{D.PHOTONS * math.exp(-D.LINE_INTEGRAL_SCALE):.1f} photons on average at v = 1), and each count maps to one "
            f"display value. The label changes little globally ({st.loc['label', 'exact zeros (%)']:.1f} % exact zeros "
            f"against {st.loc['high', 'exact zeros (%)']:.1f} % in clean images) but removes everything under it.")


def mixed_and_determinism(clean: torch.Tensor, seed: int) -> dict:
    """The qualities ``degrade_mixed`` draws for ``clean`` (every label image must hold its black
    box), and whether each degradation gives the same bits for the same seed and others for another."""
    mixed, cls = D.degrade_mixed(clean, seed)
    label = cls == QUALITIES.index("label")
    if label.any() and not ((mixed[label] == 0).flatten(1).sum(1) > 0).all():
        raise AssertionError("a label image without its black box")
    out = {"classes drawn": {q: int((cls == j).sum()) for j, q in enumerate(QUALITIES)}}
    for kind in ("noise", "label", "all"):
        a = D.degrade(clean, kind, 123)
        out[f"{kind}: same seed, same bits"] = torch.equal(a, D.degrade(clean, kind, 123))
        out[f"{kind}: other seed, other bits"] = not torch.equal(a, D.degrade(clean, kind, 124))
    out["lowres: deterministic"] = torch.equal(D.degrade(clean, "lowres"), D.degrade(clean, "lowres"))
    out["mixed: same seed, same bits"] = torch.equal(D.degrade_mixed(clean, 5)[0], D.degrade_mixed(clean, 5)[0])
    return out
