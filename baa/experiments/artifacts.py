"""The one rule for artifacts: where they live (``artifacts/<profile>/``), the phantom's data version,
and train-or-reuse for checkpoints: a checkpoint is reused only when it was trained to the end under
the same profile and data version; otherwise it is trained again (or resumed, if interrupted).

Layer: experiments.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import torch

from baa import phantom
from baa.data import prepare as prepare_module
from baa.data.real import data_tag
from baa.profiles import Profile
from baa.train import Trainer

PREPROCESSING = "normalize_images(0.5, 99.5)"  # part of data_version: cached data made otherwise is stale


def artifacts_root() -> Path:
    """``$BAA_ARTIFACTS``, else ``artifacts/`` at the repository root (for an editable install),
    else ``./artifacts``."""
    if os.environ.get("BAA_ARTIFACTS"):
        return Path(os.environ["BAA_ARTIFACTS"])
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").exists():
        return repo / "artifacts"
    return Path.cwd() / "artifacts"


def artifact_dir(p: Profile) -> Path:
    """The run's folder: ``data/``, ``models/``, ``results/`` and ``bench.json``:
    ``artifacts/<profile>/`` on the phantom, ``artifacts/<profile>/<data tag>/`` on a real dataset
    (``data.real.data_tag``), so phantom and real models never mix and a changed label file is a
    new tag."""
    root = artifacts_root() / p.name
    return root if p.data.phantom else root / data_tag(p.data)


def data_version(p: Profile) -> str:
    """A tag of the phantom's code and configuration: cached images and the models trained on them
    are reused only while it is unchanged."""
    if not p.data.phantom:  # the real dataset's tag and the preparation's code
        src = (data_tag(p.data) + str(p.image_size)).encode() + Path(prepare_module.__file__).read_bytes()
        return hashlib.sha1(src).hexdigest()[:10]
    src = (phantom.code_version() + repr(phantom.PhantomConfig(size=p.image_size)) + PREPROCESSING).encode()
    return hashlib.sha1(src).hexdigest()[:10]


def finished_checkpoint(path: Path, p: Profile, identity: dict | None = None) -> dict | None:
    """The checkpoint at ``path`` when it was trained to the end under this profile and data
    version, and its ``extra`` holds ``identity`` (e.g. ``{"recipe": "paper"}``); ``None`` otherwise
    (a stale one, from another profile, phantom or recipe, is deleted)."""
    if not path.exists():
        return None
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    extra = ckpt.get("extra", {})
    if extra.get("profile") != p.to_dict() or extra.get("data_version") != data_version(p) or \
            any(extra.get(k) != v for k, v in (identity or {}).items()):
        path.unlink()
        return None
    return ckpt if ckpt["epoch"] >= ckpt["config"]["epochs"] else None


def train_or_load(path: Path, p: Profile, build: Callable[[], torch.nn.Module],
                  fit: Callable[..., Trainer], identity: dict | None = None) -> tuple[torch.nn.Module, list]:
    """``build()``'s network loaded from ``path`` when it was trained to the end under this profile
    (and ``identity``, see ``finished_checkpoint``); otherwise ``fit(model, checkpoint=, extra=)``
    (re)trains it, resuming an interrupted run of the same profile. Returns the model in eval mode
    and its training history."""
    model = build()
    ckpt = finished_checkpoint(path, p, identity)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        return model.eval(), ckpt["history"]
    trainer = fit(model, checkpoint=path, extra={"profile": p.to_dict(), "data_version": data_version(p), "name": path.stem})
    return trainer.model.eval(), trainer.history
