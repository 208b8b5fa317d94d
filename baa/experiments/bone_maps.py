"""Bone maps (chapter 11, issue 18): the phantom's anatomy as the interface between the domains. A
``BoneSegmenter`` learns from phantoms where the bones, carpals and epiphyses are (the renderer knows
every mask exactly); BoNet+ is then trained on its maps of the phantoms and reads its maps of a real film,
so that the phantom teaches it bone shapes and sizes, never the phantom's look. ``Recipe.maps`` names the
maps BoNet+ reads; ``transfer_recipes.compare`` trains a segmenter for every seed of such a variant.

Layer: experiments.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from baa.data import grow
from baa.experiments.transfer import Recipe, network_inputs, scores
from baa.models import BoneSegmenter, BoNetPlus
from baa.models.resunet import segment
from baa.train import TrainConfig, fit_segmenter

SEGMENTER_EPOCHS = 10  # chosen before the comparison: a one-seed trial at 20 fitted phantoms better, read films worse
SEGMENTER_LR = 2e-3
# What the segmenter learns as "epiphyses" (Recipe.epiphysis_mask): the renderer's growth region (nucleus, physis and
# metaphyseal edge, 1.2x the bone end's width, present before the nucleus and after fusion), or only the bone inside
# it (nucleus and metaphyseal edge: what a film shows).
EPIPHYSIS_MASKS = ("growth", "bone")


def train_segmenter(data: dict, r: Recipe, epochs: int = SEGMENTER_EPOCHS, progress: bool = False) -> BoneSegmenter:
    """A ``BoneSegmenter`` trained on phantoms ``data`` (``phantom_inputs(..., masks=True)``) as ``r``
    feeds images to BoNet+ (standardised or not), with the loss ``r.seg_loss`` and the augmentation
    ``r.seg_blur``, ``r.seg_zoom``, seeded by ``r.seed``; deterministic for a seed and thread count."""
    torch.manual_seed(r.seed)
    model = BoneSegmenter()
    cfg = TrainConfig(epochs=epochs, batch_size=r.batch_size, lr=SEGMENTER_LR, schedule="cosine", seed=r.seed,
                      device="cpu", progress=progress)
    fit_segmenter(model, {"image": _images(data, r), "masks": targets(data["masks"], r)}, cfg, loss=r.seg_loss,
                  blur=r.seg_blur, zoom=r.seg_zoom)
    return model.eval()


def targets(masks: torch.Tensor, r: Recipe) -> torch.Tensor:
    """The segmenter's targets (N, 3, S, S) from a phantom's masks (``BoneSegmenter.MAP_NAMES``), the epiphysis map
    as ``r.epiphysis_mask`` names it (``EPIPHYSIS_MASKS``)."""
    if r.epiphysis_mask not in EPIPHYSIS_MASKS:
        raise ValueError(f"unknown epiphysis mask {r.epiphysis_mask!r}; choose one of {', '.join(EPIPHYSIS_MASKS)}")
    if r.epiphysis_mask == "growth":
        return masks
    i, b = BoneSegmenter.MAP_NAMES.index("epiphyses"), BoneSegmenter.MAP_NAMES.index("bones")
    out = masks.clone()
    out[:, i] = torch.minimum(masks[:, i], masks[:, b])
    return out


def _images(d: dict, r: Recipe) -> torch.Tensor:
    return replace(r, maps="").view(d)  # the segmenter reads the images, never maps


def bone_maps(seg: BoneSegmenter, x: torch.Tensor, channels=BoneSegmenter.MAP_NAMES,
              batch_size: int = 64) -> torch.Tensor:
    """(N, len(channels), S, S) in [0, 1]: the segmenter's maps of images ``x``, the named ones
    (``BoneSegmenter.MAP_NAMES``)."""
    return segment(seg, x, channels, batch_size)


def with_maps(seg: BoneSegmenter, d: dict, r: Recipe) -> dict:
    """``d`` (phantoms or real films) with ``"maps"``: the maps ``r.maps`` names, which ``r.view`` then feeds
    to BoNet+."""
    return {**d, "maps": bone_maps(seg, _images(d, r), r.maps.split(","))}


def map_areas(maps: torch.Tensor, threshold: float = 0.5) -> np.ndarray:
    """(N, C): the share of the frame each map of ``maps`` (N, C, S, S) marks (above ``threshold``)."""
    return (maps > threshold).double().mean((2, 3)).numpy()


def areas_against_phantoms(maps: torch.Tensor, age, phantom_maps: torch.Tensor, phantom_age, window: float = 1.0) -> np.ndarray:
    """(N, C): each image's map areas (``map_areas``) over the mean areas of the phantoms within ``window`` years of
    its ``age`` (NaN where no phantom is that close): how much more of a film the segmenter marks than of a
    phantom hand of the same age."""
    a, p = map_areas(maps), map_areas(phantom_maps)
    age, page = np.asarray(age, float), np.asarray(phantom_age, float)
    ref = np.array([p[np.abs(page - t) <= window].mean(0) if (np.abs(page - t) <= window).any() else np.full(p.shape[1], np.nan)
                    for t in age]).reshape(len(age), p.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / ref


def map_sensitivity(bonet: BoNetPlus, maps: torch.Tensor, age, names, steps=(-1, 1, 2)) -> list[dict]:
    """BoNet+'s zero-shot reading (``transfer.scores`` against ``age``) of ``maps`` (N, C, S, S; channels ``names``)
    as segmented (step 0, first), then with one map at a time grown (step > 0) or shrunk (< 0) by that many pixels
    (``data.grow``): how much its age hangs on a map's area, which the segmenter gets wrong on real films.
    Rows ``{"map", "step", "mae", "r", "bias", "rmse"}``."""
    y = np.asarray(age, dtype=np.float64)
    rows = [{"map": "", "step": 0, **scores(network_inputs(bonet, maps)[1], y)}]
    for c, name in enumerate(names):
        for k in steps:
            x = maps.clone()
            x[:, c:c + 1] = grow(maps[:, c:c + 1], k)
            rows.append({"map": name, "step": int(k), **scores(network_inputs(bonet, x)[1], y)})
    return rows


def dice(seg: BoneSegmenter, d: dict, r: Recipe, threshold: float = 0.5) -> dict:
    """The segmenter's Dice on phantoms ``d`` with masks (held-out ones: how well it learned), per map."""
    p = bone_maps(seg, _images(d, r)) > threshold
    m = targets(d["masks"], r) > 0.5
    inter = (p & m).sum((0, 2, 3)).double()
    both = p.sum((0, 2, 3)).double() + m.sum((0, 2, 3)).double()
    return {n: float(2 * i / b) if b > 0 else float("nan") for n, i, b in zip(BoneSegmenter.MAP_NAMES, inter, both)}


def example(seg: BoneSegmenter, real: dict, held: dict, r: Recipe, n_phantoms: int = 6) -> dict:
    """What chapter 11 shows of one segmenter: every map of the real films (rsna-dev and the toddlers) and of
    ``n_phantoms`` held-out phantoms spread over the ages, beside their images and true masks."""
    order = np.argsort(held["age"].numpy())
    pick = torch.from_numpy(order[np.linspace(0, len(order) - 1, n_phantoms).round().astype(int)])
    parts = {k: {"image": _images(v, r), **{f: v[f] for f in ("age", "names", "ids") if f in v}} for k, v in real.items()}
    parts["phantoms"] = {"image": _images(held, r)[pick], "masks": targets(held["masks"][pick], r), "age": held["age"][pick]}
    out = {k: {**v, "maps": bone_maps(seg, v["image"])} for k, v in parts.items()}
    out["recipe"] = r.maps
    return out
