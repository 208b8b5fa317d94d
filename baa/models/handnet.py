"""The hand classifier of the hand check (issue 21, beyond the paper): is the network's input a hand
radiograph? A small CNN on the prepared 64-pixel input, one logit.

Layer: models.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class HandClassifier(nn.Module):
    """Four 3x3 convolution blocks (convolution, BatchNorm, ReLU, 2x2 max pool) of ``widths``
    channels, global average pooling, dropout and one linear logit: > 0 reads "a hand radiograph".
    Input (B, 1, S, S) as ``baa.data.prepare`` makes it; any S divisible by 16."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 64), dropout: float = 0.3):
        super().__init__()
        self.spec = {"name": "HandClassifier", "kwargs": dict(widths=tuple(widths), dropout=dropout)}
        layers, ch = [], 1
        for w in widths:
            layers += [nn.Conv2d(ch, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            ch = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, S, S) -> (B,) logits."""
        return self.head(self.features(x)).squeeze(1)
