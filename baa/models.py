"""The paper's networks and the CQ / DQ / NQ pipelines built from them.

- ``BoNetPlus`` (section 3.1, Table 1, Fig. 2-4): a DenseNet-style bone-age regressor.
- ``ResUNet`` (section 3.3.1, Fig. 8-9): a U-Net that predicts the residual image.
- ``QualityClassifier`` (section 3.2, Fig. 7): a VGG-style 4-way quality classifier.
- ``PlainPipeline``, ``DQPipeline``, ``CQPipeline`` (section 3.3, Fig. 10). NQ is a
  ``PlainPipeline`` whose BoNet+ was trained on images of every quality.

Defaults are the paper's sizes; ``width`` scales every channel count for the CPU profiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from baa.degrade import QUALITY_CLASSES

__all__ = ["BoNetPlus", "ResUNet", "QualityClassifier", "PlainPipeline", "DQPipeline", "CQPipeline",
           "count_parameters", "count_layers", "BONET_ROWS", "build_model", "MODELS"]


def _c(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


class BNReLUConv(nn.Sequential):
    """Table 1's "conv": BN -> ReLU -> Conv (pre-activation, as DenseNet)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int):
        super().__init__(nn.BatchNorm2d(in_ch), nn.ReLU(inplace=True),
                         nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False))


class DenseBlock(nn.Module):
    """Fig. 3: each 3x3 layer sees the concatenation of every earlier feature map and adds
    ``growth`` channels. Table 1: four layers per block (e.g. db1: 96 + 4 x 16 = 160)."""

    def __init__(self, in_ch: int, growth: int, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(BNReLUConv(in_ch + i * growth, growth, 3) for i in range(n_layers))
        self.out_channels = in_ch + n_layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], 1)
        return x


class Transition(nn.Sequential):
    """Table 1's "tl": 1x1 conv to ``out_ch``, then max pooling (3x3/2 for tl1-tl6, 2x2/2 for tl7)."""

    def __init__(self, in_ch: int, out_ch: int, pool: nn.Module):
        super().__init__(BNReLUConv(in_ch, out_ch, 1), pool)


# Table 1, rows db1..db6: (growth rate, channels after the block, transition output channels).
BONET_ROWS = [(16, 160, 128), (32, 256, 128), (32, 256, 128), (32, 256, 128), (64, 384, 256), (64, 512, 256)]


@dataclass
class BoNetPlusConfig:
    width: float = 1.0  # channel multiplier; the paper: 1.0
    in_channels: int = 1  # grey radiograph (Table 1: 1 x 256 x 256)
    use_sex: bool = False  # beyond the paper: feed sex (1 male, 0 female) to the head
    init_age: float = 9.5  # years; the output bias starts mid-range so training starts near the mean


