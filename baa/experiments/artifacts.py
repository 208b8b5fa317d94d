"""The one rule for artifacts: where they live (``artifacts/<profile>/``), the phantom's data version,
and train-or-reuse for checkpoints (reused only when trained to the end under the same profile and
data version).

Layer: experiments.
"""

from __future__ import annotations
from baa import phantom
import hashlib
import os
from pathlib import Path
import torch
from baa.profiles import Profile, get_profile
from baa.train import (Trainer)




def artifacts_root() -> Path:
    """``$BAA_ARTIFACTS``, else ``artifacts/`` at the repository root (for an editable install),
    else ``./artifacts``."""
    if os.environ.get("BAA_ARTIFACTS"):
        return Path(os.environ["BAA_ARTIFACTS"])
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").exists():
        return repo / "artifacts"
    return Path.cwd() / "artifacts"



def artifact_dir(profile: str | Profile | None = None) -> Path:
    return artifacts_root() / get_profile(profile).name



PREPROCESSING = "normalize_images(0.5, 99.5)"  # part of data_version: cached data made otherwise is stale



def data_version(profile: str | Profile | None = None) -> str:
    """A tag of the phantom's code and configuration: cached images and the models trained on them
    are reused only while it is unchanged."""
    p = get_profile(profile)
    src = (phantom.code_version() + repr(phantom.PhantomConfig(size=p.image_size)) + PREPROCESSING).encode()
    return hashlib.sha1(src).hexdigest()[:10]



def _finished(path: Path, p: Profile) -> dict | None:
    """The checkpoint at ``path`` when it was trained to the end under this profile and data
    version; ``None`` otherwise (a stale one, from another profile or phantom, is deleted)."""
    if not path.exists():
        return None
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    extra = ckpt.get("extra", {})
    if extra.get("profile") != p.to_dict() or extra.get("data_version") != data_version(p):
        path.unlink()
        return None
    return ckpt if ckpt["epoch"] >= ckpt["config"]["epochs"] else None



def _train_or_load(path: Path, p: Profile, build, fit, **fit_kw) -> tuple[torch.nn.Module, list]:
    """Load ``path`` when it was trained to the end under this profile; otherwise (re)train
    (resuming an interrupted run of the same profile)."""
    model = build()
    ckpt = _finished(path, p)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        return model.eval(), ckpt["history"]
    trainer: Trainer = fit(model, checkpoint=path, extra={"profile": p.to_dict(), "data_version": data_version(p),
                                                          "name": path.stem}, **fit_kw)
    return trainer.model.eval(), trainer.history
