"""The three training tasks: BoNet+ (eq. 5/6), the quality classifier, and the ResUNet restorers,
each a batch function handed to the Trainer; and beyond the paper, the bone segmenter (chapter 11).

Layer: train.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from baa import degrade as D
from baa.data.augment import P_WARP, augment, blur_augment, flip_augment, morphology_augment
from baa.data.augment import augment as geometric_augment  # segmenter_batches' argument `augment` hides it
from baa.metrics import LOSSES, loss_coral, loss_mae, loss_soft_dice, mae
from baa.paper import KINDS
from baa.train.device import bf16_supported
from baa.train.trainer import TrainConfig, Trainer, predict


def _augment(x: torch.Tensor, g: torch.Generator, on: bool) -> torch.Tensor:
    if not on:
        return x
    return augment(x, generator=g)


# How BoNet+ is trained. ``paper``: section 4.1 and nothing else: random rotation, shift and zoom
# on every image, BatchNorm's running statistics as training leaves them. ``beyond``: our additions:
# half the images warped (``data.P_WARP``), a random blur on half (``data.blur_augment``: sharpness
# is not age) and "precise BN" (``Trainer.recalibrate_bn``). Chapter 5 shows both.
REGRESSOR_RECIPES = ("paper", "beyond")


def _augment_regressor(x: torch.Tensor, g: torch.Generator, on: bool, recipe: str = "beyond") -> torch.Tensor:
    """BoNet+'s augmentation under ``recipe`` (``REGRESSOR_RECIPES``). The classifier warps every
    image and is not blurred under either: blur is what its "lowres" class looks like."""
    if recipe not in REGRESSOR_RECIPES:
        raise ValueError(f"unknown BoNet+ recipe {recipe!r}; choose {', '.join(REGRESSOR_RECIPES)}")
    if not on:
        return x
    if recipe == "paper":
        return augment(x, generator=g)
    return blur_augment(augment(x, generator=g, p_warp=P_WARP), generator=g)


def regressor_batches(augment: bool = True, qualities: tuple[str, ...] | None = None, recipe: str = "beyond",
                      map_jitter: float = 0.0, map_dilate: float = 0.5, map_radius: int = 1) -> Callable:
    """Batches for BoNet+: images augmented as ``recipe`` says -> age in years. ``qualities`` (e.g.
    all four classes) degrades each image with one drawn quality, as NQ is trained (section 3.3).
    ``map_jitter`` > 0 (bone maps only): each map eroded or dilated with that probability, a share
    ``map_dilate`` of them dilated, by 1 .. ``map_radius`` pixels (``data.morphology_augment``)."""

    def batch_fn(batch: dict, g: torch.Generator):
        x = _augment_regressor(batch["image"], g, augment, recipe)
        if augment and map_jitter > 0:
            x = morphology_augment(x, g, map_jitter, map_dilate, map_radius)
        if qualities:
            x, _ = D.degrade_mixed(x, g, qualities)
        return x, batch["age"].float()

    return batch_fn


def classifier_batches(augment: bool = True, multi_label: bool = False) -> Callable:
    """Batches for the quality classifier: each image degraded with a random class (section 3.2).
    With ``multi_label``, each degradation is present independently with probability 1/2."""

    def batch_fn(batch: dict, g: torch.Generator):
        x = _augment(batch["image"], g, augment)
        if not multi_label:
            x, y = D.degrade_mixed(x, g)
            return x, y.to(x.device)
        flags = torch.rand(len(x), 3, generator=g) < 0.5  # noise, label, lowres
        out = x.clone()
        for k in (2, 0, 1):  # the order degrade("all") applies them: lowres, noise, label
            sel = flags[:, k].nonzero().flatten().to(x.device)
            if len(sel):
                out[sel] = D.degrade(out[sel], KINDS[k], g)
        return out, flags.float().to(x.device)

    return batch_fn


def restorer_batches(kinds: tuple[str, ...] = KINDS, augment: bool = True) -> Callable:
    """Batches for a ResUNet: (degraded, clean). One kind gives a CQ expert; all kinds (each image
    one drawn kind) give DQ's single model; ``("all",)`` trains on the three at once. ``augment``
    flips (``data.flip_augment``): a resampled target would teach the network to blur."""

    def batch_fn(batch: dict, g: torch.Generator):
        clean = flip_augment(batch["image"], g) if augment else batch["image"]
        which = torch.randint(len(kinds), (len(clean),), generator=g)
        noisy = clean.clone()
        for j, kind in enumerate(kinds):
            sel = (which == j).nonzero().flatten().to(clean.device)
            if len(sel):
                noisy[sel] = D.degrade(clean[sel], kind, g)
        return noisy, clean

    return batch_fn


def regression_val(images: torch.Tensor, age: torch.Tensor, batch_size: int = 64, precision: str = "fp32") -> Callable:
    """The validation MAE after each epoch (the bar's and the history's; it selects nothing, so a network
    trained in bf16 is validated in bf16, at half the cost)."""
    def val_fn(model):
        return {"val_mae": mae(predict(model, images, batch_size, precision=precision), age)}
    return val_fn


def fit_regressor(model: nn.Module, train: dict, config: TrainConfig, loss: str = "mae", val: dict | None = None,
                  qualities: tuple[str, ...] | None = None, augment: bool = True, recipe: str = "beyond",
                  map_jitter: float = 0.0, map_dilate: float = 0.5, map_radius: int = 1, **kw) -> Trainer:
    """Train BoNet+ with L_MAE or L_MSE (Table 2) under ``recipe`` (``REGRESSOR_RECIPES``; ``paper``
    also turns precise BN off); ``val`` = ``{"image", "age"}`` for the bar's MAE; ``map_jitter``,
    ``map_dilate``, ``map_radius``: ``regressor_batches``'."""
    if recipe not in REGRESSOR_RECIPES:
        raise ValueError(f"unknown BoNet+ recipe {recipe!r}; choose {', '.join(REGRESSOR_RECIPES)}")
    if recipe == "paper":
        config = dataclasses.replace(config, bn_recalibration=0)
    precision = "bf16" if config.amp_cpu and bf16_supported("cpu") else "fp32"
    val_fn = regression_val(val["image"], val["age"], precision=precision) if val is not None else None
    extra = {"task": "regressor", "loss": loss, "qualities": qualities, "recipe": recipe,
             **({"map_jitter": map_jitter, "map_dilate": map_dilate} if map_jitter else {}),
             **({"map_radius": map_radius} if map_jitter and map_radius != 1 else {}), **kw.pop("extra", {})}
    t = Trainer(model, train, regressor_batches(augment, qualities, recipe, map_jitter, map_dilate, map_radius), LOSSES[loss], config,
                val_fn=val_fn, monitor="val_mae", extra=extra, **kw)
    t.fit()
    return t


