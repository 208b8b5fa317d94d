"""Small matplotlib helpers the chapters and ``baa.book.figures`` share: image grids, mask overlays,
legends, boxes.

Figures only: nothing here computes a result the book reports (that is ``baa.analysis``'s job);
these functions lay images out and keep every figure small (``DPI``: the HTML book stays light).

Layer: book.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

DPI = 90
MASK_COLOURS = {"hand": (0.2, 0.6, 1.0), "bones": (1.0, 0.85, 0.1), "epiphyses": (1.0, 0.2, 0.2),
                "carpals": (0.2, 1.0, 0.3)}


def to_numpy(img) -> np.ndarray:
    """(H,W), (1,H,W) or (1,1,H,W) tensor/array -> (H,W) float numpy."""
    a = img.detach().float().cpu().numpy() if torch.is_tensor(img) else np.asarray(img, dtype=np.float32)
    while a.ndim > 2:
        a = a[0]
    return a


def image_grid(images: Sequence, titles: Sequence[str] | None = None, ncols: int | None = None,
               size: float = 1.8, row_labels: Sequence[str] | None = None, suptitle: str | None = None,
               vmin: float = 0.0, vmax: float = 1.0, cmap: str = "gray"):
    """Images (a list or an (N,1,H,W) tensor) in a grid of ``ncols`` columns, grey, axes off.
    ``row_labels`` label the first image of each row. Returns the figure."""
    import matplotlib.pyplot as plt

    imgs = [to_numpy(im) for im in (images if not torch.is_tensor(images) else list(images))]
    n = len(imgs)
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             dpi=DPI, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        for s in ax.spines.values():
            s.set_visible(False)
        if k >= n:
            ax.set_visible(False)
            continue
        ax.imshow(imgs[k], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if titles is not None and k < len(titles):
            ax.set_title(titles[k], fontsize=8)
        if row_labels is not None and k % ncols == 0 and k // ncols < len(row_labels):
            ax.set_ylabel(row_labels[k // ncols], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def overlay(image, masks: dict, alpha: float = 0.45, colours: dict | None = None) -> np.ndarray:
    """RGB (H,W,3) of a grey ``image`` with boolean ``masks`` (name -> (H,W)) tinted on top,
    in the order given (later masks cover earlier ones)."""
    g = np.clip(to_numpy(image), 0, 1)
    rgb = np.repeat(g[..., None], 3, axis=2)
    colours = colours or MASK_COLOURS
    for name, m in masks.items():
        m = to_numpy(m).astype(bool)
        c = np.asarray(colours.get(name, (1.0, 0.0, 1.0)))
        rgb[m] = (1 - alpha) * rgb[m] + alpha * c
    return rgb


def legend_patches(names: Sequence[str], colours: dict | None = None):
    """Legend handles for :func:`overlay`'s colours."""
    from matplotlib.patches import Patch

    colours = colours or MASK_COLOURS
    return [Patch(color=colours.get(n, (1.0, 0.0, 1.0)), label=n) for n in names]


def box_outline(ax, top: float, left: float, bottom: float, right: float, **kw) -> None:
    """Draw the rectangle [top, bottom) x [left, right) in pixel coordinates on ``ax``."""
    from matplotlib.patches import Rectangle

    kw.setdefault("fill", False)
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, **kw))
