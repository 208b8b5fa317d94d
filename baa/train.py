"""One small training loop for every network (section 4.1), in the manner of minGPT's trainer.

``Trainer`` runs Adam (beta1 0.9, beta2 0.9999, eps 1e-8) over in-memory tensors, picks the device
(cuda -> mps -> cpu), uses channels_last everywhere and bf16 autocast on CUDA (on the CPU when asked), shows ``tqdm.auto``
bars with the loss and the validation metric, keeps a history, and writes checkpoints (model,
optimizer, config, history) that resume exactly: every epoch's randomness (batch order,
augmentation, degradations, dropout) is seeded from ``(seed, epoch)``, so a run resumed after epoch
``k`` continues with the same bits as one never interrupted.

The three tasks of the paper are thin wrappers: ``fit_regressor`` (BoNet+, L_MAE or L_MSE, eq. 5-6),
``fit_classifier`` (VGG quality classifier, cross-entropy) and ``fit_restorer`` (ResUNet,
restoring degraded images; the paper gives no loss: we use L1, see ``fit_restorer``).
Under ``torchrun`` the same loop trains with DistributedDataParallel (NCCL on GPUs, gloo on CPU).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from baa import degrade as D
from baa.metrics import LOSSES, mae
from baa.models import build_model


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``auto``: cuda if available, then Apple's mps, else cpu."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_supported(device: str | torch.device = "cpu") -> bool:
    """Whether ``device`` runs bf16 arithmetic natively (CUDA with bf16; on the CPU, oneDNN's bf16
    kernels: AVX512-BF16 or AMX). Elsewhere bf16 is emulated and slower than fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@dataclass
