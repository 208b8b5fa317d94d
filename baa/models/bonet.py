"""BoNet+ (Table 1): a DenseNet-style regressor of bone age, ``forward_features`` then ``forward_head``.

Layer: models.
"""

from __future__ import annotations

import torch
import torch.nn as nn


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


class BoNetPlus(nn.Module):
    """BoNet+ (Table 1). Submodules carry Table 1's row names, so a forward hook on ``db3`` sees
    ``(B, 256, 32, 32)`` for a 256 x 256 input at ``width=1``.

    Args:
        width: multiplies every channel count (Table 1 at 1.0); the cpu profile uses 0.25.
        in_channels: input channels; the paper's input is one grey channel.
        use_sex: beyond the paper; concatenates the sex as an extra channel before ``conv3``.
        init_age: initial value of the output bias, in years: training starts near the mean age.

    ``forward(x, male=None)`` returns one bone age per image, in years, shape ``(B,)``. The input
    size is free: the network pools down to 1 x 1 (at 256 x 256 exactly as Table 1).
    """

    def __init__(self, width: float = 1.0, in_channels: int = 1, use_sex: bool = False, init_age: float = 9.5):
        super().__init__()
        self.spec = {"name": "BoNetPlus", "kwargs": dict(width=width, in_channels=in_channels, use_sex=use_sex, init_age=init_age)}
        self.use_sex = use_sex
        w = width
        self.conv1 = BNReLUConv(in_channels, _c(96, w), 7)  # 96 @ 256
        self.conv2 = BNReLUConv(_c(96, w), _c(96, w), 5)  # 96 @ 256
        self.pool1 = nn.MaxPool2d(3, 2, padding=1)  # 96 @ 128
        ch = _c(96, w)
        for i, (growth, after, trans_out) in enumerate(BONET_ROWS, start=1):
            db = DenseBlock(ch, _c(growth, w), 4)  # db1 160@128, db2 256@64, ..., db6 512@4
            if db.out_channels != _c(after, w) and w == 1.0:  # four layers of `growth` must give Table 1's channels
                raise ValueError(f"db{i}: {db.out_channels} channels after the block, BONET_ROWS says {after}")
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
        if self.use_sex:
            if male is None:
                raise ValueError("this BoNet+ was built with use_sex=True: pass male=")
            feats = torch.cat([feats, male.to(feats).view(-1, 1, 1, 1)], 1)
        return self.out(self.conv4(self.conv3(feats))).flatten()  # (B,) years

    def forward(self, x: torch.Tensor, male: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_head(self.forward_features(x), male)