class AlignedRegressor(nn.Module):
    """BoNet+ reading one batch of ``[labelled images; k unlabelled images]``: returns the ages of the
    labelled ones and the CORAL distance (``metrics.loss_coral``) between the two parts' pooled features
    (``forward_features``). Both parts go through the same BatchNorm batch."""

    def __init__(self, model: nn.Module, k: int):
        super().__init__()
        self.model, self.k = model, k

    def forward(self, x: torch.Tensor):
        f = self.model.forward_features(x)
        n = len(x) - self.k
        return self.model.forward_head(f[:n]), loss_coral(f[:n], f[n:])


def aligned_batches(unlabelled: torch.Tensor, k: int, augment: bool = True, recipe: str = "beyond") -> Callable:
    """``regressor_batches`` with ``k`` of the ``unlabelled`` images (drawn with replacement, augmented
    the same way) appended to every batch; the targets are the labelled images' ages."""

    def batch_fn(batch: dict, g: torch.Generator):
        x = _augment_regressor(batch["image"], g, augment, recipe)
        idx = torch.randint(len(unlabelled), (k,), generator=g)
        u = _augment_regressor(unlabelled[idx].to(x.device), g, augment, recipe)
        return torch.cat([x, u]), batch["age"].float()

    return batch_fn


def fit_regressor_aligned(model: nn.Module, train: dict, unlabelled: torch.Tensor, config: TrainConfig,
                          weight: float = 1.0, k: int = 16, **kw) -> Trainer:
    """BoNet+ trained with L_MAE (eq. 5) on ``train`` plus ``weight`` x the CORAL distance between its
    features of ``train``'s images and of ``k`` ``unlabelled`` images per batch (images of the domain it
    will read, no label used): unsupervised domain adaptation (chapter 11). ``weight`` 0 is plain training
    with ``k`` extra images in each BatchNorm batch."""

    def loss(out, y):
        age, align = out
        return loss_mae(age.float(), y) + weight * align

    t = Trainer(AlignedRegressor(model, k), train, aligned_batches(unlabelled, k), loss, config,
                extra={"task": "regressor", "loss": "mae+coral", "align_weight": weight, "align_k": k,
                       **kw.pop("extra", {})}, **kw)
    t.fit()
    return t


def fit_classifier(model: nn.Module, train: dict, config: TrainConfig, augment: bool = True, **kw) -> Trainer:
    """Train the quality classifier with cross-entropy (or BCE for the multi-label view)."""
    ml = getattr(model, "multi_label", False)
    loss = nn.BCEWithLogitsLoss() if ml else nn.CrossEntropyLoss()
    t = Trainer(model, train, classifier_batches(augment, ml), lambda out, y: loss(out, y.to(out.device)), config,
                extra={"task": "classifier", **kw.pop("extra", {})}, **kw)
    t.fit()
    return t


