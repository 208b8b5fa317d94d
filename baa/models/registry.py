"""Building a network from a checkpoint's spec; counting parameters and layers.

Layer: models.
"""

from __future__ import annotations
import torch.nn as nn
from baa.models.bonet import BoNetPlus
from baa.models.quality import QualityClassifier
from baa.models.resunet import BoneSegmenter, ResUNet, UpConv


MODELS = {"BoNetPlus": BoNetPlus, "ResUNet": ResUNet, "QualityClassifier": QualityClassifier, "BoneSegmenter": BoneSegmenter}


def build_model(spec: dict) -> nn.Module:
    """Rebuild a network from its ``spec`` (``{"name": ..., "kwargs": ...}``), as stored in checkpoints."""
    return MODELS[spec["name"]](**spec["kwargs"])


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_layers(model: nn.Module) -> dict[str, int]:
    """Conv layers (up-convolutions counted apart), max pools, up-convolutions and concatenations
    (one per decoder level) of a ``ResUNet``, as section 3.3.1 counts them."""
    ups = [m for m in model.modules() if isinstance(m, UpConv)]
    up_convs = {id(m.conv) for m in ups}
    convs = sum(1 for m in model.modules() if isinstance(m, nn.Conv2d) and id(m) not in up_convs)
    pools = len(getattr(model, "down", [])) if isinstance(model, ResUNet) else sum(isinstance(m, nn.MaxPool2d) for m in model.modules())
    return {"conv": convs, "max_pool": pools, "up_conv": len(ups), "concat": len(getattr(model, "dec", []))}
