"""k-fold cross-validation splits, stratified by age (section 4.1: 5-fold CV).

Layer: data.
"""

from __future__ import annotations
from typing import Any
import numpy as np
import torch


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


def holdout_split(age: Any, male: Any, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A held-out test part of ``fraction`` of the images (Tables 4-5), stratified by sex and age:
    within each sex (unknown counts as its own group) the images are sorted by age and every
    ``round(1 / fraction)``-th one, from a seeded offset, is held out. Returns sorted
    ``(train_idx, test_idx)``; at least one image on each side. Same ``seed``, same split."""
    a = np.asarray(age.detach().cpu() if torch.is_tensor(age) else age, dtype=np.float64).ravel()
    m = np.asarray(male.detach().cpu() if torch.is_tensor(male) else male, dtype=np.float64).ravel()
    if a.size < 2 or not 0 < fraction < 1:
        raise ValueError(f"need 2 or more images and 0 < fraction < 1, got {a.size} images and {fraction}")
    rng = np.random.default_rng(seed)
    step = max(2, int(round(1 / fraction)))
    test = []
    for g in (m == 1, m == 0, ~np.isfinite(m)):
        idx = np.flatnonzero(g)
        idx = idx[np.argsort(a[idx] + 1e-9 * rng.random(idx.size), kind="stable")]  # ties in random order
        test.extend(idx[int(rng.integers(step)):: step])
    test = np.sort(np.asarray(test, dtype=np.int64))
    if test.size == 0:
        test = np.array([int(rng.integers(a.size))])
    train = np.setdiff1d(np.arange(a.size), test)
    return train, test