class TrainConfig:
    """Optimiser and loop settings. Defaults are section 4.1's for the regressor."""

    epochs: int = 10
    batch_size: int = 20  # regressor 20, classifier 16, ResUNet 8 (section 4.1)
    lr: float = 1e-4  # regressor 1e-4, classifier and ResUNet 2e-4 (section 4.1)
    betas: tuple[float, float] = (0.9, 0.9999)  # section 4.1
    eps: float = 1e-8  # section 4.1
    weight_decay: float = 0.0
    schedule: str = "constant"  # the paper names none; "cosine" converges in fewer epochs
    seed: int = 0
    device: str = "auto"
    channels_last: bool = True  # faster convolutions on CPU and GPU alike (measured in the bench)
    amp: bool = True  # bf16 autocast on CUDA
    amp_cpu: bool = False  # bf16 autocast on the CPU too: ~2x with AMX or AVX512-BF16, emulated (slow) elsewhere
    bn_recalibration: int = 32  # batches for "precise BN" after training (0: off); see Trainer.recalibrate_bn
    progress: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _seeded(seed: int, epoch: int, salt: int = 0) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + epoch * 7919 + salt) % (2**63))
    return g


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@dataclass
class Trainer:
    """Train ``model`` on the tensors in ``data`` (a dict of equal-length tensors, or an object with
    ``images``, ``age`` and ``male``).

    Args:
        batch_fn: ``(batch dict, generator) -> (inputs, targets)`` on the device: augmentation and
            degradations happen here, seeded per epoch.
        loss_fn: ``(model outputs, targets) -> scalar``.
        val_fn: ``(model) -> dict`` of metrics after each epoch; ``monitor`` names the one on the bar.
        callbacks: ``(trainer, record)`` after each epoch (plots, early stopping, logging).
        checkpoint: path written after every epoch (atomically) and at the end; resumed from if it
            exists and ``resume`` is true.
    """

    model: nn.Module
    data: dict
    batch_fn: Callable
    loss_fn: Callable
    config: TrainConfig = field(default_factory=TrainConfig)
    val_fn: Callable | None = None
    monitor: str | None = None
    callbacks: list = field(default_factory=list)
    checkpoint: str | Path | None = None
    resume: bool = True
    extra: dict = field(default_factory=dict)  # stored in the checkpoint (task, profile, ...)

    def __post_init__(self):
        if not isinstance(self.data, dict):
            self.data = {"image": self.data.images, "age": self.data.age, "male": self.data.male}
        self.n = len(next(iter(self.data.values())))
        self.device = pick_device(self.config.device)
        self.model.to(self.device)
        if self.config.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr, betas=self.config.betas,
                                          eps=self.config.eps, weight_decay=self.config.weight_decay)
        self.history: list[dict] = []
        self.epoch = 0
        self.rank, self.world = _world()
        self.ddp = None
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if self.checkpoint and self.resume and Path(self.checkpoint).exists():
            self.load_state(torch.load(self.checkpoint, map_location=self.device, weights_only=False))

    # -- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "spec": getattr(self.model, "spec", None), "config": self.config.to_dict(),
                "history": self.history, "epoch": self.epoch, "extra": self.extra}

    def load_state(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.history, self.epoch = list(ckpt["history"]), int(ckpt["epoch"])

    def save(self, path: str | Path | None = None) -> None:
        path = Path(path or self.checkpoint)
        if self.rank != 0:
            return  # written once, by rank 0
        save_checkpoint(self.state(), path)

    # -- the loop ----------------------------------------------------------------------------
    def _lr(self, epoch: int, step: int, steps: int) -> float:
        if self.config.schedule == "cosine":
            t = (epoch + step / steps) / max(1, self.config.epochs)
            return self.config.lr * 0.5 * (1 + math.cos(math.pi * t))
        return self.config.lr

    def _amp(self) -> bool:
        cfg = self.config
        return (cfg.amp and self.device.type == "cuda") or (cfg.amp_cpu and self.device.type == "cpu")

    def fit(self) -> list[dict]:
        cfg = self.config
        net = self.ddp or self.model
        bs = cfg.batch_size
        steps = max(1, self.n // bs)  # drop the ragged last batch: BatchNorm needs > 1 sample
        use_amp = self._amp()
        bar = tqdm(range(self.epoch, cfg.epochs), desc=self.extra.get("name", "train"), initial=self.epoch,
                   total=cfg.epochs, disable=not cfg.progress or self.rank != 0, leave=True)
        for epoch in bar:
            torch.manual_seed(cfg.seed * 1_000_003 + epoch)  # dropout
            g = _seeded(cfg.seed, epoch)
            order = torch.randperm(self.n, generator=g)  # the same on every rank
            if self.world > 1:  # but each rank draws its own augmentations and degradations
                g = _seeded(cfg.seed, epoch, salt=1 + self.rank)
            net.train()
            t0, total, seen = time.perf_counter(), 0.0, 0
            for step in range(steps):
                idx = order[step * bs:(step + 1) * bs]
                idx = idx[self.rank::self.world]  # this rank's share of the global batch
                batch = {k: v[idx].to(self.device, non_blocking=True) for k, v in self.data.items()}
                inputs, targets = self.batch_fn(batch, g)
                if cfg.channels_last and inputs.dim() == 4:
                    inputs = inputs.contiguous(memory_format=torch.channels_last)
                for group in self.optimizer.param_groups:
                    group["lr"] = self._lr(epoch, step, steps)
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_amp):
                    out = net(inputs)
                loss = self.loss_fn(out.float() if torch.is_tensor(out) else out, targets)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                total += float(loss.detach()) * len(idx)
                seen += len(idx)
            seconds = time.perf_counter() - t0
            record = {"epoch": epoch + 1, "loss": total / max(1, seen), "seconds": seconds,
                      "images_per_s": seen * self.world / max(seconds, 1e-9)}
            if self.val_fn is not None:
                self.model.eval()
                record.update(self.val_fn(self.model))
            self.history.append(record)
            self.epoch = epoch + 1
            if self.monitor and self.monitor in record:
                bar.set_postfix(loss=f"{record['loss']:.3f}", **{self.monitor: f"{record[self.monitor]:.3f}"})
            else:
                bar.set_postfix(loss=f"{record['loss']:.3f}")
            for cb in self.callbacks:
                cb(self, record)
            if self.checkpoint:
                self.save()
        if cfg.bn_recalibration and self.epoch >= cfg.epochs:
            self.recalibrate_bn(cfg.bn_recalibration)
            if self.checkpoint:
                self.save()
        self.model.eval()
        return self.history

    @torch.no_grad()
    def recalibrate_bn(self, n_batches: int) -> None:
        """"Precise BN": replace BatchNorm's running statistics by their exact average over
        ``n_batches`` training batches of the final weights. After a short schedule the exponential
        running averages still remember the first steps, and an eval-mode network then collapses
        to one output for every input; the recomputed statistics match what the weights expect.
        Seeded like an epoch (epoch index = ``epochs``), so it is the same on every re-run."""
        bns = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not bns:
            return
        saved = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        g = _seeded(self.config.seed, self.config.epochs, salt=1 + self.rank)
        order = torch.randperm(self.n, generator=g)
        bs = self.config.batch_size
        self.model.train()
        use_amp = self._amp()
        for step in range(min(n_batches, max(1, self.n // bs))):
            idx = order[step * bs:(step + 1) * bs]
            batch = {k: v[idx].to(self.device) for k, v in self.data.items()}
            inputs, _ = self.batch_fn(batch, g)
            if self.config.channels_last and inputs.dim() == 4:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_amp):
                self.model(inputs)
        for m, mom in zip(bns, saved):
            m.momentum = mom
        self.model.eval()


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write atomically: a crash never leaves half a checkpoint behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the network stored in a checkpoint; returns ``(model in eval mode, checkpoint dict)``."""
    ckpt = torch.load(path, map_location=device, weights_only=False)
    model = build_model(ckpt["spec"])
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 64, device: str | torch.device = "auto",
            transform: Callable | None = None, progress: bool = False, precision: str = "fp32",
            tta: int = 0) -> torch.Tensor:
    """Run ``model`` over ``images`` in batches (``transform`` first, e.g. a degradation); returns
    the outputs concatenated on the CPU as float32.

    ``tta`` > 1: each output is the mean over ``tta`` views of its image (``data.tta_views``: the
    image and ``tta - 1`` fixed warps of the training augmentation), for a regressor or classifier.

    ``precision="bf16"``: bf16 autocast on a GPU; on the CPU a bf16 copy of the model is fed bf16
    input (oneDNN's bf16 convolutions, about 2x fp32 where the CPU has AVX512-BF16 or AMX;
    ``baa bench`` measures the speed and the change in predicted age)."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', not {precision!r}")
    device = pick_device(device)
    model = model.to(device).eval()
    cpu_bf16 = precision == "bf16" and device.type == "cpu"
    if cpu_bf16:
        model = copy.deepcopy(model).to(torch.bfloat16)
    if tta > 1:
        from baa.data import tta_views
    outs = []
    for i in tqdm(range(0, len(images), batch_size), disable=not progress, desc="predict", leave=False):
        x = images[i:i + batch_size].to(device)
        if transform is not None:
            x = transform(x, i)
        n = len(x)
        if tta > 1:
            x = tta_views(x, tta)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16" and not cpu_bf16):
            out = model(x.to(torch.bfloat16) if cpu_bf16 else x)
        if tta > 1:
            out = out.float().view(tta, n, *out.shape[1:]).mean(0)
        outs.append(out.float().cpu() if torch.is_tensor(out) else out)
    return torch.cat(outs)


# -- the paper's three training tasks -----------------------------------------------------------

def _augment(x: torch.Tensor, g: torch.Generator, on: bool) -> torch.Tensor:
    if not on:
        return x
    from baa.data import augment  # random rotation, shift and zoom (section 4.1)
    return augment(x, generator=g)


def _augment_regressor(x: torch.Tensor, g: torch.Generator, on: bool) -> torch.Tensor:
    """BoNet+'s augmentation: section 4.1's warp on a share ``data.P_WARP`` of the images, then a
    random blur (``data.blur_augment``): sharpness is not age. The classifier warps every image
    and is not blurred: blur is what its "lowres" class looks like."""
    if not on:
        return x
    from baa.data import P_WARP, augment, blur_augment
    return blur_augment(augment(x, generator=g, p_warp=P_WARP), generator=g)


def regressor_batches(augment: bool = True, qualities: tuple[str, ...] | None = None) -> Callable:
    """Batches for BoNet+: augmented images -> age in years. ``qualities`` (e.g. all four classes)
    degrades each image with one drawn quality, as NQ is trained (section 3.3)."""

    def batch_fn(batch: dict, g: torch.Generator):
        x = _augment_regressor(batch["image"], g, augment)
        if qualities:
            x, _ = D.degrade_mixed(x, g, qualities)
        return x, batch["age"].float()

    return batch_fn


def classifier_batches(augment: bool = True, multi_label: bool = False, size: int | None = None) -> Callable:
    """Batches for the quality classifier: each image degraded with a random class (section 3.2).
    With ``multi_label``, each degradation is present independently with probability 1/2.
    ``size``: area-resize after degrading, for a classifier that looks at a smaller image."""

    def shrink(x: torch.Tensor) -> torch.Tensor:
        return x if not size or x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="area")

    def batch_fn(batch: dict, g: torch.Generator):
        x = _augment(batch["image"], g, augment)
        if not multi_label:
            x, y = D.degrade_mixed(x, g)
            return shrink(x), y.to(x.device)
        flags = torch.rand(len(x), 3, generator=g) < 0.5  # noise, label, lowres
        out = x.clone()
        for k in (2, 0, 1):  # the order degrade("all") applies them: lowres, noise, label
            sel = flags[:, k].nonzero().flatten().to(x.device)
            if len(sel):
                out[sel] = D.degrade(out[sel], D.KINDS[k], g)
        return shrink(out), flags.float().to(x.device)

    return batch_fn


def restorer_batches(kinds: tuple[str, ...] = D.KINDS, augment: bool = True) -> Callable:
    """Batches for a ResUNet: (degraded, clean). One kind gives a CQ expert; all kinds (each image
    one drawn kind) give DQ's single model; ``("all",)`` trains on the three at once. ``augment``
    flips (``data.flip_augment``): a resampled target would teach the network to blur."""

    def batch_fn(batch: dict, g: torch.Generator):
        from baa.data import flip_augment

        clean = flip_augment(batch["image"], g) if augment else batch["image"]
        which = torch.randint(len(kinds), (len(clean),), generator=g)
        noisy = clean.clone()
        for j, kind in enumerate(kinds):
            sel = (which == j).nonzero().flatten().to(clean.device)
            if len(sel):
                noisy[sel] = D.degrade(clean[sel], kind, g)
        return noisy, clean

    return batch_fn


def regression_val(images: torch.Tensor, age: torch.Tensor, batch_size: int = 64) -> Callable:
    def val_fn(model):
        return {"val_mae": mae(predict(model, images, batch_size), age)}
    return val_fn


def fit_regressor(model: nn.Module, train: dict, config: TrainConfig, loss: str = "mae", val: dict | None = None,
                  qualities: tuple[str, ...] | None = None, augment: bool = True, **kw) -> Trainer:
    """Train BoNet+ with L_MAE or L_MSE (Table 2); ``val`` = ``{"image", "age"}`` for the bar's MAE."""
    val_fn = regression_val(val["image"], val["age"]) if val is not None else None
    t = Trainer(model, train, regressor_batches(augment, qualities), LOSSES[loss], config, val_fn=val_fn,
                monitor="val_mae", extra={"task": "regressor", "loss": loss, "qualities": qualities, **kw.pop("extra", {})}, **kw)
    t.fit()
    return t


def fit_classifier(model: nn.Module, train: dict, config: TrainConfig, augment: bool = True, size: int | None = None,
                   **kw) -> Trainer:
    """Train the quality classifier with cross-entropy (or BCE for the multi-label view)."""
    ml = getattr(model, "multi_label", False)
    loss = nn.BCEWithLogitsLoss() if ml else nn.CrossEntropyLoss()
    t = Trainer(model, train, classifier_batches(augment, ml, size), lambda out, y: loss(out, y.to(out.device)), config,
                extra={"task": "classifier", **kw.pop("extra", {})}, **kw)
    t.fit()
    return t


RESTORER_LOSSES: dict[str, Callable] = {"l1": F.l1_loss, "mse": F.mse_loss}


def fit_restorer(model: nn.Module, train: dict, config: TrainConfig, kinds: tuple[str, ...] = D.KINDS,
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
