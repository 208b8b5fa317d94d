"""The phantom train / test / bench sets of a profile, rendered once and cached.

Layer: experiments.
"""

from __future__ import annotations

from baa.phantom.dataset import SPLIT_OFFSET
import torch
from baa.data import BoneAgeData
from baa.io import normalize_images
from baa.profiles import Profile, get_profile
from baa.experiments.artifacts import artifact_dir, data_version
from baa.io.atomic import save_torch
from baa.phantom.anatomy import PhantomConfig
from baa.phantom.dataset import PhantomDataset






def dataset(profile: str | Profile | None = None, split: str = "train", progress: bool = True) -> BoneAgeData:
    """The phantom images of ``split`` (``train``: ``n_images``, ``test``: ``n_test``, ``bench``:
    ``n_bench``) at the profile's size, rendered once and cached under ``artifacts/<profile>/data``.
    Each image is stretched between its 0.5 and 99.5 percentiles (``data.normalize_images``), as
    every file is when read: the networks then see phantoms and files on one intensity scale."""
    p = get_profile(profile)
    n = {"train": p.n_images, "test": p.n_test, "bench": p.n_bench}[split]
    path = artifact_dir(p) / "data" / f"{split}-{p.image_size}-{n}-{p.seed}-{data_version(p)}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    ds = PhantomDataset(n, seed=p.seed, config=PhantomConfig(size=p.image_size), start=SPLIT_OFFSET[split])
    out = ds.render_all(progress=progress)
    data = BoneAgeData(images=normalize_images(out["image"]), age=out["label"].float(), male=out["male"].float(),
                       ids=[f"phantom-{int(i)}" for i in out["index"]], source=f"phantom (seed {p.seed})")
    save_torch(data, path)  # torchrun ranks may render at once
    return data



def _tensors(data: BoneAgeData, idx=None) -> dict:
    d = data if idx is None else data.subset(idx)
    return {"image": d.images, "age": d.age, "male": d.male}
