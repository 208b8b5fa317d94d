"""The files the hand check (``baa.assess.handcheck``) is measured on, written offline: non-hands
(``negative_set``, on which the image rule's thresholds were set; ``heldout_negative_set``, on which
nothing was set) and phantom hands of every size (``phantom_set``).

Layer: assess.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from baa.phantom import PhantomConfig, render

# Phantom indices of the non-hand sets: far above those the hand classifier trains on
# (``baa.assess.handnet.Recipe.n``, from 0), so that no set measures it on a phantom it saw.
NON_HAND_PHANTOMS = 10**6

SKIMAGE_NEGATIVES = ("astronaut", "brick", "camera", "cat", "cell", "checkerboard", "clock", "coffee", "coins",
                     "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
                     "microaneurysms", "moon", "page", "retina", "rocket", "shepp_logan_phantom", "text")


def _save_png(a, path: Path) -> Path:
    from PIL import Image

    a = np.asarray(a)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.dtype != np.uint8:
        a = np.asarray(a, np.float64)
        a = np.round((a - a.min()) / (np.ptp(a) or 1.0) * 255).astype(np.uint8)
    Image.fromarray(a).save(path)
    return path


def real_films(shared) -> list[Path]:
    """The 38 real hand films of the shared folder: ``rsna-dev``'s 28 and ``real-xrays``' 10 (none
    where ``shared`` is absent)."""
    sh = Path(shared)
    return sorted((sh / "rsna-dev" / "boneage-training-dataset").glob("*.png")) + sorted((sh / "real-xrays").glob("raw-*.png"))


def negative_set(folder, seed: int = 0) -> dict[str, Path]:
    """Non-hands written as PNG into ``folder``: every bundled ``skimage.data`` image of
    ``SKIMAGE_NEGATIVES`` (colour ones also in grey, so that the image check is measured without
    the colour check's help), noise (uniform, Gaussian, smooth), gradients, a disc, a rectangle, and
    five phantoms with the hand painted over with their background (collimation and marker kept).
    Returns ``{name: path}``; the same ``seed`` gives the same bytes."""
    import warnings

    import skimage.data as sd
    from scipy import ndimage as ndi

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in SKIMAGE_NEGATIVES:
            a = np.asarray(getattr(sd, name)())
            out[name] = _save_png(a, d / f"{name}.png")
            if a.ndim == 3:
                out[f"{name} (grey)"] = _save_png(a[..., :3].astype(np.float64) @ [0.299, 0.587, 0.114],
                                                  d / f"{name}-grey.png")
        out["motorcycle"] = _save_png(sd.stereo_motorcycle()[0], d / "motorcycle.png")
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:256, :200]
    synthetic = {
        "uniform noise": rng.random((256, 256)),
        "Gaussian noise": rng.normal(size=(300, 200)),
        "smooth noise": ndi.gaussian_filter(rng.normal(size=(256, 256)), 8),
        "horizontal gradient": x.astype(float), "vertical gradient": y.astype(float),
        "radial gradient": -np.hypot(x - 100, y - 128),
        "disc": np.hypot(x - 100, y - 128) < 60, "rectangle": (abs(x - 100) < 50) & (abs(y - 128) < 80),
    }
    for name, a in synthetic.items():
        out[name] = _save_png(a, d / f"{name.replace(' ', '-')}.png")
    r = render(list(range(NON_HAND_PHANTOMS, NON_HAND_PHANTOMS + 5)), seed=seed, config=PhantomConfig(size=256), masks=True)
    for i in range(5):
        im = r["image"][i, 0].numpy().astype(np.float64)
        hand = ndi.binary_dilation(r["masks"]["hand"][i, 0].numpy(), iterations=3)
        im[hand] = np.median(im[~hand]) + rng.normal(0, 0.01, int(hand.sum()))
        out[f"phantom {i} without its hand"] = _save_png(np.clip(im, 0, 1), d / f"phantom-{i}-nohand.png")
    return out


def heldout_negative_set(folder, seed: int = 0) -> dict[str, Path]:
    """Non-hands that no threshold of this module was set on, written as PNG into ``folder``: the
    other bundled images (``skimage.data``'s chelsea, faces of ``lfw_subset`` tiled, binary blobs;
    matplotlib's sample photographs, logos, an MR slice and two elevation maps), all in grey, and
    synthetic ones drawn with ``seed``: multi-scale noise, random ellipses, strokes, cells, a
    five-armed star and a hand's silhouette filled flat (a segmentation mask, not a radiograph).
    Measures the rule out of sample (``handcheck.rates``); the same ``seed`` gives the same bytes."""
    import gzip
    import warnings

    import matplotlib.cbook as cbook
    import skimage.data as sd
    from PIL import Image
    from scipy import ndimage as ndi

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    grey = lambda a: a[..., :3].astype(np.float64) @ [0.299, 0.587, 0.114] if a.ndim == 3 else a  # noqa: E731
    sample = lambda n: cbook.get_sample_data(n, asfileobj=False)  # noqa: E731
    images = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images["chelsea"] = grey(sd.chelsea())
        faces = sd.lfw_subset()[:25]
        images["faces"] = np.vstack([np.hstack(list(faces[i: i + 5])) for i in range(0, 25, 5)])
        for k in range(2):
            images[f"binary blobs {k}"] = sd.binary_blobs(256, blob_size_fraction=0.1 * (k + 1), rng=seed + k)
    for n in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png"):
        with Image.open(sample(n)) as im:
            images[n.split(".")[0]] = grey(np.asarray(im.convert("RGB")))
    with gzip.open(sample("s1045.ima.gz")) as f:
        images["MR slice"] = np.frombuffer(f.read(), "<u2").reshape(256, 256)
    images["topography"] = np.load(sample("topobathy.npz"))["topo"]
    images["elevation"] = np.load(sample("jacksboro_fault_dem.npz"))["elevation"]
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:256, :256]
    for k in range(3):
        images[f"multi-scale noise {k}"] = sum(ndi.gaussian_filter(rng.normal(size=(256, 256)), s) * s for s in (1, 4, 16))
    for k in range(3):
        e = np.zeros((256, 256))
        for _ in range(6 + 4 * k):
            cy, cx, a, b, t = *rng.uniform(0, 256, 2), *rng.uniform(8, 60, 2), rng.uniform(0, np.pi)
            u, v = (x - cx) * np.cos(t) + (y - cy) * np.sin(t), -(x - cx) * np.sin(t) + (y - cy) * np.cos(t)
            e += rng.uniform(0.3, 1) * ((u / a) ** 2 + (v / b) ** 2 < 1)
        images[f"ellipses {k}"] = ndi.gaussian_filter(e, 1)
    s = np.zeros((256, 256))
    for _ in range(12):  # strokes: random thick lines
        p0, p1 = rng.uniform(20, 236, 2), rng.uniform(20, 236, 2)
        t = np.clip(((x - p0[1]) * (p1[1] - p0[1]) + (y - p0[0]) * (p1[0] - p0[0])) / max(np.sum((p1 - p0) ** 2), 1), 0, 1)
        s = np.maximum(s, np.hypot(x - p0[1] - t * (p1[1] - p0[1]), y - p0[0] - t * (p1[0] - p0[0])) < rng.uniform(3, 9))
    images["strokes"] = s
    seeds = rng.uniform(0, 256, (40, 2))
    near = np.argmin((y[..., None] - seeds[:, 0]) ** 2 + (x[..., None] - seeds[:, 1]) ** 2, -1)
    images["cells"] = rng.uniform(0, 1, 40)[near] + rng.normal(0, 0.02, (256, 256))
    th, r = np.arctan2(y - 128, x - 128), np.hypot(y - 128, x - 128)
    images["five-armed star"] = r < 40 + 60 * np.cos(2.5 * th) ** 8
    hand = render([NON_HAND_PHANTOMS + 7], seed=seed, config=PhantomConfig(size=256), masks=True)["masks"]["hand"][0, 0].numpy()
    images["hand silhouette"] = hand
    return {name: _save_png(np.asarray(a), d / f"{name.replace(' ', '-')}.png") for name, a in images.items()}


def phantom_set(folder, sizes=(64, 96, 128, 192, 256), per_size: int = 20, seed: int = 0) -> dict[str, Path]:
    """``per_size`` phantoms at each of ``sizes`` (ages drawn over 0-19 y, every pose, site and
    collimation variation) as 8-bit PNGs: hands the check must accept."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for s in sizes:
        r = render(list(range(1000 * s, 1000 * s + per_size)), seed=seed, config=PhantomConfig(size=s))
        for i in range(per_size):
            name = f"phantom {s} px #{i} ({float(r['label'][i]):.1f} y)"
            out[name] = _save_png((r["image"][i, 0].numpy() * 255).round().astype(np.uint8), d / f"phantom-{s}-{i}.png")
    return out
