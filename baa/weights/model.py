"""The shipped model's parts: the intensity standardisation both domains go through, BoNet+ with a
linear head fitted on real films, and the pipeline ``baa assess`` runs (with a ``BoneSegmenter`` whose maps
BoNet+ reads).

Layer: models (``baa.weights`` is the shipped model, beside the networks it is made of).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from baa.data.prepare import _hand_mask
from baa.models.bonet import BoNetPlus
from baa.models.resunet import BoneSegmenter

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
    (the prepared film to the scale the network was trained on), then, with a ``segmenter``, its bone
    maps ``maps`` of the standardised image (chapter 11's bone maps: BoNet+ reads where the bones, carpals
    and epiphyses are, not the image); ``regressor`` = CalibratedBoNet on what ``restore`` gives."""

    def __init__(self, regressor: CalibratedBoNet, segmenter: BoneSegmenter | None = None, maps=()):
        super().__init__()
        self.regressor = regressor
        self.segmenter = segmenter
        self.maps = tuple(maps)

    def network_view(self, standardised: torch.Tensor) -> torch.Tensor:
        """What BoNet+ reads of standardised images (B,1,S,S): their maps, or the images themselves."""
        return self.segmenter.maps(standardised, self.maps) if self.segmenter is not None else standardised

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        return self.network_view(standardise(x))

    def forward(self, x: torch.Tensor, male: torch.Tensor | None = None) -> torch.Tensor:
        return self.regressor(self.restore(x), male)


SEGMENTER_DTYPE = torch.float16  # the segmenter's weights as stored: half the bytes, within the 20 MB of baa/weights


def half_precision(seg: BoneSegmenter) -> BoneSegmenter:
    """``seg`` with every weight rounded to ``SEGMENTER_DTYPE`` and back, in place: the segmenter as the
    shipped file holds it, so that what the build measures is what loads."""
    with torch.no_grad():
        for t in list(seg.parameters()) + list(seg.buffers()):
            if t.is_floating_point():
                t.copy_(t.to(SEGMENTER_DTYPE).float())
    return seg


def build(state: dict) -> ShippedPipeline:
    """The pipeline from a saved state (``save_state``'s dict)."""
    bonet = BoNetPlus(**state["spec"]["kwargs"])
    reg = CalibratedBoNet(bonet, int(state["n_features"]))
    reg.load_state_dict({k: v.float() for k, v in state["model"].items()})
    seg = None
    if state.get("segmenter"):
        seg = BoneSegmenter(**state["segmenter"]["spec"]["kwargs"])
        seg.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["segmenter"]["model"].items()})
        seg.eval()
    return ShippedPipeline(reg, seg, state.get("maps", ())).eval()


def save_state(pipe: ShippedPipeline, size: int, meta: dict) -> dict:
    reg = pipe.regressor
    out = {"spec": reg.bonet.spec, "n_features": int(reg.weight.numel() - 1), "size": int(size),
           "model": {k: v.detach().cpu().clone() for k, v in reg.state_dict().items()}, "meta": meta}
    if pipe.segmenter is not None:
        sd = pipe.segmenter.state_dict()
        out["segmenter"] = {"spec": pipe.segmenter.spec, "model": {
            k: v.detach().cpu().to(SEGMENTER_DTYPE) if v.is_floating_point() else v.detach().cpu().clone() for k, v in sd.items()}}
        out["maps"] = list(pipe.maps)
    return out
