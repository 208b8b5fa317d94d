"""The in-memory dataset every experiment uses, phantom or real.

Layer: data.
"""

from __future__ import annotations
from dataclasses import dataclass, field
from typing import Any
import numpy as np
import torch


AGE_RANGE_YEARS = (0.0, 20.0)  # DHA: 0-18 (paper: 0-19); RSNA: 0-19 years


@dataclass


class BoneAgeData:
    """A dataset in memory, the common currency of phantom and real data.

    ``images`` (N,1,S,S) float32 in [0,1] (paper Table 1: S=256); ``age`` (N,) ground-truth bone
    age in years (DHA: mean of the two readings, paper section 4.1); ``male`` (N,) 1/0, NaN when
    unknown; ``ids`` one string per image; ``source`` where it came from (``"phantom"``,
    ``"rsna:/path"``, ``"dha:/path"``, ``"csv:/path"``). ``extra`` holds optional per-image
    lists (e.g. ``"path"``, ``"race"``) that :meth:`subset` keeps aligned.
    """

    images: torch.Tensor
    age: torch.Tensor
    male: torch.Tensor
    ids: list[str]
    source: str
    extra: dict[str, list] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(f"images must be (N,1,S,S), got {tuple(self.images.shape)}")
        if self.age.shape != (n,) or self.male.shape != (n,) or len(self.ids) != n:
            raise ValueError(
                f"inconsistent lengths: images {n}, age {tuple(self.age.shape)}, "
                f"male {tuple(self.male.shape)}, ids {len(self.ids)}"
            )
        for k, v in self.extra.items():
            if len(v) != n:
                raise ValueError(f"extra[{k!r}] has {len(v)} entries for {n} images")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, idx: Any) -> "BoneAgeData":
        """The images at ``idx`` (ints, a bool mask, a slice, a numpy array or a tensor)."""
        if isinstance(idx, slice):
            index = torch.arange(len(self))[idx]
        else:
            index = torch.as_tensor(np.asarray(idx.cpu() if torch.is_tensor(idx) else idx))
            if index.dtype == torch.bool:
                index = torch.nonzero(index, as_tuple=False).flatten()
            index = index.long().flatten()
        pos = index.tolist()
        dev = self.images.device
        return BoneAgeData(
            images=self.images[index.to(dev)],
            age=self.age[index.to(self.age.device)],
            male=self.male[index.to(self.male.device)],
            ids=[self.ids[i] for i in pos],
            source=self.source,
            extra={k: [v[i] for i in pos] for k, v in self.extra.items()},
        )

    def tensors(self) -> dict[str, torch.Tensor]:
        """``{"image", "age", "male"}``: what the trainers take."""
        return {"image": self.images, "age": self.age, "male": self.male}

    def to(self, device: Any) -> "BoneAgeData":
        return BoneAgeData(
            images=self.images.to(device),
            age=self.age.to(device),
            male=self.male.to(device),
            ids=list(self.ids),
            source=self.source,
            extra={k: list(v) for k, v in self.extra.items()},
        )
