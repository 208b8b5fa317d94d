"""What the network looks at: saliency maps of BoNet+ and of the CQ / DQ / NQ pipelines, scored
against the phantom's known growth regions.

The paper shows no saliency. Its premise (section 1, after Greulich-Pyle and Tanner-Whitehouse) is
that bone age is read from the carpals and the epiphyses / growth plates; the phantom renders exactly
those regions as masks (``baa.phantom.render(..., masks=True)``), so here we can *measure* whether a
trained network's evidence lies there, on clean and on degraded inputs, and after restoration.

- ``grad_cam`` (Selvaraju et al. 2017): the feature maps of one layer (BoNet+'s dense blocks, e.g.
  ``db4`` / ``db5`` of Table 1) weighted by the spatial mean of the output's gradient, ReLU,
  upsampled to the input.
- ``input_gradients`` (Simonyan et al. 2014; SmoothGrad, Smilkov et al. 2017, with ``n_samples``):
  ``|d age / d pixel|`` through a whole pipeline, the ResUNet included. CQ's routing (an argmax) is
  not differentiable; ``pipeline_fn`` routes by the predicted class and differentiates through the
  chosen restorer.
- ``mask_share``: the share of a map's mass inside a mask; divided by the mask's share of the image
  area it gives the enrichment ratio (1: no preference; > 1: the map prefers the region).
- ``saliency_table``: share / area / enrichment per pipeline, quality and method, with a randomly
  initialised BoNet+ as the control (Adebayo et al. 2018, "Sanity checks for saliency maps").
- ``occlusion_bands`` (Zeiler and Fergus 2014, by bands): how much the age moves when one horizontal
  band of the image is blanked; chapter 11 compares real films with phantoms of the same ages.

Layer: analysis.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from baa.experiments.datasets import split_size
from baa.experiments.tables import degraded_set
from baa.io import normalize_images
from baa.phantom import SPLIT_OFFSET, PhantomConfig, PhantomDataset
from baa.profiles import Profile

__all__ = ["phantom_split", "grad_cam", "input_gradients", "mask_share", "enrichment", "cam_layer", "pipeline_fn",
           "pipeline_regressor", "saliency_maps", "saliency_table", "growth_mask", "overlay", "describe", "occlusion_bands"]


def _first(out) -> torch.Tensor:
    """A pipeline's age: CQ returns ``(ages, classes)``, the others ``ages``."""
    return out[0] if isinstance(out, (tuple, list)) else out


def _score(out, target: int | None) -> torch.Tensor:
    out = _first(out)
    if out.ndim == 2:  # a classifier's logits: the chosen class (or the top one)
        if target is None:
            return out.gather(1, out.argmax(1, keepdim=True)).sum()
        return out[:, target].sum()
    return out.sum()  # a regressor: each image's output depends only on that image in eval mode


def _normalise(maps: torch.Tensor) -> torch.Tensor:
    """Each map scaled to [0, 1] by its maximum (an all-zero map stays zero)."""
    peak = maps.flatten(1).amax(1).view(-1, 1, 1, 1)
    return torch.where(peak > 0, maps / peak.clamp_min(1e-12), torch.zeros_like(maps))


