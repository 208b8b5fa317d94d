"""The paper's training augmentation (section 4.1: random rotation, shift and zoom) as one batched
affine warp, the blur and flip beyond it, and the fixed test-time views.

Layer: data.
"""

from __future__ import annotations
import math
import torch
import torch.nn.functional as F


MAX_ROTATION, MAX_SHIFT, ZOOM = 15.0, 0.1, (0.9, 1.1)  # the training augmentation's ranges (section 4.1)


# Bilinear resampling smooths: a BoNet+ that only ever sees warped images reads a sharp, unwarped
# one as older (cpu profile: +0.43 y bias on the clean bench phantoms, +0.19 y after a half-pixel
# resample of the same images), and then any blurring restorer "helps". BoNet+ training therefore
# warps only this share of its images (``train.regressor_batches``); the quality classifier warps
# every image, as the paper (with half its images unwarped its accuracy on labels fell to 51 %).
P_WARP = 0.5


TTA_VIEWS = 16  # test-time views baa assess averages over (chapter 9 measures the agreement they buy)


def augment(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    max_rotation: float = MAX_ROTATION,
    max_shift: float = MAX_SHIFT,
    zoom: tuple[float, float] = ZOOM,
    p_warp: float = 1.0,
) -> torch.Tensor:
    """The paper's augmentation (section 4.1: "random rotation, shift, zoom"; it gives no ranges,
    ours are the usual Keras-style ones) as one batched affine warp per image.

    ``images`` (N,C,H,W) on any device; rotation uniform in +-``max_rotation`` degrees, shift
    uniform in +-``max_shift`` of the side per axis, zoom (content magnification) uniform in
    ``zoom``; bilinear ``grid_sample`` with zero padding (the background is black). Each image is
    warped with probability ``p_warp`` (default: every image) and otherwise passed through unchanged
    (BoNet+ training uses ``P_WARP``).
    The random parameters are drawn from ``generator`` (on its own device), so a generator seeded
    the same way gives the same output on CPU and GPU.
    """
    if images.ndim != 4:
        raise ValueError(f"augment expects (N,C,H,W), got {tuple(images.shape)}")
    n = len(images)
    if n == 0:
        return images
    gdev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((n, 5), generator=generator, device=gdev, dtype=torch.float64).to(images.device)
    warped = _warp(images, u[:, :4], max_rotation, max_shift, zoom)
    keep = (u[:, 4] >= p_warp).view(n, 1, 1, 1)
    return torch.where(keep, images.to(warped.dtype), warped)


