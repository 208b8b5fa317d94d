"""What a linear model of pixels achieves on the phantom: chapter 1's check that the phantom is not
solvable by a linear read-out of the image (``calibrate`` sets it beside the CNN).

Layer: experiments.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch.nn.functional as F

from baa.phantom import SPLIT_OFFSET, PhantomConfig, PhantomDataset


def linear_baseline_mae(n_train: int = 2000, n_test: int = 500, seed: int = 0, size: int = 128,
                        config: PhantomConfig | None = None, progress: bool = False) -> float:
    """Ridge regression on 32x32 thumbnails (pixels + sex) -> label; returns the test MAE (years).

    The calibration check: the phantom must not be solvable by a linear read-out of the image.
    The ridge strength is picked on a held-out fifth of the training set."""
    cfg = replace(config or PhantomConfig(), size=int(size))
    ds_tr = PhantomDataset(n_train, seed, cfg).render_all(progress=progress)
    ds_te = PhantomDataset(n_test, seed, cfg, start=SPLIT_OFFSET["held_out"]).render_all(progress=progress)

    def feats(d):
        x = F.adaptive_avg_pool2d(d["image"], 32).reshape(len(d["image"]), -1).double().numpy()
        return np.concatenate([x, d["male"].double().numpy()[:, None]], 1)

    Xtr, ytr, Xte, yte = feats(ds_tr), ds_tr["label"].double().numpy(), feats(ds_te), ds_te["label"].double().numpy()
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd

    def fit(X, y, lam):
        Xa = np.concatenate([X, np.ones((len(X), 1))], 1)
        A = Xa.T @ Xa + lam * np.eye(Xa.shape[1])
        A[-1, -1] -= lam  # no penalty on the intercept
        return np.linalg.solve(A, Xa.T @ y)

    pred = lambda X, w: np.concatenate([X, np.ones((len(X), 1))], 1) @ w
    nv = max(1, len(Xtr) // 5)
    best = min((np.abs(pred(Xtr[:nv], fit(Xtr[nv:], ytr[nv:], lam)) - ytr[:nv]).mean(), lam) for lam in (1, 10, 100, 1000, 1e4))[1]
    w = fit(Xtr, ytr, best)
    return float(np.abs(pred(Xte, w) - yte).mean())
