"""The pipelines of Fig. 10: plain BoNet+ (and NQ), DQ (one ResUNet for all), CQ (the classifier
routes each image to its expert).

Layer: models.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from baa.models.bonet import BoNetPlus
from baa.models.quality import QualityClassifier
from baa.models.resunet import ResUNet


class PlainPipeline(nn.Module):
    """BoNet+ alone (Table 4's "BoNet+" when trained on high quality, "BoNet+_NQ" when trained on
    every quality). ``forward`` returns ``(B,)`` years."""

    def __init__(self, regressor: BoNetPlus):
        super().__init__()
        self.regressor = regressor

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor, male: torch.Tensor | None = None) -> torch.Tensor:
        return self.regressor(self.restore(x), male)


class DQPipeline(PlainPipeline):
    """DQ (Fig. 10b): one ResUNet restores every input, then BoNet+ (trained sequentially)."""

    def __init__(self, restorer: ResUNet, regressor: BoNetPlus):
        super().__init__(regressor)
        self.restorer = restorer

    def restore(self, x: torch.Tensor) -> torch.Tensor:
        return self.restorer(x).clamp(0.0, 1.0)


class CQPipeline(PlainPipeline):
    """CQ (Fig. 10a): the quality classifier routes each image to the ResUNet trained for its class;
    high-quality images go straight to BoNet+. ``forward`` returns ``(ages, classes)``.

    With a ``multi_label`` classifier, every flagged degradation's ResUNet is applied in turn, in the
    reverse of the order in which ``degrade(kind="all")`` applies them (label, noise, low resolution).
    """

    ORDER = ("label", "noise", "lowres")

    def __init__(self, classifier: QualityClassifier, restorers: dict[str, ResUNet], regressor: BoNetPlus):
        super().__init__(regressor)
        self.classifier = classifier
        self.restorers = nn.ModuleDict(restorers)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, 4)`` (softmax), or flags' probabilities ``(B, 3)`` (sigmoid)."""
        logits = self.classifier(x)
        return torch.sigmoid(logits) if self.classifier.multi_label else logits.softmax(1)

    def restore(self, x: torch.Tensor, probs: torch.Tensor | None = None) -> torch.Tensor:
        probs = self.classify(x) if probs is None else probs
        out = x.clone()
        if self.classifier.multi_label:
            for kind in self.ORDER:
                sel = probs[:, self.classifier.classes.index(kind)] > 0.5
                if sel.any() and kind in self.restorers:
                    out[sel] = self.restorers[kind](out[sel]).clamp(0.0, 1.0)
            return out
        cls = probs.argmax(1)
        for j, kind in enumerate(self.classifier.classes):
            sel = cls == j
            if kind != "high" and sel.any():
                out[sel] = self.restorers[kind](x[sel]).clamp(0.0, 1.0)
        return out

    def forward(self, x: torch.Tensor, male: torch.Tensor | None = None):
        probs = self.classify(x)
        ages = self.regressor(self.restore(x, probs), male)
        return ages, (probs > 0.5).long() if self.classifier.multi_label else probs.argmax(1)
