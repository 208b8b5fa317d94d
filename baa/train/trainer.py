"""One trainer for every network: Adam (section 4.1), checkpoints that hold model, optimizer, config
and history and resume exactly, DDP, and batched prediction.

Layer: train.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
import torch.nn as nn
from tqdm.auto import tqdm

from baa.data.augment import tta_views
from baa.io.atomic import save_torch
from baa.models import build_model
from baa.train.device import pick_device


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
    amp_cpu: bool = False  # bf16 autocast on the CPU (always on CUDA): ~2x with AMX or AVX512-BF16, emulated (slow) elsewhere
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
    """Train ``model`` on the tensors in ``data`` (a dict of equal-length tensors, or a
    ``BoneAgeData``).

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
            self.data = self.data.tensors()
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
        return self.device.type == "cuda" or (cfg.amp_cpu and self.device.type == "cpu")

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
        bns, saved = _cumulative_bn(self.model)
        if not bns:
            return
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


@torch.no_grad()
def adapt_batchnorm(model: nn.Module, images: torch.Tensor, batch_size: int = 64) -> nn.Module:
    """AdaBN (Li et al., 2016, "Revisiting batch normalization for practical domain adaptation"): a copy
    of ``model`` whose BatchNorm running statistics are the average of their batch statistics over ``images``, unlabelled
    images of the domain it will read; the weights are unchanged. Chapter 11 measures it on real films
    for a phantom-trained BoNet+. Returns the copy in eval mode; ``model`` is untouched."""
    out = copy.deepcopy(model).cpu()
    bns, saved = _cumulative_bn(out)
    out.train()
    for i in range(0, len(images), batch_size):
        out(images[i:i + batch_size].float())
    for m, mom in zip(bns, saved):
        m.momentum = mom
    return out.eval()


def _cumulative_bn(model: nn.Module) -> tuple[list, list]:
    """``model``'s BatchNorm layers with their running statistics reset to a cumulative average (momentum
    None) for the forward passes that follow; returns ``(layers, their momenta)`` to put back."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    return bns, saved


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write atomically: a crash never leaves half a checkpoint behind."""
    save_torch(state, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the network stored in a checkpoint; returns ``(model in eval mode, checkpoint dict)``."""
    ckpt = torch.load(path, map_location=device, weights_only=False)
    model = build_model(ckpt["spec"])
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), ckpt


# Images per forward pass on the CPU: a small batch stays in the cache. Measured for the cpu profile's
# BoNet+ (96 px, 2 cores, 16 views of 128 images): 32 per pass 8.9 s, 1024 per pass 18.1 s.
CPU_FORWARD_IMAGES = 32


@torch.inference_mode()


def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 64, device: str | torch.device = "auto",
            progress: bool = False, precision: str = "fp32", tta: int = 0) -> torch.Tensor:
    """Run ``model`` over ``images`` in batches; returns the outputs concatenated on the CPU as float32.

    ``tta`` > 1: each output is the mean over ``tta`` views of its image (``data.tta_views``: the
    image and ``tta - 1`` fixed warps of the training augmentation), for a regressor or classifier.

    ``precision="bf16"``: bf16 autocast on a GPU; on the CPU a bf16 copy of the model is fed bf16
    input (oneDNN's bf16 convolutions, about 2x fp32 where the CPU has AVX512-BF16 or AMX;
    ``baa bench`` measures the speed and the change in predicted age)."""
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be 'fp32' or 'bf16', not {precision!r}")
    device = pick_device(device)
    model = model.to(device).eval()
    if device.type == "cpu":  # views included, at most CPU_FORWARD_IMAGES per forward pass (same outputs)
        batch_size = max(1, min(batch_size, CPU_FORWARD_IMAGES // max(1, tta)))
    cpu_bf16 = precision == "bf16" and device.type == "cpu"
    if cpu_bf16:
        model = copy.deepcopy(model).to(torch.bfloat16)
    outs = []
    for i in tqdm(range(0, len(images), batch_size), disable=not progress, desc="predict", leave=False):
        x = images[i:i + batch_size].to(device)
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