class BoNetPlus(nn.Module):
    """BoNet+ (Table 1). Submodules carry Table 1's row names, so a forward hook on ``db3`` sees
    ``(B, 256, 32, 32)`` for a 256 x 256 input at ``width=1``.

    Args:
        width: multiplies every channel count (Table 1 at 1.0); the cpu profile uses 0.25.
        in_channels: input channels; the paper's input is one grey channel.
        use_sex: beyond the paper; concatenates the sex as an extra channel before ``conv3``.
        init_age: initial value of the output bias, in years.

    ``forward(x, male=None)`` returns one bone age per image, in years, shape ``(B,)``. The input
    size is free: the network pools down to 1 x 1 (at 256 x 256 exactly as Table 1).
    """

    def __init__(self, width: float = 1.0, in_channels: int = 1, use_sex: bool = False, init_age: float = 9.5):
        super().__init__()
        self.spec = {"name": "BoNetPlus", "kwargs": dict(width=width, in_channels=in_channels, use_sex=use_sex, init_age=init_age)}
        self.config = BoNetPlusConfig(width, in_channels, use_sex, init_age)
        w = width
        self.conv1 = BNReLUConv(in_channels, _c(96, w), 7)  # 96 @ 256
        self.conv2 = BNReLUConv(_c(96, w), _c(96, w), 5)  # 96 @ 256
        self.pool1 = nn.MaxPool2d(3, 2, padding=1)  # 96 @ 128
        ch = _c(96, w)
        for i, (growth, _after, trans_out) in enumerate(BONET_ROWS, start=1):
            db = DenseBlock(ch, _c(growth, w), 4)  # db1 160@128, db2 256@64, ..., db6 512@4
            setattr(self, f"db{i}", db)
            setattr(self, f"tl{i}", Transition(db.out_channels, _c(trans_out, w), nn.MaxPool2d(3, 2, padding=1)))
            ch = _c(trans_out, w)
        # 2x2/2 max pool on the 2x2 map of a 256 input = a global max; adaptive keeps other sizes working.
        self.tl7 = Transition(ch, _c(1024, w), nn.AdaptiveMaxPool2d(1))  # 1024 @ 1
        head_in = _c(1024, w) + (1 if use_sex else 0)
        self.conv3 = BNReLUConv(head_in, _c(1024, w), 1)
        self.conv4 = BNReLUConv(_c(1024, w), _c(512, w), 1)
        self.out = nn.Sequential(nn.BatchNorm2d(_c(512, w)), nn.ReLU(inplace=True), nn.Conv2d(_c(512, w), 1, 1))
        nn.init.constant_(self.out[2].bias, init_age)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.conv2(self.conv1(x)))  # (B, 96w, S/2, S/2)
        for i in range(1, 7):
            x = getattr(self, f"tl{i}")(getattr(self, f"db{i}")(x))
        return self.tl7(x)  # (B, 1024w, 1, 1)

    def forward_head(self, feats: torch.Tensor, male: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.use_sex:
            if male is None:
                raise ValueError("this BoNet+ was built with use_sex=True: pass male=")
            feats = torch.cat([feats, male.to(feats).view(-1, 1, 1, 1)], 1)
        return self.out(self.conv4(self.conv3(feats))).flatten()  # (B,) years

    def forward(self, x: torch.Tensor, male: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_head(self.forward_features(x), male)


class DoubleConv(nn.Sequential):
    """Two 3x3 convs (Conv -> BN -> ReLU), one U-Net level (Fig. 8)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__(nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True),
                         nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


class UpConv(nn.Module):
    """The paper's "up-convolution": 2x upsampling, then a 2x2 convolution halving the channels."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="replicate"))  # a 2x2 kernel needs one extra row/col


class ResUNet(nn.Module):
    """Residual U-Net for quality improvement (section 3.3.1, Fig. 8-9).

    Contracting path: ``depth`` levels of two 3x3 convs and a 2x2/2 max pool, channels doubling from
    ``base``; a bottleneck of two 3x3 convs; expansive path: up-convolution halving the channels,
    concatenation with the contracting features, two 3x3 convs; a 1x1 conv maps the ``base``-channel
    features to the residual image. Output = input + residual (DnCNN-style residual learning [24]).

    Args:
        base: channels of the first level; the paper: 64 ("the 64-component feature vector").
        depth: max pools; the paper: 5, giving 23 conv layers, 5 up-convolutions, 5 concatenations.
        width: multiplies ``base`` (the cpu profile: 0.25, i.e. 16 channels).
    """

    def __init__(self, base: int = 64, depth: int = 5, width: float = 1.0, in_channels: int = 1):
        super().__init__()
        self.spec = {"name": "ResUNet", "kwargs": dict(base=base, depth=depth, width=width, in_channels=in_channels)}
        b = _c(base, width)
        chs = [b * 2**i for i in range(depth + 1)]  # 64, 128, ..., 2048 at the paper's size
        self.depth = depth
        self.down = nn.ModuleList([DoubleConv(in_channels, chs[0])] + [DoubleConv(chs[i - 1], chs[i]) for i in range(1, depth)])
        self.pool = nn.MaxPool2d(2, 2)
        self.bottleneck = DoubleConv(chs[depth - 1], chs[depth])
        self.up = nn.ModuleList(UpConv(chs[i + 1], chs[i]) for i in reversed(range(depth)))
        self.dec = nn.ModuleList(DoubleConv(2 * chs[i], chs[i]) for i in reversed(range(depth)))
        self.residual = nn.Conv2d(chs[0], in_channels, 1)
        nn.init.zeros_(self.residual.weight)  # start as the identity: output = input
        nn.init.zeros_(self.residual.bias)

    def forward_residual(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        m = 2**self.depth
        ph, pw = (-H) % m, (-W) % m
        h = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        skips = []
        for level in self.down:
            h = level(h)
            skips.append(h)
            h = self.pool(h)
        h = self.bottleneck(h)  # (B, base * 2^depth, S / 2^depth, S / 2^depth)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            h = dec(torch.cat([skip, up(h)], 1))
        return self.residual(h)[..., :H, :W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.forward_residual(x)


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

    def __init__(self, width: float = 1.0, hidden: int | None = None, n_classes: int = len(QUALITY_CLASSES),
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
        self.classes = QUALITY_CLASSES[1:] if multi_label else QUALITY_CLASSES[:n_classes]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(ch * 49, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(hidden, len(self.classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))  # (B, 4) logits (or 3 with multi_label)


def _resize(x: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None or x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="area" if x.shape[-1] > size else "bilinear", align_corners=None)


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

    def __init__(self, classifier: QualityClassifier, restorers: dict[str, ResUNet], regressor: BoNetPlus,
                 classifier_size: int | None = None):
        super().__init__(regressor)
        self.classifier = classifier
        self.restorers = nn.ModuleDict(restorers)
        self.classifier_size = classifier_size

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, 4)`` (softmax), or flags' probabilities ``(B, 3)`` (sigmoid)."""
        logits = self.classifier(_resize(x, self.classifier_size))
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


MODELS = {"BoNetPlus": BoNetPlus, "ResUNet": ResUNet, "QualityClassifier": QualityClassifier}


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