def _module(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    return model.get_submodule(layer) if isinstance(layer, str) else layer


def grad_cam(model: Callable, images: torch.Tensor, layer: str | nn.Module, target: int | None = None,
             absolute: bool = False, normalise: bool = True) -> torch.Tensor:
    """Grad-CAM maps ``(B, 1, H, W)`` in [0, 1] for ``images`` ``(B, C, H, W)``.

    Args:
        model: a module (or callable) returning ``(B,)`` values (BoNet+, a pipeline; CQ's tuple is
            taken by its ages) or ``(B, K)`` logits (then ``target`` picks the class, default the top).
        layer: the module whose output feature maps ``A`` are weighted, or its dotted name inside
            ``model`` (``"db5"`` for a BoNet+, ``"regressor.db5"`` for a pipeline).
        absolute: weight by ``|sum_k w_k A_k|`` instead of its ReLU; for a regressor the ReLU keeps
            the evidence for an *older* age only (Grad-CAM's convention), ``absolute`` keeps both.
        normalise: scale each map to a maximum of 1.

    The model is run in eval mode as given; gradients of its parameters are left untouched.
    """
    mod = _module(model, layer) if isinstance(model, nn.Module) else layer
    if isinstance(mod, str):
        raise TypeError("pass the layer as a module when model is not an nn.Module")
    store: dict = {}

    def hook(_m, _inp, out):
        store["a"] = out

    handle = mod.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            x = images.detach().clone().requires_grad_(True)  # makes every activation require grad
            score = _score(model(x), target)
            if "a" not in store:
                raise RuntimeError(f"layer {layer!r} was not run by the model")
            a = store["a"]
            (grad,) = torch.autograd.grad(score, a)
    finally:
        handle.remove()
    weights = grad.mean((2, 3), keepdim=True)  # alpha_k: global-average-pooled gradients
    cam = (weights * a.detach()).sum(1, keepdim=True)
    cam = cam.abs() if absolute else F.relu(cam)
    cam = F.interpolate(cam.float(), size=images.shape[-2:], mode="bilinear", align_corners=False)
    return _normalise(cam) if normalise else cam


def input_gradients(fn: Callable, images: torch.Tensor, n_samples: int = 1, noise: float = 0.0,
                    seed: int = 0, normalise: bool = True) -> torch.Tensor:
    """``|d fn(x) / d x|`` summed over channels, ``(B, 1, H, W)``; with ``n_samples > 1`` and
    ``noise > 0`` the SmoothGrad average over ``x + N(0, noise^2)``. ``fn`` maps images to ``(B,)``
    values (or a tuple whose first element is). Scaled to [0, 1] per image when ``normalise``."""
    g = torch.Generator().manual_seed(seed)
    total = torch.zeros(images.shape[0], 1, *images.shape[-2:], dtype=torch.float32)
    for _ in range(max(1, n_samples)):
        x = images.detach().clone().float()
        if noise > 0:
            x = x + noise * torch.randn(x.shape, generator=g).to(x)
        x.requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(_score(fn(x), None), x)
        total += grad.detach().abs().sum(1, keepdim=True).float().cpu()
    total /= max(1, n_samples)
    return _normalise(total) if normalise else total


def mask_share(saliency: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Share of each map's mass inside ``mask``: ``sum(s * m) / sum(s)``, shape ``(B,)``
    (NaN for an all-zero map). ``saliency`` ``(B, 1, H, W)`` non-negative, ``mask`` boolean or 0/1
    of the same shape (or broadcastable)."""
    s = saliency.float().clamp_min(0)
    m = mask.to(s.dtype).expand_as(s)
    total = s.flatten(1).sum(1)
    inside = (s * m).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-30), torch.full_like(total, float("nan")))


def enrichment(saliency: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """``share`` (``mask_share``), ``area`` (the mask's share of the image) and their ratio
    ``enrichment`` per image: 1 means the map does not prefer the region over any other pixel."""
    share = mask_share(saliency, mask)
    area = mask.float().expand_as(saliency).flatten(1).mean(1)
    return {"share": share, "area": area, "enrichment": share / area.clamp_min(1e-12)}


def growth_mask(masks: dict) -> torch.Tensor:
    """The growth regions the readers score (Greulich-Pyle / TW): carpals or epiphyses."""
    return masks["carpals"] | masks["epiphyses"]


def phantom_split(p: Profile, split: str = "test", n: int | None = None, progress: bool = True) -> dict:
    """The first ``n`` phantom images of a profile's ``split`` (the same bits as
    ``experiments.datasets.dataset``) with their masks: ``image``, ``label`` (years), ``bone_age``,
    ``masks`` {carpals, epiphyses, bones, hand}."""
    total = split_size(p, split)
    ds = PhantomDataset(min(n or total, total), seed=p.seed, config=PhantomConfig(size=p.image_size),
                        start=SPLIT_OFFSET[split])
    out = ds.render_all(progress=progress, masks=True)

    # the levels experiments.datasets.dataset gives the networks
    return {"image": normalize_images(out["image"]), "label": out["label"].float(), "bone_age": out["bone_age"].float(),
            "masks": out["masks"]}


# -- pipelines ------------------------------------------------------------------------------

def pipeline_regressor(pipe: nn.Module) -> nn.Module:
    """The BoNet+ inside a pipeline (or the model itself if it is one)."""
    return getattr(pipe, "regressor", pipe)


def cam_layer(model: nn.Module, size: int, min_side: int = 8) -> str:
    """The deepest dense block of a BoNet+ whose feature maps are at least ``min_side`` pixels on a
    side for ``size`` x ``size`` inputs: ``db5`` at 256 (8 x 8, Table 1), ``db4`` at 128, ``db3``
    at 64. Coarser maps say little about *which* bone."""
    side, ok = int(size), [1]
    for i in range(1, 7):  # pool1 and each transition: 3x3/2 max pool, padding 1 (Table 1)
        side = (side - 1) // 2 + 1
        if side >= min_side:
            ok.append(i)
    return f"db{max(ok)}"


def pipeline_fn(pipe: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x -> ages`` differentiable end to end: plain / NQ through BoNet+, DQ through the ResUNet
    and BoNet+, CQ routed by its (non-differentiable) predicted class, then through the chosen
    restorer and BoNet+ (CQ's ``restore`` assigns the restored rows into a copy, which autograd
    follows). The clamp to [0, 1] after a restorer passes no gradient where it clips."""
    return lambda x: _first(pipe(x))


def saliency_maps(pipe: nn.Module, images: torch.Tensor, method: str = "gradcam", layer: str | None = None,
                  **kw) -> torch.Tensor:
    """``method``: ``gradcam`` (on ``regressor.<layer>`` of the pipeline; ``layer`` defaults to
    ``cam_layer``), ``gradient`` (``input_gradients`` through the whole pipeline) or ``smoothgrad``
    (the same, averaged over 8 noisy copies, noise 0.05)."""
    if method == "gradcam":
        layer = layer or cam_layer(pipe, images.shape[-1])
        reg = pipeline_regressor(pipe)
        return grad_cam(pipe, images, reg.get_submodule(layer), **kw)
    if method == "gradient":
        return input_gradients(pipeline_fn(pipe), images, **kw)
    if method == "smoothgrad":
        return input_gradients(pipeline_fn(pipe), images, n_samples=kw.pop("n_samples", 8),
                               noise=kw.pop("noise", 0.05), **kw)
    raise ValueError(f"unknown saliency method {method!r}; choose gradcam, gradient or smoothgrad")


def saliency_table(pipelines: dict[str, nn.Module], images: torch.Tensor, masks: dict, kinds=("high", "noise", "label", "lowres"),
                   methods=("gradcam", "gradient"), degrade_fn: Callable | None = None, layer: str | None = None,
                   control: nn.Module | None = None, batch_size: int = 32, progress: bool = True):
    """Enrichment of growth regions (carpals + epiphyses) per pipeline, quality and method.

    Args:
        pipelines: name -> pipeline (``build_pipelines``); ``control`` (optional) is added as a
            pipeline named ``"random BoNet+"``: the same architecture, untrained.
        images: clean images ``(B, 1, S, S)``; masks: the phantom's masks of the same images.
        degrade_fn: ``(images, kind) -> images``; default ``experiments.tables.degraded_set``.

    Returns a ``pandas.DataFrame`` with one row per (pipeline, quality, method): ``growth_share``,
    ``growth_area``, ``enrichment`` (mean over images of share / area), ``enrichment_sd``,
    ``bones_share``, ``hand_share``, ``n`` and ``n_empty``: the images whose map is all zero (Grad-CAM's
    ReLU removes everything when no feature pushes the age up), left out of the means.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    degrade_fn = degrade_fn or degraded_set
    pipes = dict(pipelines)
    if control is not None:
        pipes["random BoNet+"] = control
    grow = growth_mask(masks)
    rows = []
    jobs = [(k, n, m) for k in kinds for n in pipes for m in methods]
    degraded = {k: degrade_fn(images, k) for k in kinds}
    for kind, name, method in tqdm(jobs, desc="saliency", disable=not progress):
        x = degraded[kind]
        maps = torch.cat([saliency_maps(pipes[name], x[i:i + batch_size], method, layer) for i in range(0, len(x), batch_size)])
        e = enrichment(maps, grow)
        rows.append({"pipeline": name, "quality": kind, "method": method,
                     "growth_share": float(e["share"].nanmean()), "growth_area": float(e["area"].mean()),
                     "enrichment": float(e["enrichment"].nanmean()),
                     "enrichment_sd": float(np.nanstd(e["enrichment"].numpy())) if e["share"].isfinite().any() else float("nan"),
                     "n_empty": int(e["share"].isnan().sum()),
                     "bones_share": float(mask_share(maps, masks["bones"]).nanmean()),
                     "hand_share": float(mask_share(maps, masks["hand"]).nanmean()), "n": len(x)})
    return pd.DataFrame(rows)


# -- figures ----------------------------------------------------------------------------------

def overlay(ax, image: torch.Tensor, saliency: torch.Tensor | None = None, mask: torch.Tensor | None = None,
            title: str = "", alpha: float = 0.8, cmap: str = "inferno"):
    """Draw ``image`` (H, W) grey, ``saliency`` in [0, 1] as a heat map whose opacity follows the
    saliency (zero: transparent), and ``mask``'s outline in cyan."""
    import matplotlib

    ax.imshow(np.asarray(image.detach().cpu().squeeze(), dtype=np.float32), cmap="gray", vmin=0, vmax=1)
    if saliency is not None:
        s = np.clip(np.asarray(saliency.detach().cpu().squeeze(), dtype=np.float32), 0, 1)
        rgba = matplotlib.colormaps[cmap](s)
        rgba[..., 3] = alpha * s
        ax.imshow(rgba)
    if mask is not None:
        ax.contour(np.asarray(mask.detach().cpu().squeeze(), dtype=np.float32), levels=[0.5], colors="cyan", linewidths=0.6)
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()
    return ax


def describe(e: float) -> str:
    """A title fragment for one image's enrichment (an empty map has none)."""
    return "no saliency" if not np.isfinite(e) else f"enrichment {e:.2f}"


@torch.no_grad()
def occlusion_bands(fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, bands: int = 8,
                    fill: float = 0.0, channels=None) -> torch.Tensor:
    """(N, bands): the change of ``fn``'s output (N,) for each image when its rows of band ``b`` (top
    to bottom, ``bands`` equal bands) are set to ``fill`` (0: the standardised background), in every channel or
    in the ``channels`` listed (of bone maps: which map the output is read from)."""
    h = images.shape[-2]
    edges = np.linspace(0, h, bands + 1).round().astype(int)
    pick = slice(None) if channels is None else list(channels)
    base = fn(images)
    out = []
    for b in range(bands):
        x = images.clone()
        x[:, pick, edges[b]:edges[b + 1], :] = fill
        out.append(fn(x) - base)
    return torch.stack(out, 1)
