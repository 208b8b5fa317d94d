"""The VGG quality classifier that routes each image to its expert (section 3.2, Fig. 7).

Layer: models.
"""

from __future__ import annotations
import torch
import torch.nn as nn
from baa.paper import QUALITIES
from baa.models.bonet import _c


# VGG-16's convolutional configuration (Simonyan & Zisserman [22]); "M" is a 2x2/2 max pool.
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class QualityClassifier(nn.Module):
    """VGG-based quality classifier (section 3.2, Fig. 7): grey input, VGG-16 convolutions, two
    hidden fully connected layers and a last fully connected layer of 4 outputs (high quality,
    Poisson noise, label, low resolution) for a softmax with cross-entropy.

    Args:
        width: multiplies every channel count and the hidden layer size (VGG-16 at 1.0).
        hidden: hidden units of the two fully connected layers; VGG: 4096.
        multi_label: beyond the paper; three sigmoid outputs (noise, label, low resolution) for
            images with several degradations at once (train with ``BCEWithLogitsLoss``).
    """

    def __init__(self, width: float = 1.0, hidden: int | None = None, n_classes: int = len(QUALITIES),
                 multi_label: bool = False, dropout: float = 0.5):
        super().__init__()
        self.spec = {"name": "QualityClassifier", "kwargs": dict(width=width, hidden=hidden, n_classes=n_classes,
                                                                 multi_label=multi_label, dropout=dropout)}
        layers, ch = [], 1
        for v in VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(ch, _c(v, width), 3, padding=1), nn.BatchNorm2d(_c(v, width)), nn.ReLU(inplace=True)]
                ch = _c(v, width)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(7)  # as torchvision's VGG: any input size works
        hidden = hidden or _c(4096, width)
        self.multi_label = multi_label
        self.classes = QUALITIES[1:] if multi_label else QUALITIES[:n_classes]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(ch * 49, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(hidden, len(self.classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))  # (B, 4) logits (or 3 with multi_label)
