"""The train / test / bench sets of a run: the profile's phantoms, rendered once and cached, or a real
labelled dataset prepared as ``baa assess`` prepares a film (``data.real``), split into a training
part and a held-out test part (stratified by age and sex, seeded) unless a separate test set is given.

Layer: experiments.
"""

from __future__ import annotations

import torch

import numpy as np

from baa.data import BoneAgeData
from baa.data.real import load_prepared
from baa.data.splits import holdout_split
from baa.experiments.artifacts import artifact_dir, data_version
from baa.io import normalize_images, save_torch
from baa.phantom import SPLIT_OFFSET, PhantomConfig, PhantomDataset
from baa.profiles import Profile


def split_size(p: Profile, split: str) -> int:
    """Images in a profile's split: ``train`` ``n_images``, ``test`` ``n_test``, ``bench`` ``n_bench``."""
    return {"train": p.n_images, "test": p.n_test, "bench": p.n_bench}[split]


def real_split(p: Profile, split: str, progress: bool = True) -> BoneAgeData:
    """``split`` of the run's real dataset. With a separate ``test_root``, ``train`` is the whole
    dataset and ``test`` the other; otherwise the profile's ``test_fraction`` of the films is held
    out (stratified by age and sex, seeded). ``train`` keeps at most ``n_images`` films, ``bench``
    the first ``n_bench`` of ``test``."""
    cache = artifact_dir(p) / "data"
    full, _ = load_prepared(p.data.root, p.data.format, p.image_size, cache, progress)
    if p.data.test_root:
        train = full
        test, _ = load_prepared(p.data.test_root, p.data.format, p.image_size, cache, progress)
    else:
        tr, te = holdout_split(full.age, full.male, p.test_fraction, p.seed)
        train, test = full.subset(tr), full.subset(te)
    if split == "train":
        return train.subset(np.arange(min(len(train), p.n_images)))
    return test if split == "test" else test.subset(np.arange(min(len(test), p.n_bench)))


def dataset(p: Profile, split: str = "train", progress: bool = True) -> BoneAgeData:
    """``split`` of the run's data: a real dataset's (``real_split``), or the phantom images of ``split`` (``split_size``) at the profile's size, rendered once and
    cached under ``artifacts/<profile>/data``. Each image is stretched between its 0.5 and 99.5
    percentiles (``io.normalize_images``), as every file is when read: the networks then see
    phantoms and files on one intensity scale."""
    if not p.data.phantom:
        return real_split(p, split, progress)
    n = split_size(p, split)
    path = artifact_dir(p) / "data" / f"{split}-{p.image_size}-{n}-{p.seed}-{data_version(p)}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    ds = PhantomDataset(n, seed=p.seed, config=PhantomConfig(size=p.image_size), start=SPLIT_OFFSET[split])
    out = ds.render_all(progress=progress)
    data = BoneAgeData(images=normalize_images(out["image"]), age=out["label"].float(), male=out["male"].float(),
                       ids=[f"phantom-{int(i)}" for i in out["index"]], source=f"phantom (seed {p.seed})")
    save_torch(data, path)  # torchrun ranks may render at once
    return data
