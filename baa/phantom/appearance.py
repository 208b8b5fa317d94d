"""Domain randomisation of the phantom's look, applied to rendered batches (issue 18).

Physics-based X-ray simulators transfer to real films when their appearance varies far more than
real films do; :func:`randomise` draws, per image, exposure, gamma, soft-tissue/bone contrast,
background level and gradient (heel effect), scatter (a blurred veil), detector blur, quantum and
film-grain noise, rotation (any angle up to ``max_rotation``), zoom and shift (the hand cropped at
the frame's edge or small in it), collimation bands, lead markers and rulers, and an 8-bit or
low-contrast scan look. Everything is a function of ``(seed, index)``: an image does not depend on
its batch, and the same seed gives the same bytes.

The rendered anatomy is untouched (``baa.phantom.render`` and its numbers do not change): this is
an opt-in step for the phantom-to-real experiments (``baa.experiments.transfer``).

Layer: phantom.
"""

from __future__ import annotations
import math
from dataclasses import dataclass
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Appearance:
    """Ranges of each randomisation (uniform draws unless said). ``strength`` 0 turns it all off."""

    gamma: tuple[float, float] = (0.6, 1.7)  # log-uniform
    contrast: tuple[float, float] = (0.6, 1.3)
    brightness: tuple[float, float] = (-0.15, 0.15)
    background: tuple[float, float] = (0.0, 0.25)  # the direct-exposure level the background is pulled to
    p_background: float = 1.0
    gradient: float = 0.25  # heel effect / uneven film: amplitude of a linear ramp
    scatter: tuple[float, float] = (0.0, 0.25)  # fraction of a heavily blurred copy added (a veil)
    blur: tuple[float, float] = (0.0, 1.6)  # detector blur, pixels at 256
    noise: tuple[float, float] = (0.0, 0.06)  # gaussian sd (film grain / electronic noise)
    max_rotation: float = 30.0  # degrees, either way
    zoom: tuple[float, float] = (0.85, 1.25)  # >1 zooms in (the hand fills / leaves the frame)
    shift: float = 0.08  # fraction of the side
    p_collimation: float = 0.4
    p_marker: float = 0.6
    p_ruler: float = 0.15
    p_invert_soft: float = 0.0  # kept 0: read_image fixes polarity
    strength: float = 0.7


def _gen(seed: int, index: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + int(index) * 7_919 + 17) % (2**63))
    return g


def _u(g: torch.Generator, lo: float, hi: float) -> float:
    return float(lo + (hi - lo) * torch.rand((), generator=g))


def _gauss_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma < 0.2:
        return x
    r = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k = (k / k.sum())
    x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    return F.conv2d(x, k.view(1, 1, -1, 1))


