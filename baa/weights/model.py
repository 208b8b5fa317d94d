"""The shipped model's parts: the intensity standardisation both domains go through, BoNet+ with a
linear head fitted on real films, and the pipeline ``baa assess`` runs.

Layer: models (``baa.weights`` is the shipped model, beside the networks it is made of).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from baa.data.prepare import _hand_mask
from baa.models.bonet import BoNetPlus

AGE_MIN, AGE_MAX = 0.0, 19.0  # a head fitted on 28 films extrapolates: ages are kept in the phantom's range
FLOOR = 0.2  # the hand's darkest tissue after standardisation; the background is 0


def standardise_image(a: np.ndarray) -> np.ndarray:
    """One prepared image (S,S) in [0,1] to the common intensity scale: inside the hand mask (the
    largest component above the background Otsu level, holes filled) every pixel becomes its rank
    among the hand's pixels, mapped to [FLOOR, 1] (histogram matching to a uniform histogram);
    the background becomes 0. Exposure, gamma, contrast and background level of a film or a phantom
    no longer reach the network; the order of densities (bone over tissue) does."""
    a = np.asarray(a, dtype=np.float32)
    mask = _hand_mask(a) if np.ptp(a) > 0 else np.zeros(a.shape, bool)
    if mask.mean() < 0.02:  # no hand found: standardise the whole image
        mask = np.ones(a.shape, bool)
    v = a[mask]
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v), np.float32)
    ranks[order] = np.arange(len(v), dtype=np.float32) / max(1, len(v) - 1)
    out = np.zeros_like(a)
    out[mask] = FLOOR + (1 - FLOOR) * ranks
    return out


def standardise(x: torch.Tensor) -> torch.Tensor:
    """``standardise_image`` over a batch (B,1,S,S)."""
    out = [torch.from_numpy(standardise_image(im[0].detach().cpu().float().numpy()))[None] for im in x]
    return torch.stack(out).to(x.device, x.dtype)


class CalibratedBoNet(nn.Module):
    """BoNet+ whose age is ``w . [features, age] + b`` (a ridge head fitted on real films; with
    ``w`` zero on the features and 1 on the age, BoNet+ as trained). ``feature_mean`` / ``feature_scale``
    standardise the pooled features. ``forward(x, male=None)`` returns (B,) years."""

    def __init__(self, bonet: BoNetPlus, n_features: int):
        super().__init__()
        self.bonet = bonet
        self.use_sex = False  # the head does not use the sex
        self.config = getattr(bonet, "config", None)
        self.register_buffer("feature_mean", torch.zeros(n_features + 1))
        self.register_buffer("feature_scale", torch.ones(n_features + 1))
        w = torch.zeros(n_features + 1)
        w[-1] = 1.0
        self.register_buffer("weight", w)
        self.register_buffer("bias", torch.zeros(()))

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        f = self.bonet.forward_features(x)
        age = self.bonet.forward_head(f)
        return torch.cat([f.flatten(1), age[:, None]], 1)

    bounds = (AGE_MIN, AGE_MAX)  # the ages it answers; baa assess flags a raw age outside them

    def forward(self, x: torch.Tensor, male: torch.Tensor | None = None, bounded: bool = True) -> torch.Tensor:
        z = (self.inputs(x) - self.feature_mean) / self.feature_scale
        age = z @ self.weight + self.bias
        return age.clamp(*self.bounds) if bounded else age


class ShippedPipeline(nn.Module):
    """What ``baa assess`` runs with the shipped model: ``restore`` = the intensity standardisation
    (the prepared film to the scale the network was trained on), ``regressor`` = CalibratedBoNet."""

    def __init__(self, regressor: CalibratedBoNet):
        super().__init__()
        self.regressor = regressor

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        return standardise(x)

    def forward(self, x: torch.Tensor, male: torch.Tensor | None = None) -> torch.Tensor:
        return self.regressor(self.restore(x), male)


def build(state: dict) -> ShippedPipeline:
    """The pipeline from a saved state (``save_state``'s dict)."""
    bonet = BoNetPlus(**state["spec"]["kwargs"])
    reg = CalibratedBoNet(bonet, int(state["n_features"]))
    reg.load_state_dict({k: v.float() for k, v in state["model"].items()})
    return ShippedPipeline(reg).eval()


def save_state(pipe: ShippedPipeline, size: int, meta: dict) -> dict:
    reg = pipe.regressor
    return {"spec": reg.bonet.spec, "n_features": int(reg.weight.numel() - 1), "size": int(size),
            "model": {k: v.detach().cpu().clone() for k, v in reg.state_dict().items()}, "meta": meta}
