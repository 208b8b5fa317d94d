"""The paper's three real-world degradations (section 3.1.2, Fig. 1), as batched torch functions.

Every function takes images ``(B, 1, H, W)`` float in [0, 1] on any device and an explicit
``torch.Generator`` (or an int seed): the same seed gives the same bits. Random numbers are drawn
on the CPU generator and moved to the images' device, so results do not depend on the device's RNG.

The paper gives no strengths; the defaults below are chosen to look like Fig. 1's poor images and
are physically motivated (see ``../shared/reference/skeletal-maturation.md``, "Quantum noise").

Layer: degrade (above data and phantom).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baa.paper import QUALITIES


# Defaults (the paper: "Poisson noise", "a black label", "resolution decreased 4 times").
PHOTONS = 100.0  # incident photons per pixel: ~25 dB PSNR at p = 1, clearly poor (reference table)
LINE_INTEGRAL_SCALE = 3.5  # display value v -> line integral p = k v (k ~ 3-4)
LABEL_FRACTION = (0.12, 0.25)  # label side as a fraction of the image side
LABEL_REGION = 0.6  # the label lies inside the central 60 % of the image (section 3.1.2)
LOWRES_FACTOR = 4


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def poisson_noise(images: torch.Tensor, photons: float | torch.Tensor = PHOTONS,
                  generator: int | torch.Generator | None = None,
                  scale: float = LINE_INTEGRAL_SCALE) -> torch.Tensor:
    """Quantum noise done physically: display value ``v`` -> line integral ``p = scale * v`` ->
    counts ``N ~ Poisson(photons * exp(-p))`` (clamped >= 1) -> ``p_hat = -ln(N / photons)`` -> ``v``.

    Variance grows with the mean value (brighter = more attenuated = fewer photons) and falls as
    ``photons`` rises. ``photons`` may be a tensor ``(B,)`` for a per-image level.
    """
    g = _generator(generator)
    photons_t = torch.as_tensor(photons, dtype=torch.float64).reshape(-1, 1, 1, 1)
    expected = photons_t * torch.exp(-scale * images.detach().double().cpu())  # (B,1,H,W) counts
    counts = torch.poisson(expected, generator=g).clamp_min(1.0)
    p_hat = -torch.log(counts / photons_t)
    out = (p_hat / scale).clamp(0.0, 1.0).to(images.dtype)
    return out.to(images.device)


def label_boxes(batch: int, height: int, width: int, generator: int | torch.Generator | None = None,
                fraction: tuple[float, float] = LABEL_FRACTION, region: float = LABEL_REGION) -> torch.Tensor:
    """Random label rectangles ``(B, 4)`` as integer ``(top, left, bottom, right)`` (exclusive),
    each lying wholly inside the central ``region`` of the image."""
    g = _generator(generator)
    r = torch.rand(batch, 4, generator=g, dtype=torch.float64)
    y0, x0 = (1 - region) / 2 * height, (1 - region) / 2 * width
    ry, rx = region * height, region * width
    h = (fraction[0] + (fraction[1] - fraction[0]) * r[:, 0]) * height
    w = (fraction[0] + (fraction[1] - fraction[0]) * r[:, 1]) * width
    h, w = torch.minimum(h, torch.tensor(ry)), torch.minimum(w, torch.tensor(rx))
    top = torch.ceil(y0 + r[:, 2] * (ry - h))
    left = torch.ceil(x0 + r[:, 3] * (rx - w))
    bottom = torch.minimum(top + h.round(), torch.tensor(float(int(y0 + ry))))
    right = torch.minimum(left + w.round(), torch.tensor(float(int(x0 + rx))))
    return torch.stack([top, left, bottom, right], 1).long()


def box_mask(boxes: torch.Tensor, height: int, width: int, device=None) -> torch.Tensor:
    """Boolean masks ``(B, 1, H, W)``, True inside each box of ``label_boxes``."""
    ys = torch.arange(height, device=device).view(1, height, 1)
    xs = torch.arange(width, device=device).view(1, 1, width)
    b = boxes.to(device)
    m = (ys >= b[:, 0, None, None]) & (ys < b[:, 2, None, None]) & (xs >= b[:, 1, None, None]) & (xs < b[:, 3, None, None])
    return m.unsqueeze(1)


def black_label(images: torch.Tensor, generator: int | torch.Generator | None = None,
                fraction: tuple[float, float] = LABEL_FRACTION, region: float = LABEL_REGION,
                return_mask: bool = False):
    """A black (exactly zero) rectangle of random size and position inside the central ``region``
    (60 %) of each image, as the paper's label degradation (section 3.1.2)."""
    B, _, H, W = images.shape
    mask = box_mask(label_boxes(B, H, W, generator, fraction, region), H, W, images.device)
    out = images.masked_fill(mask, 0.0)
    return (out, mask) if return_mask else out


def low_resolution(images: torch.Tensor, factor: int = LOWRES_FACTOR) -> torch.Tensor:
    """Resolution decreased ``factor`` times (area average), then brought back to the input size
    with bicubic interpolation: the network sees the blurred image (section 3.1.2)."""
    H, W = images.shape[-2:]
    small = F.interpolate(images, size=(max(1, H // factor), max(1, W // factor)), mode="area")
    return F.interpolate(small, size=(H, W), mode="bicubic", align_corners=False).clamp(0.0, 1.0)


def degrade(images: torch.Tensor, kind: str, generator: int | torch.Generator | None = None, *,
            photons: float = PHOTONS, label_fraction: tuple[float, float] = LABEL_FRACTION,
            factor: int = LOWRES_FACTOR) -> torch.Tensor:
    """Apply one degradation by name: ``none``/``high``, ``noise``, ``label``, ``lowres``, or ``all``
    (low resolution, then noise, then the label: the order an image acquires them in practice)."""
    g = _generator(generator)
    if kind in ("none", "high"):
        return images.clone()
    if kind == "noise":
        return poisson_noise(images, photons, g)
    if kind == "label":
        return black_label(images, g, label_fraction)
    if kind == "lowres":
        return low_resolution(images, factor)
    if kind == "all":
        return black_label(poisson_noise(low_resolution(images, factor), photons, g), g, label_fraction)
    raise ValueError(f"unknown degradation {kind!r}; choose none, noise, label, lowres or all")


def degrade_mixed(images: torch.Tensor, generator: int | torch.Generator | None = None,
                  classes: tuple[str, ...] = QUALITIES) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image gets one quality class drawn uniformly from ``classes`` (the classifier's and NQ's
    training set, section 3.2). Returns the images and the class indices into ``QUALITIES``."""
    g = _generator(generator)
    B = images.shape[0]
    which = torch.randint(len(classes), (B,), generator=g)
    out = images.clone()
    for j, kind in enumerate(classes):
        sel = (which == j).nonzero().flatten()
        if len(sel):
            out[sel.to(images.device)] = degrade(images[sel.to(images.device)], kind, g)
    labels = torch.tensor([QUALITIES.index(classes[int(j)]) for j in which])
    return out, labels