def _one(img: torch.Tensor, hand: torch.Tensor | None, g: torch.Generator, a: Appearance, comp=None) -> tuple:
    """One (1,1,S,S) image (and its hand mask) to a randomised (1,1,S,S) image in [0,1], and ``comp`` (1,C,S,S)
    masks moved with it, 0 under bands and markers (they draw nothing: the image is the same without them)."""
    S = img.shape[-1]
    x = img.clone().float()
    s = a.strength
    if s <= 0:
        return x.clamp(0, 1), comp
    # 1. background pulled to a drawn level (real films: dark, uniform direct exposure)
    if hand is not None and torch.rand((), generator=g) < a.p_background * s:
        m = _gauss_blur(hand.float(), 2.0).clamp(0, 1)
        lvl = _u(g, *a.background)
        bg = x[hand < 0.5].median() if (hand < 0.5).any() else x.min()
        # the hand's tissue keeps its contrast above the new background
        x = m * x + (1 - m) * (lvl + (x - bg) * 0.3)
    # 2. geometry: rotation, zoom, shift (fill: the border value after step 1)
    ang = math.radians(_u(g, -a.max_rotation, a.max_rotation) * s)
    z = math.exp(_u(g, math.log(a.zoom[0]), math.log(a.zoom[1])) * s)
    tx, ty = (_u(g, -a.shift, a.shift) * 2 * s for _ in range(2))
    c, si = math.cos(ang) / z, math.sin(ang) / z
    theta = torch.tensor([[[c, -si, tx], [si, c, ty]]], dtype=torch.float32)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    fill = float(torch.quantile(x.flatten()[:: max(1, x.numel() // 4096)], 0.05))
    x = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill
    if comp is not None:
        comp = F.grid_sample(comp.float(), F.affine_grid(theta, list(comp.shape), align_corners=False),
                             mode="bilinear", padding_mode="zeros", align_corners=False)
    # 3. scatter veil, heel gradient
    veil = _u(g, *a.scatter) * s
    if veil > 0.01:
        x = (1 - veil) * x + veil * _gauss_blur(x, S / 12)
    ramp = torch.linspace(-1, 1, S)
    d = _u(g, 0, 2 * math.pi)
    grad = (math.cos(d) * ramp.view(1, -1) + math.sin(d) * ramp.view(-1, 1)) * _u(g, 0, a.gradient) * s
    x = x + grad.view(1, 1, S, S) * 0.5
    # 4. exposure: gamma, contrast, brightness
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / max(hi - lo, 1e-6)
    gam = math.exp(_u(g, math.log(a.gamma[0]), math.log(a.gamma[1])) * s)
    x = x.clamp(0, 1) ** gam
    x = (x - 0.5) * (1 + (_u(g, *a.contrast) - 1) * s) + 0.5 + _u(g, *a.brightness) * s
    # 5. collimation bands (bright, straight or slanted) on 0-2 sides
    if torch.rand((), generator=g) < a.p_collimation * s:
        yy, xx = torch.meshgrid(torch.linspace(-1, 1, S), torch.linspace(-1, 1, S), indexing="ij")
        for _ in range(1 + int(torch.rand((), generator=g) < 0.4)):
            phi = _u(g, 0, 2 * math.pi) if torch.rand((), generator=g) < 0.3 else \
                int(torch.randint(4, (1,), generator=g)) * math.pi / 2 + _u(g, -0.08, 0.08)
            dist = math.cos(phi) * xx + math.sin(phi) * yy
            band = dist > _u(g, 0.8, 0.97)
            x[0, 0][band] = _u(g, 0.75, 1.0)
            if comp is not None:
                comp[0][:, band] = 0
    # 6. markers (a bright block with a dark letter stroke) and a ruler
    if torch.rand((), generator=g) < a.p_marker * s:
        w = int(_u(g, 0.04, 0.09) * S)
        h = int(w * _u(g, 1.0, 1.6))
        y0 = int(_u(g, 0.02, 0.98) * (S - h)) if torch.rand((), generator=g) < 0.5 else int(_u(g, 0, 0.15) * (S - h))
        x0 = int(_u(g, 0, 0.2) * (S - w)) if torch.rand((), generator=g) < 0.5 else int(_u(g, 0.8, 1.0) * (S - w))
        v = _u(g, 0.85, 1.0)
        x[0, 0, y0:y0 + h, x0:x0 + w] = v
        if comp is not None:
            comp[0, :, y0:y0 + h, x0:x0 + w] = 0
        t = max(1, w // 5)
        x[0, 0, y0 + t:y0 + h - t, x0 + t:x0 + 2 * t] = v * 0.3  # an 'L'
        x[0, 0, y0 + h - 2 * t:y0 + h - t, x0 + t:x0 + w - t] = v * 0.3
    if torch.rand((), generator=g) < a.p_ruler * s:
        L = int(_u(g, 0.3, 0.8) * S)
        w = max(2, int(0.03 * S))
        x0 = int(_u(g, 0, 1) * (S - w))
        y0 = int(_u(g, 0, 1) * (S - L))
        x[0, 0, y0:y0 + L, x0:x0 + w] = 0.9
        if comp is not None:
            comp[0, :, y0:y0 + L, x0:x0 + w] = 0
        x[0, 0, y0:y0 + L:max(2, S // 40), x0:x0 + w // 2] = 0.4
    # 7. detector blur, noise, clip
    x = _gauss_blur(x, _u(g, *a.blur) * s * S / 256)
    sd = _u(g, *a.noise) * s
    if sd > 0:
        x = x + sd * torch.randn(x.shape, generator=g)
    return x.clamp(0, 1), comp


def randomise(images: torch.Tensor, indices, seed: int = 0, hand: torch.Tensor | None = None,
              appearance: Appearance | None = None, companions: torch.Tensor | None = None):
    """``images`` (B,1,S,S) in [0,1] (``render``'s 'image'), ``indices`` the phantom indices (the
    seed of each image's draws), ``hand`` optionally ``render(..., masks=True)['masks']['hand']``
    (lets the background be re-levelled). Returns (B,1,S,S) float32 in [0,1]; image ``i`` depends
    only on ``(seed, indices[i], images[i])``. With ``companions`` (B,C,S,S) (e.g. the bone masks)
    returns ``(images, companions)``, the companions moved as their images were and 0 where a band,
    marker or ruler covers them."""
    a = appearance or Appearance()
    idx = torch.as_tensor(indices).reshape(-1).tolist()
    out, comps = [], []
    for i, k in enumerate(idx):
        m = None if hand is None else hand[i:i + 1].float()
        c = None if companions is None else companions[i:i + 1].cpu().float().clone()
        x, c = _one(images[i:i + 1].cpu(), m, _gen(seed, k), a, c)
        out.append(x)
        comps.append(c)
    images = torch.cat(out).contiguous()
    return images if companions is None else (images, torch.cat(comps).contiguous())
