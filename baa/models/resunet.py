"""The residual U-Net that restores an image (section 3.3.1, Fig. 9): 23 convolutions, 5 max pools.

Layer: models.
"""

from __future__ import annotations
import torch
import torch.nn as nn
import torch.nn.functional as F
from baa.models.bonet import _c


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


class BoneSegmenter(ResUNet):
    """Where the bones are (chapter 11, beyond the paper): the ResUNet's body with a 1x1 head giving one
    logit per map of ``MAP_NAMES`` (every bone; the carpals; the epiphyses) instead of a residual image.
    Trained on phantoms, whose renderer knows these masks exactly; BoNet+ can then read its maps of a real
    film instead of the film, so that what it learned from the phantom is anatomy, not the phantom's look."""

    MAP_NAMES = ("bones", "carpals", "epiphyses")
    # maps made of the learned ones: "tubular", every bone the carpal map does not mark (phalanges, metacarpals,
    # radius, ulna), so that a reader of it sees no carpals, which the segmenter marks over more area on real films
    DERIVED = {"tubular": "bones"}  # name -> the learned map it is part of (its colour in `baa assess --save`)

    def __init__(self, base: int = 16, depth: int = 3, width: float = 1.0, in_channels: int = 1):
        super().__init__(base, depth, width, in_channels)
        self.spec = {"name": "BoneSegmenter", "kwargs": dict(base=base, depth=depth, width=width, in_channels=in_channels)}
        self.residual = nn.Conv2d(self.residual.in_channels, len(self.MAP_NAMES), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 3, H, W); ``torch.sigmoid`` of them are the maps."""
        return self.forward_residual(x)

    def maps(self, x: torch.Tensor, channels=MAP_NAMES, batch_size: int = 64) -> torch.Tensor:
        """(N, len(channels), H, W) in [0, 1]: the named maps of images ``x`` (N, 1, H, W) (``segment``)."""
        return segment(self, x, channels, batch_size)


@torch.no_grad()
def segment(seg: nn.Module, x: torch.Tensor, channels=BoneSegmenter.MAP_NAMES, batch_size: int = 64) -> torch.Tensor:
    """(N, len(channels), H, W) in [0, 1]: the sigmoid of ``seg``'s logits (one per ``BoneSegmenter.MAP_NAMES``)
    for images ``x``, the named maps, in eval mode and in batches."""
    unknown = [c for c in channels if c not in BoneSegmenter.MAP_NAMES and c not in BoneSegmenter.DERIVED]
    if unknown:
        raise ValueError(f"unknown map(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(BoneSegmenter.MAP_NAMES + tuple(BoneSegmenter.DERIVED))}")
    seg.eval()
    out = [_named(torch.sigmoid(seg(x[i:i + batch_size]).float()), channels) for i in range(0, len(x), batch_size)]
    return torch.cat(out).contiguous() if out else torch.zeros(0, len(channels), *x.shape[-2:])


def _named(maps: torch.Tensor, channels) -> torch.Tensor:
    """The maps ``channels`` names from the learned ones (B, 3, H, W): a learned map as it is, ``tubular`` the
    bone map where the carpal map is not (bones x (1 - carpals))."""
    m = dict(zip(BoneSegmenter.MAP_NAMES, maps.unbind(1)))
    if "tubular" in channels:  # computed only where asked for
        m["tubular"] = m["bones"] * (1 - m["carpals"])
    return torch.stack([m[c] for c in channels], 1)
