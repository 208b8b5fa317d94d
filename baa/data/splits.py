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
