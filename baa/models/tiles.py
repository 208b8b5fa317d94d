"""A fully convolutional restorer (the ResUNet of section 3.2) run on a film of any size, at the
film's own pixel scale: overlapping tiles of the network's input size, blended with a window that
falls off towards each tile's edge, a few tiles at a time (memory bounded by ``batch`` tiles,
whatever the film's size).

Layer: models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of side ``tile`` covering ``0..n`` (``n >= tile``) with at least
    ``overlap`` pixels shared by neighbours; the last tile ends at ``n``."""
    if n <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, n - tile, step))
    return starts + [n - tile]


def blend_window(tile: int, overlap: int) -> torch.Tensor:
    """``(tile, tile)`` weights: 1 in the middle, a linear ramp over ``overlap`` pixels at each edge,
    never 0 (a pixel only one tile covers keeps that tile's output)."""
    ramp = torch.ones(tile)
    if overlap > 0:
        r = torch.arange(1, overlap + 1, dtype=torch.float32) / (overlap + 1)
        ramp[:overlap] = r
        ramp[-overlap:] = torch.minimum(ramp[-overlap:], r.flip(0))
    return ramp[:, None] * ramp[None, :]


@torch.inference_mode()
def apply_tiled(net: nn.Module, image: torch.Tensor, tile: int, overlap: int | None = None,
                batch: int = 8) -> torch.Tensor:
    """``net`` applied to ``image`` (``(H, W)`` or ``(1, 1, H, W)``, any size) tile by tile at the
    image's own scale, the tiles' outputs blended by ``blend_window``; same shape out. ``tile``
    is the network's input side (a multiple of its ``2**depth``); ``overlap`` defaults to a
    quarter of it. An image smaller than a tile is padded (edge values) and cropped back."""
    x = image if image.dim() == 4 else image[None, None]
    if x.shape[:2] != (1, 1):
        raise ValueError(f"one grey image expected, got shape {tuple(image.shape)}")
    overlap = tile // 4 if overlap is None else overlap
    h, w = x.shape[-2:]
    ph, pw = max(0, tile - h), max(0, tile - w)
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    H, W = x.shape[-2:]
    win = blend_window(tile, overlap).to(x)
    out, weight = torch.zeros_like(x), torch.zeros_like(x)
    boxes = [(t, l) for t in tile_starts(H, tile, overlap) for l in tile_starts(W, tile, overlap)]
    for i in range(0, len(boxes), batch):
        chunk = boxes[i:i + batch]
        y = net(torch.cat([x[..., t:t + tile, l:l + tile] for t, l in chunk]))
        for (t, l), yi in zip(chunk, y):
            out[0, :, t:t + tile, l:l + tile] += yi * win
            weight[0, :, t:t + tile, l:l + tile] += win
    out = (out / weight)[..., :h, :w]
    return out if image.dim() == 4 else out[0, 0]