def _warp(images: torch.Tensor, u: torch.Tensor, max_rotation: float, max_shift: float,
          zoom: tuple[float, float]) -> torch.Tensor:
    """:func:`augment`'s warp of each image, its four parameters given as ``u`` (N,4) in [0,1)."""
    n, _, h, w = images.shape
    ang = (u[:, 0] * 2 - 1) * math.radians(max_rotation)
    tx, ty = (u[:, 1] * 2 - 1) * max_shift * 2, (u[:, 2] * 2 - 1) * max_shift * 2  # [-1,1] spans the side: x2
    z = zoom[0] + u[:, 3] * (zoom[1] - zoom[0])
    cos, sin = torch.cos(ang) / z, torch.sin(ang) / z  # output -> input map: zoom z shrinks the sampled area
    # rotate in pixel units, not normalised ones, so non-square images are not sheared
    ar = w / h
    theta = torch.zeros((n, 2, 3), dtype=torch.float64, device=images.device)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = cos, -sin / ar, -tx
    theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = sin * ar, cos, -ty
    dtype = images.dtype if images.is_floating_point() else torch.float32
    grid = F.affine_grid(theta.to(dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images.to(dtype), grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def grow(maps: torch.Tensor, steps: int) -> torch.Tensor:
    """Maps (N, C, H, W) dilated ``steps`` times by a 3x3 maximum (``steps`` > 0) or eroded ``-steps`` times by a
    3x3 minimum (< 0): a map's area changed as :func:`morphology_augment` changes it, at test time (chapter 11
    measures how much BoNet+'s age hangs on it)."""
    for _ in range(abs(steps)):
        maps = F.max_pool2d(maps, 3, 1, 1) if steps > 0 else -F.max_pool2d(-maps, 3, 1, 1)
    return maps


def morphology_augment(maps: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5,
                       dilate: float = 0.5, radius: int = 1) -> torch.Tensor:
    """Beyond the paper, for a network that reads bone maps (chapter 11): each channel of each image is, with
    probability ``p``, dilated (a share ``dilate`` of them) or eroded by a 3x3 maximum or minimum, applied
    ``k`` times, ``k`` drawn uniformly from 1 .. ``radius`` (a (2k+1)-px square).

    Why: a segmenter marks a real film's structures thinner or thicker than a phantom's (the model card
    measures each map's area against phantoms); a reader trained on maps whose areas vary learns what the
    layout says, less what the area says."""
    n, c = maps.shape[:2]
    if n == 0 or p <= 0:
        return maps
    if radius < 1:
        raise ValueError(f"radius must be at least 1, not {radius}")
    gdev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((n, c, 2), generator=generator, device=gdev, dtype=torch.float64).to(maps.device)
    on, grows = (u[..., 0] < p)[..., None, None], (u[..., 1] < dilate)[..., None, None]
    # radius 1 draws nothing more: the same bytes as before radius existed
    k = (torch.randint(1, radius + 1, (n, c), generator=generator, device=gdev).to(maps.device)[..., None, None]
         if radius > 1 else None)
    dil, ero, out = maps, maps, maps
    for step in range(1, radius + 1):
        dil, ero = grow(dil, 1), grow(ero, -1)
        pick = on if k is None else on & (k == step)
        out = torch.where(pick, torch.where(grows, dil, ero), out)
    return out


def tta_views(images: torch.Tensor, views: int, seed: int = 0) -> torch.Tensor:
    """``views`` copies of each image for test-time augmentation: the image itself, then
    ``views - 1`` warps drawn by :func:`augment` with its training ranges from a generator seeded
    ``seed`` (the same views every call). ``images`` (N,C,H,W) -> (views*N,C,H,W), view-major, so
    ``out.view(views, N, ...)`` groups them.

    Why: BoNet+ is trained on warped images (section 4.1's rotation, shift and zoom; half of them,
    see ``P_WARP``), and a short schedule leaves its age a rough function of the framing: moving
    the hand crop by one pixel moved a cpu-profile age by up to 0.5 y. The mean over warps of the training
    distribution is a smooth function of the input (chapter 9 measures what it buys)."""
    if views <= 1:
        return images
    # one warp per view, the same for every image: an image's views do not depend on its batch
    u = torch.rand((views - 1, 4), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    u = u.repeat_interleave(len(images), 0).to(images.device)
    x = images if images.is_floating_point() else images.float()
    return torch.cat([x, _warp(x.repeat(views - 1, 1, 1, 1), u, MAX_ROTATION, MAX_SHIFT, ZOOM)])


# blur_augment: share of images blurred, largest sigma (pixels). Up to 2 px spans what the restorers
# leave: the 4x low-resolution image brought back to size is about as soft as a 1.5-2 px Gaussian.
BLUR_P, BLUR_MAX_SIGMA = 0.5, 2.0


def blur_augment(images: torch.Tensor, generator: torch.Generator | None = None, p: float = BLUR_P,
                 max_sigma: float = BLUR_MAX_SIGMA) -> torch.Tensor:
    """Beyond the paper: a Gaussian blur of sigma uniform in (0, ``max_sigma``] pixels on a share
    ``p`` of the images (separable, replicate padding), the rest unchanged.

    Why: sharpness differs between sites (detector blur) and every restorer leaves some smoothing;
    a BoNet+ that reads age from sharpness scores a restorer by how much it blurs, not by what it
    restores (chapter 8). Trained on sharp and blurred images alike, it learns to read the bones."""
    n = len(images)
    if n == 0 or p <= 0:
        return images
    gdev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((n, 2), generator=generator, device=gdev, dtype=torch.float64).to(images.device)
    r = max(1, math.ceil(3 * max_sigma))
    k = torch.arange(-r, r + 1, device=images.device, dtype=torch.float64)
    sig = (u[:, 1] * max_sigma).clamp(min=1e-3)[:, None]
    w = torch.exp(-0.5 * (k[None] / sig) ** 2)
    w = (w / w.sum(1, keepdim=True)).to(images.dtype)  # (N, 2r+1)
    c, h, wd = images.shape[1:]
    x = images.reshape(1, n * c, h, wd)
    wk = w.repeat_interleave(c, 0)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), wk[:, None, None, :], groups=n * c)
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), wk[:, None, :, None], groups=n * c)
    keep = (u[:, 0] >= p).view(n, 1, 1, 1)
    return torch.where(keep, images, x.reshape(images.shape))


def flip_augment(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random horizontal and vertical flips, each with probability 1/2, per image: a lossless
    augmentation for the restorers. ``augment``'s bilinear resampling low-passes the clean target,
    and a ResUNet trained on such targets learns to blur (on the cpu profile's noise expert,
    0.7 dB lower PSNR than with flips); flips move pixels without changing a value."""
    if images.ndim != 4:
        raise ValueError(f"flip_augment expects (N,C,H,W), got {tuple(images.shape)}")
    gdev = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((len(images), 2), generator=generator, device=gdev).to(images.device)
    out = torch.where((u[:, 0] < 0.5)[:, None, None, None], images.flip(-1), images)
    return torch.where((u[:, 1] < 0.5)[:, None, None, None], out.flip(-2), out)