RESTORER_LOSSES: dict[str, Callable] = {"l1": F.l1_loss, "mse": F.mse_loss}


def fit_restorer(model: nn.Module, train: dict, config: TrainConfig, kinds: tuple[str, ...] = KINDS,
                 augment: bool = True, loss: str = "l1", **kw) -> Trainer:
    """Train a ResUNet to restore ``kinds`` (one kind: a CQ expert; all three: DQ).

    ``loss``: the paper (section 3.3.1) names none; its residual design follows DnCNN [24], which
    uses the MSE. We default to L1: where the degraded image leaves fine detail uncertain (a small
    ossification centre under 4x low resolution), the MSE's optimum is the mean of the candidates,
    a blur, and BoNet+ reads blur as a younger hand; L1's optimum is their median, which keeps edges.
    ``loss="mse"`` trains DnCNN's way."""
    if loss not in RESTORER_LOSSES:
        raise ValueError(f"unknown restorer loss {loss!r}; choose one of {', '.join(RESTORER_LOSSES)}")
    t = Trainer(model, train, restorer_batches(kinds, augment), RESTORER_LOSSES[loss], config,
                extra={"task": "restorer", "kinds": list(kinds), "loss": loss, **kw.pop("extra", {})}, **kw)
    t.fit()
    return t


def segmenter_batches(augment: bool = True, gamma_sd: float = 0.3, noise: float = 0.03, blur: float = 0.0,
                      zoom: float = 0.0) -> Callable:
    """Batches for the bone segmenter: (image, its masks). ``augment`` varies the exposure of each image
    (gamma, log-normal with SD ``gamma_sd``; Gaussian noise of SD up to ``noise``) and nothing of its
    geometry, so the masks stay where the bones are. ``blur`` > 0 also blurs half the images (``blur_augment``,
    sigma up to ``blur`` px) while their masks stay sharp: the segmenter learns to find a bone whose edges a
    detector or a downsampled film has softened. ``zoom`` > 0 warps half the images with their masks (section
    4.1's rotation and shift, zoom from ``zoom`` to 1.1): bones thinner in the frame than the phantom's."""

    def batch_fn(batch: dict, g: torch.Generator):
        x, m = batch["image"], batch["masks"].float()
        if augment and zoom > 0:
            xm = geometric_augment(torch.cat([x, m], 1), g, zoom=(zoom, 1.1), p_warp=P_WARP)
            x, m = xm[:, : x.shape[1]], xm[:, x.shape[1]:]
        if augment:
            n = len(x)
            gam = torch.exp(gamma_sd * torch.randn(n, 1, 1, 1, generator=g)).to(x.device)
            sd = (noise * torch.rand(n, 1, 1, 1, generator=g)).to(x.device)
            x = x.clamp(0, 1) ** gam + sd * torch.randn(x.shape, generator=g).to(x.device)
            if blur > 0:
                x = blur_augment(x, g, max_sigma=blur)
        return x, m

    return batch_fn


def _bce_dice(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, masks) + loss_soft_dice(logits, masks)


# The segmenter's losses: per-pixel cross-entropy alone, or with the soft Dice beside it (the pairing
# MONAI's DiceCELoss makes), which keeps a map of few pixels from being learned as empty.
SEGMENTER_LOSSES = {"bce": F.binary_cross_entropy_with_logits, "bce_dice": _bce_dice}


def fit_segmenter(model: nn.Module, train: dict, config: TrainConfig, augment: bool = True, loss: str = "bce",
                  blur: float = 0.0, zoom: float = 0.0, **kw) -> Trainer:
    """Train a ``BoneSegmenter`` on phantoms ``{"image", "masks"}`` with ``loss`` (``SEGMENTER_LOSSES``): a
    per-pixel binary cross-entropy, with or without the soft Dice; ``blur``, ``zoom``: ``segmenter_batches``'."""
    if loss not in SEGMENTER_LOSSES:
        raise ValueError(f"unknown segmenter loss {loss!r}; choose one of {', '.join(SEGMENTER_LOSSES)}")
    extra = {"task": "segmenter", "loss": loss, **({"blur": blur} if blur else {}), **({"zoom": zoom} if zoom else {}),
             **kw.pop("extra", {})}
    t = Trainer(model, train, segmenter_batches(augment, blur=blur, zoom=zoom), SEGMENTER_LOSSES[loss], config,
                extra=extra, **kw)
    t.fit()
    return t
