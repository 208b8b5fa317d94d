"""Evaluation metrics (section 4.2, eq. 1-4) and the two regression losses compared in Table 2
(eq. 5-6). Ages are in years throughout.

Layer: metrics (beside degrade).
"""

from __future__ import annotations

import numpy as np
import torch


def _abs_err(pred, target) -> np.ndarray:
    p = torch.as_tensor(pred, dtype=torch.float64).flatten()
    t = torch.as_tensor(target, dtype=torch.float64).flatten()
    if p.shape != t.shape:
        raise ValueError(f"prediction has {p.numel()} values, target {t.numel()}")
    return (p - t).abs().numpy()


def mae(pred, target) -> float:
    """Mean absolute error, eq. (1)-(2): mean over images of |y_hat - y|."""
    return float(_abs_err(pred, target).mean())


def mdae(pred, target) -> float:
    """Median absolute error, eq. (3): the median of |y_hat - y|."""
    return float(np.median(_abs_err(pred, target)))


def ccs(pred, target, thresholds=None) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative score, eq. (4): CCS(t) = number of images with |error| <= t, for each threshold
    ``t`` (years). Default thresholds 0 to 3 years in steps of 0.1, as Fig. 11 and Fig. 12 plot.
    Returns ``(thresholds, counts)``; divide by ``len(target)`` for a fraction."""
    err = _abs_err(pred, target)
    t = np.round(np.arange(0.0, 3.0001, 0.1), 10) if thresholds is None else np.asarray(thresholds, float)
    counts = (err[None, :] <= t[:, None] + 1e-12).sum(1)
    return t, counts


def paired_bootstrap_ci(err_a, err_b, n_boot: int = 4000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``err_a - err_b`` (per-image absolute errors of two methods on the same images) and
    its percentile bootstrap confidence interval at ``level``: images are resampled with replacement,
    keeping each image's pair together, so what the two methods share (a hard hand) cancels.
    Returns ``(mean, low, high)``; an interval that holds 0 means the sample does not decide which
    MAE is lower. Seeded: the same errors give the same interval."""
    a = np.asarray(err_a, dtype=np.float64).ravel()
    b = np.asarray(err_b, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two error lists of the same non-zero length, got {a.size} and {b.size}")
    d = a - b
    idx = np.random.default_rng(seed).integers(0, d.size, size=(n_boot, d.size))
    means = d[idx].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(d.mean()), float(lo), float(hi)


def seed_difference(a, b) -> tuple[float, float]:
    """Difference of the means ``mean(b) - mean(a)`` of one measure over two sets of trainings (one value per
    seed) and its standard error (Welch: each set's variance over its size; a lone seed counts as no spread).
    Chapter 11 decides a difference against twice this error."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    var = lambda x: x.var(ddof=1) / len(x) if len(x) > 1 else 0.0  # noqa: E731
    return float(b.mean() - a.mean()), float(np.sqrt(var(a) + var(b)))


def summary(pred, target) -> dict:
    """MAE, MdAE and the CCS curve as one JSON-able dict (the CLI's ``evaluate`` output)."""
    t, c = ccs(pred, target)
    return {"n": int(len(_abs_err(pred, target))), "mae": mae(pred, target), "mdae": mdae(pred, target),
            "ccs": {"thresholds": [float(x) for x in t], "counts": [int(x) for x in c]}}


def loss_mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_MAE, eq. (5): (1/N) sum |y_hat - y|. The paper's choice for BoNet+."""
    return (pred - target).abs().mean()


def loss_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_MSE, eq. (6): (1/N) sum (y_hat - y)^2, the loss BoNet+ is compared against in Table 2."""
    return ((pred - target) ** 2).mean()


LOSSES = {"mae": loss_mae, "mse": loss_mse}


def loss_soft_dice(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice (Milletari et al. 2016, V-Net), per map over the whole batch, averaged over the maps:
    logits (N,C,H,W) against masks in [0, 1]. Every map weighs the same however few pixels it covers, so a
    small structure (the carpals: about 1 % of a phantom's pixels) cannot be left at "nowhere" the way a
    per-pixel cross-entropy allows. Not the paper's: chapter 11's segmenter."""
    p, t = torch.sigmoid(logits.float()), target.float()
    inter = (p * t).sum((0, 2, 3))
    return (1 - (2 * inter + eps) / (p.sum((0, 2, 3)) + t.sum((0, 2, 3)) + eps)).mean()


def loss_coral(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Feature alignment of two domains (Deep CORAL, Sun & Saenko 2016, plus the means): the mean squared
    difference of their feature means and of their covariances, ``source`` (N,D) and ``target`` (M,D),
    both scaled by the per-feature SD of the two together (held fixed), so that shrinking every feature
    does not lower it. Zero when the two sets have the same means and covariances. Not the paper's: chapter
    11 uses it to pull phantom and real-film features of BoNet+ together."""
    s, t = source.float().flatten(1), target.float().flatten(1)
    scale = torch.cat([s, t]).std(0).detach() + 1e-4
    s, t = s / scale, t / scale
    ms, mt = s.mean(0), t.mean(0)
    cs = (s - ms).T @ (s - ms) / max(1, len(s) - 1)
    ct = (t - mt).T @ (t - mt) / max(1, len(t) - 1)
    return ((ms - mt) ** 2).mean() + ((cs - ct) ** 2).mean()
