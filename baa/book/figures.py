"""The book's figures, one function per figure: each takes what a chapter computed and draws it.

Nothing here computes a number the book reports (that is :mod:`baa.analysis`); a function may
render phantom images or saliency maps to look at. Each returns its matplotlib figure; the chapter
calls ``plt.show()``.

Layer: book.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from baa import degrade as D
from baa.analysis import degradation as G
from baa.analysis.maturity import FUSION_GROUPS, REFERENCE_FUSION, SEXES, binned_share, schedule, timetable
from baa.analysis.report import PIPELINE_NAMES, QUALITY_NAMES, ccs_curves, ccs_fraction, pooled_predictions
from baa.analysis.saliency import describe, enrichment, overlay as saliency_overlay, saliency_maps
from baa.data import augment, blur_augment, load, summarize
from baa.io.images import read_image, resize_pad
from baa.book.viz import DPI, box_outline, image_grid, legend_patches, overlay, to_numpy
from baa.paper import QUALITIES
from baa.phantom import CARPAL_NAMES, PhantomConfig, render
from baa.restore import psnr

SHOW = 192  # figures of the anatomy are rendered at this size, whatever the profile
STANDARD = PhantomConfig(size=SHOW, pose_variation=False, site_variation=False, collimation=False, marker=False)
REAL_XRAYS = Path(__file__).resolve().parents[3] / "shared" / "real-xrays"  # beside the repository, when present
PIPELINE_COLOURS = {"plain": "tab:gray", "cq": "tab:blue", "dq": "tab:orange", "nq": "tab:green", "cq_multilabel": "tab:purple"}


# -- chapter 1: the phantom --------------------------------------------------------------------------

def phantom_ages(seed: int, ages=(0.5, 2.0, 4.0, 7.0, 10.0, 13.0, 16.0, 19.0)):
    """One phantom child at several bone ages, as a girl (top) and a boy, standard pose and exposure."""
    a, m = torch.tensor(tuple(ages) * 2), torch.tensor([0] * len(ages) + [1] * len(ages))
    grid = render(torch.zeros(len(a), dtype=torch.int64), seed=seed, config=STANDARD, override={"bone_age": a, "male": m})
    titles = [f"{x:g} y, {'boy' if s else 'girl'}\n{int(c)} carpals" for x, s, c in zip(a, m, grid["maturity"]["n_carpals"])]
    return image_grid(grid["image"], titles, ncols=len(ages), size=1.5,
                      suptitle=f"The same phantom child at {len(ages)} bone ages (top: girl, bottom: boy)")


def maturity_curves(pop: dict):
    """Share of rendered subjects with each carpal by bone age (dotted: the timetable), and the mean
    fusion progress of groups of epiphyses (shaded: published fusion ranges)."""
    names = list(pop["maturity"]["names"])
    ba, male = pop["bone_age"].numpy(), pop["male"].numpy().astype(bool)
    present, fusion = pop["maturity"]["present"].numpy(), pop["maturity"]["fusion"].numpy()
    app, cmap, edges = timetable("app"), plt.get_cmap("tab10"), np.arange(0, 19.0 + 1e-9, 1.0)
    mid = 0.5 * (edges[1:] + edges[:-1])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=DPI)
    for ax, (sex, m) in zip(axes[:2], SEXES):
        for c, bone in enumerate(CARPAL_NAMES):
            ax.plot(mid, binned_share(ba[male == m], present[male == m, names.index(bone)], edges), color=cmap(c), lw=1.2, label=bone)
            ax.axvline(app.loc[bone, sex], color=cmap(c), ls=":", lw=1)
        ax.set(xlim=(0, 14), xlabel="bone age (years)", ylabel="share of subjects with the centre")
        ax.set_title(f"carpal appearance, {sex} (dotted: timetable)", fontsize=9)
    axes[0].legend(fontsize=6, ncol=2)
    for c, (group, members) in enumerate(FUSION_GROUPS.items()):
        cols = [names.index(x) for x in members]
        for (sex, m), ls in zip(SEXES, ("-", "--")):
            axes[2].plot(mid, binned_share(ba[male == m], fusion[male == m][:, cols].mean(1), edges), ls, color=cmap(c),
                         lw=1.2, label=group if not m else None)
    for (lo, hi), col in zip(REFERENCE_FUSION["hand"], ("pink", "lightblue")):
        axes[2].axvspan(lo, hi, color=col, alpha=0.25)
    axes[2].set(xlim=(8, 19), xlabel="bone age (years)", ylabel="mean fusion progress")
    axes[2].set_title("epiphyseal fusion (solid girls, dashed boys;\nshaded: published hand fusion, girls pink, boys blue)", fontsize=8)
    axes[2].legend(fontsize=6)
    fig.tight_layout()
    return fig


def maturity_schedule():
    """Every centre's population schedule: present (green carpals, blue epiphyses), fusing (red)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), dpi=DPI, sharey=True)
    app = timetable("app")
    for ax, (sex, m) in zip(axes, SEXES):
        s = schedule(m)
        for j, (name, r) in enumerate(s.iterrows()):
            end = r["fused"] if np.isfinite(r["fused"]) else 21.0
            colour = "tab:green" if name in CARPAL_NAMES or name == "sesamoid" else "tab:blue"
            ax.plot([r["appears"], end], [j, j], color=colour, lw=4, solid_capstyle="butt")
            if np.isfinite(r["fused"]):
                ax.plot([r["fusion starts"], end], [j, j], color="tab:red", lw=4, solid_capstyle="butt")
            if name in CARPAL_NAMES:
                ax.plot(app.loc[name, sex], j, "k|", ms=10, mew=2)
        ax.set_yticks(range(len(s)), s.index, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("bone age (years)"), ax.set_title(f"{sex}: present (green carpals, blue epiphyses), fusing (red)", fontsize=8)
        ax.axvspan(*REFERENCE_FUSION["radius"][m], color="grey", alpha=0.15)
    fig.suptitle("Phantom maturity schedule; black ticks: timetable carpal appearance; grey: published distal-radius "
                 "fusion", fontsize=9)
    fig.tight_layout()
    return fig


def mask_panels(seed: int, ages=(2.0, 8.0, 15.0)):
    """Boys of ``ages`` in the standard pose beside their masks (``render(..., masks=True)``) and landmarks."""
    mk = render(torch.arange(len(ages)), seed=seed, config=STANDARD, masks=True,
                override={"bone_age": torch.tensor(ages), "male": torch.ones(len(ages))})
    order = ("hand", "bones", "epiphyses", "carpals")
    fig, axes = plt.subplots(1, 2 * len(ages), figsize=(12, 2.6), dpi=DPI)
    for i, a in enumerate(ages):
        axes[2 * i].imshow(to_numpy(mk["image"][i]), cmap="gray", vmin=0, vmax=1)
        axes[2 * i + 1].imshow(overlay(mk["image"][i], {n: mk["masks"][n][i] for n in order}, alpha=0.5))
        lm = mk["landmarks"][i].numpy()
        axes[2 * i + 1].plot(lm[:, 0], lm[:, 1], "c.", ms=2)
        axes[2 * i].set_title(f"boy, bone age {a:g} y", fontsize=8)
        frac = {n: 100 * mk["masks"][n][i].float().mean().item() for n in order}
        axes[2 * i + 1].set_title(f"bones {frac['bones']:.0f} %, growth {frac['epiphyses']:.1f} %, carpals "
                                  f"{frac['carpals']:.1f} %", fontsize=7)
    for ax in axes:
        ax.axis("off")
    fig.legend(handles=legend_patches(order), loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def readings(subjects: dict):
    """The two readings against each other, the label's error, and bone against chronological age."""
    ba, r = subjects["bone_age"].numpy(), subjects["readings"].numpy()
    label, ca = subjects["label"].numpy(), subjects["chrono_age"].numpy()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), dpi=DPI)
    sc = axes[0].scatter(r[:, 0], r[:, 1], s=2, c=ba, cmap="viridis")
    fig.colorbar(sc, ax=axes[0], fraction=0.046, label="true bone age")
    axes[0].set(xlabel="reading 1 (y)", ylabel="reading 2 (y)")
    axes[1].scatter(ba, label - ba, s=2, alpha=0.5)
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set(xlabel="true bone age (y)", ylabel="label - true (y)")
    axes[2].scatter(ca, ba, s=2, alpha=0.4)
    axes[2].set(xlabel="chronological age (y)", ylabel="bone age (y)")
    for ax, title in zip(axes, ("two readings", "label = mean of the readings", "bone vs chronological age")):
        ax.set_title(title, fontsize=9)
    for ax in axes[[0, 2]]:
        ax.plot([0, 20], [0, 20], "k--", lw=0.8)
    fig.tight_layout()
    return fig


def stage_floor(floor: dict, seed: int):
    """The perfect stage reader's MAE by age band, beside the label noise and the paper's range."""
    fig, ax = plt.subplots(figsize=(6.5, 2.8), dpi=DPI)
    bands = list(floor["by_age"])
    ax.bar(bands, [floor["by_age"][b] for b in bands], color="tab:green", label="perfect stage reader")
    ax.axhline(floor["label_noise"], color="k", ls=":", lw=1, label=f"label noise ({floor['label_noise']:.2f} y)")
    ax.axhspan(0.6, 0.9, color="tab:blue", alpha=0.12, label="paper's range on the DHA (0.6-0.9 y)")
    ax.set(xlabel="bone age band (years)", ylabel="MAE against the label (y)", ylim=(0, 1.15))
    ax.set_title(f"phantom (seed {seed}): the floor by age, {floor['n_test']} held-out subjects", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def age_histogram(data, profile: str):
    """Labels of a dataset by sex, stacked, in yearly bins."""
    age, male = data.age.numpy(), data.male.numpy()
    fig, ax = plt.subplots(figsize=(6, 2.8), dpi=DPI)
    ax.hist([age[male == 0], age[male == 1]], bins=np.arange(0, 20.01, 1.0), stacked=True, label=["girls", "boys"])
    ax.set(xlabel="label (bone age, years)", ylabel="images")
    ax.legend(fontsize=8)
    ax.set_title(f"{data.source}: {len(data)} training images, profile {profile}", fontsize=9)
    fig.tight_layout()
    return fig


def fold_boxes(age, folds, profile: str):
    """The age distribution of each validation fold."""
    fig, ax = plt.subplots(figsize=(6, 2.8), dpi=DPI)
    ax.boxplot([np.asarray(age)[v] for v in folds])
    ax.set_xticks(range(1, len(folds) + 1), [f"fold {f + 1}" for f in range(len(folds))])
    ax.set_ylabel("label (years)"), ax.set_title(f"age distribution of each validation fold ({profile})", fontsize=9)
    fig.tight_layout()
    return fig


def round_trip(rt: dict, n: int = 6):
    """The first ``n`` images ``maturity.round_trip`` read back, with their id, age and sex."""
    d = rt["data"]
    titles = [f"id {i}\n{a:.1f} y, {'M' if m else 'F'}" for i, a, m in zip(d.ids, d.age.tolist(), d.male.tolist())]
    return image_grid(d.images[:n], titles[:n], ncols=n, size=1.6,
                      suptitle=f"read back by baa.data.load: {d.images.shape[-1]}x{d.images.shape[-1]}")


def own_data(root: str, fmt: str, size: int):
    """A folder of real data: ``summarize``'s JSON, then its first 8 images."""
    print(json.dumps(summarize(root, fmt, progress=False), indent=1))
    mine = load(root, fmt, size=size, limit=8, progress=False)
    return image_grid(mine.images, [f"{a:.1f} y" for a in mine.age.tolist()], ncols=8, size=1.4, suptitle=mine.source)


def augmentations(seed: int, image_seed: int, age: float = 10.0):
    """Fig. 6: the first child of ``site_variation(image_seed)`` rotated, shifted, zoomed, all three
    (each warped, ``p_warp=1``) and blurred, with the generators seeded by ``seed``."""
    image = render(0, seed=image_seed, size=SHOW, override={"bone_age": age})["image"][0]
    settings = {"a: original": dict(max_rotation=0.0, max_shift=0.0, zoom=(1.0, 1.0)),
                "b: rotation": dict(max_shift=0.0, zoom=(1.0, 1.0)), "c: shift": dict(max_rotation=0.0, zoom=(1.0, 1.0)),
                "d: zoom": dict(max_rotation=0.0, max_shift=0.0), "e: combined": dict()}
    x = image[None]
    shown = [augment(x, generator=torch.Generator().manual_seed(seed), p_warp=1.0, **kw)[0] for kw in settings.values()]
    shown.append(blur_augment(x, generator=torch.Generator().manual_seed(seed), p=1.0)[0])
    return image_grid(shown, list(settings) + ["f: blur (beyond the paper)"], ncols=6, size=1.9,
                      suptitle="Fig. 6: random rotation, shift, zoom (baa.data.augment), and blur")


def site_variation(seed: int, age: float = 10.0, n: int = 6):
    """Fig. 5 on the phantom: ``n`` children of one bone age, each with its own exposure and pose."""
    site = render(torch.arange(n), seed=seed, size=SHOW, override={"bone_age": age})
    return image_grid(site["image"], [f"mean {x.mean():.2f}, SD {x.std():.2f}" for x in site["image"]], ncols=n, size=1.75,
                      suptitle=f"Fig. 5 on the phantom: bone age {age:g} y, {n} sites (brightness, contrast, gamma, pose)")


def real_beside_phantom(seed: int, folder: Path = REAL_XRAYS, n: int = 5):
    """The first ``n`` real radiographs of ``folder`` (the project's ``../shared/real-xrays``; read as
    ``baa assess`` reads a file, padded to a square) above phantom children of 0.3-3 years; ``None``
    when the folder is absent."""
    files = sorted(Path(folder).glob("*.png"))[:n] if Path(folder).is_dir() else []
    if not files:
        return None
    young = render(torch.arange(len(files)), seed=seed, size=SHOW, config=PhantomConfig(size=SHOW, age_range=(0.3, 3.0)))
    titles = [f"real: {p.name}" for p in files] + [f"phantom, {a:.1f} y" for a in young["bone_age"].tolist()]
    return image_grid([resize_pad(read_image(p), SHOW) for p in files] + list(young["image"]), titles, ncols=len(files),
                      size=1.9, suptitle="Top: real radiographs of young children (no labels). Bottom: phantom, bone age 0.3-3 y")


# -- chapter 2: degradations -------------------------------------------------------------------------

def fig1(images: torch.Tensor, seed: int, kinds=G.KIND_COLUMNS):
    """Fig. 1: each image clean and under each degradation, PSNR against the clean image in the title."""
    versions = {kind: D.degrade(images, kind, seed) for kind in kinds}
    shown, titles = [], []
    for i in range(len(images)):
        for kind in kinds:
            q = psnr(images[i], versions[kind][i])
            shown.append(versions[kind][i])
            titles.append(kind + ("" if np.isinf(q) else f"\n{q:.1f} dB"))
    return image_grid(shown, titles, ncols=len(kinds), size=1.9, suptitle=f"Fig. 1 on the phantom ({images.shape[-1]}² px)")


def noise_levels(clean: torch.Tensor, noisy: dict, table):
    """One image at each photon number, and the PSNR against the dose, measured and predicted."""
    fig = plt.figure(figsize=(11, 2.5), dpi=DPI)
    gs = fig.add_gridspec(1, len(noisy) + 1, width_ratios=[1] * len(noisy) + [1.7])
    for j, (n0, x) in enumerate(noisy.items()):
        ax = fig.add_subplot(gs[0, j])
        ax.imshow(to_numpy(x[0]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"N0 = {n0:g}\n{psnr(clean[0], x[0]):.1f} dB", fontsize=8)
        ax.axis("off")
    ax = fig.add_subplot(gs[0, len(noisy)])
    ax.semilogx(table["photons N0"], table["PSNR measured (dB)"], "o-", label="measured")
    ax.semilogx(table["photons N0"], table["PSNR predicted (dB)"], "k--", label="delta method")
    ax.axvline(D.PHOTONS, color="r", lw=0.8, label="default")
    ax.set(xlabel="photons per pixel N0", ylabel="PSNR (dB)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def poisson_check(check: dict):
    """``analysis.degradation.poisson_check`` drawn: counts' variance against their mean, the
    display-domain variance against the delta method, and the bias of the log transform."""
    k, v = D.LINE_INTEGRAL_SCALE, check["v"]
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.0), dpi=DPI)
    mean_c = check["mean_counts"]
    axes[0].loglog(mean_c, check["var_counts"], "o", ms=3, label="measured")
    lim = np.array([mean_c.min(), mean_c.max()])
    axes[0].loglog(lim, lim, "k--", lw=1, label="Var = mean (Poisson)")
    axes[0].set(xlabel="mean counts", ylabel="variance of counts")
    axes[0].set_title(f"counts, N0 = {check['photons_fit']:g}: slope {check['slope']:.3f}", fontsize=9)
    axes[1].semilogy(v, check["var_v"], "o", ms=3, label="measured")
    axes[1].semilogy(v, np.exp(k * v) / (k * k * D.PHOTONS), "k--", lw=1, label="exp(kv)/(k^2 N0)")
    axes[1].set(xlabel="clean display value v", ylabel="Var(v_hat)")
    axes[1].set_title(f"display domain, N0 = {D.PHOTONS:g}", fontsize=9)
    axes[2].plot(v, check["bias_v"], "o-", ms=3)
    axes[2].axhline(0, color="k", lw=0.8)
    axes[2].set(xlabel="clean display value v", ylabel="mean(v_hat) - v")
    axes[2].set_title("bias of the log transform", fontsize=9)
    for ax in axes[:2]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def label_region(region: dict, cover: dict, masks: dict):
    """Where labels fall (share of boxes covering each pixel), their sizes, and one label over the bones."""
    lo, hi = region["first"], region["last"] + 1
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.1), dpi=DPI)
    im = axes[0].imshow(region["coverage"].numpy(), cmap="magma")
    axes[0].set_title(f"{region['n']} label boxes: share covering each pixel", fontsize=9)
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    sides, size = region["sides"], region["size"]
    bins = (np.arange(int(sides.min() * size), int(sides.max() * size) + 2) - 0.5) / size  # one bin per pixel
    axes[1].hist(sides[:, 0].numpy(), bins=bins, alpha=0.6, label="height")
    axes[1].hist(sides[:, 1].numpy(), bins=bins, alpha=0.6, label="width")
    axes[1].set_xlabel("side / image side"), axes[1].legend(fontsize=7), axes[1].set_title("label size", fontsize=9)
    axes[2].imshow(overlay(cover["labelled"][0], {"bones": masks["bones"][0], "epiphyses": cover["label_mask"][0]}, alpha=0.5))
    axes[2].set_title("label (red) over the bones (yellow)", fontsize=9)
    for ax in axes[[0, 2]]:
        box_outline(ax, lo, lo, hi, hi, ec="c", ls="--", lw=1)
        ax.axis("off")
    fig.tight_layout()
    return fig


def histograms_spectra(degraded: dict):
    """Pixel histograms and radially averaged power spectra of each kind's images."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), dpi=DPI)
    for kind, x in degraded.items():
        axes[0].hist(x.flatten().numpy(), bins=np.linspace(0, 1, 65), histtype="step", lw=1.2, label=kind, density=True)
        f, pw = G.radial_power_spectrum(x)
        axes[1].loglog(f[1:], pw[1:], lw=1.2, label=kind)
    axes[0].set(yscale="log", xlabel="pixel value", ylabel="density")
    axes[0].set_title("histograms (log scale)", fontsize=9)
    axes[1].axvline(G.CUTOFF, color="k", ls=":", lw=1)
    axes[1].set(xlabel="spatial frequency (cycles / pixel)", ylabel="power")
    axes[1].set_title("radially averaged power spectrum", fontsize=9)
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# -- chapter 3: BoNet+ and the loss ------------------------------------------------------------------

def parameter_bars(parts, total: int):
    fig, ax = plt.subplots(figsize=(7, 2.6), dpi=DPI)
    (parts / 1e6).plot.bar(ax=ax, color="tab:blue")
    ax.set_ylabel("parameters (M)")
    ax.set_title(f"BoNet+ at the paper's size: {total / 1e6:.2f} M parameters per row of Table 1")
    fig.tight_layout()
    return fig


def _loss_style(objective: str) -> dict:
    return dict(ls="-" if objective == "mae" else "--", color="tab:blue" if objective == "mae" else "tab:orange")


def training_curves(hist, title: str):
    """Training loss (own units) and validation MAE per epoch, per loss and fold (``report.history_frame``)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3), dpi=DPI)
    for (objective, fold), h in hist.groupby(["objective", "fold"]):
        label = f"L_{objective.upper()}, fold {fold}"
        axes[0].plot(h["epoch"], h["loss"], marker="o", ms=3, label=label, **_loss_style(objective))
        if "val_mae" in h:
            axes[1].plot(h["epoch"], h["val_mae"], marker="o", ms=3, label=label, **_loss_style(objective))
    axes[0].set(xlabel="epoch", ylabel="training loss (own units)", yscale="log", title="training loss")
    axes[1].set(xlabel="epoch", ylabel="validation MAE (years)", title="validation MAE")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def fig11(loss: dict, title: str):
    """Fig. 11: the cumulative score of each loss, and the pooled validation predictions."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=DPI)
    top = 19.0
    for name, (t, frac) in ccs_curves(loss).items():
        pred, true = pooled_predictions(loss, name)
        axes[0].plot(t, frac, color=_loss_style(name)["color"], label=f"BoNet+_{name.upper()}")
        axes[1].scatter(true, pred, s=8, alpha=0.6, color=_loss_style(name)["color"], label=f"BoNet+_{name.upper()}")
        top = max(top, float(true.max()) + 0.5)
    axes[0].set(xlabel="threshold t (years)", ylabel="fraction with |error| ≤ t", title="Fig. 11: CCS", ylim=(0, 1.02))
    axes[1].plot([0, top], [0, top], "k--", lw=1)
    axes[1].set(xlabel="true bone age (years)", ylabel="predicted (years)", title="validation predictions",
                xlim=(0, top), ylim=(0, top))
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# -- chapter 4: restoration --------------------------------------------------------------------------

@torch.inference_mode()
def fig9(dq, clean: torch.Tensor, degraded: dict, i: int, title: str):
    """Fig. 9: one image under each quality, DQ's predicted residual, the true residual, the restored image."""
    fig, axes = plt.subplots(4, 4, figsize=(8, 8.6), dpi=DPI)
    y = clean[i:i + 1]
    for j, q in enumerate(QUALITIES):
        x = degraded[q][i:i + 1]
        r, true_r = dq.forward_residual(x), y - x
        lim = max(float(r.abs().max()), float(true_r.abs().max()), 1e-3)
        panels = [(x, "gray", 0, 1), (r, "RdBu_r", -lim, lim), (true_r, "RdBu_r", -lim, lim), ((x + r).clamp(0, 1), "gray", 0, 1)]
        for row, (img, cmap, lo, hi) in enumerate(panels):
            axes[row, j].imshow(img[0, 0].float(), cmap=cmap, vmin=lo, vmax=hi)
            axes[row, j].set_xticks([]), axes[row, j].set_yticks([])
        axes[0, j].set_title(QUALITY_NAMES[q])
        axes[3, j].set_xlabel(f"PSNR {psnr(x, y):.1f} → {psnr((x + r).clamp(0, 1), y):.1f} dB", fontsize=8)
    for row, name in enumerate(["input", "predicted residual", "true residual\n(clean − input)", "restored"]):
        axes[row, 0].set_ylabel(name, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def confusion(matrix):
    """The quality classifier's confusion matrix, counts in the cells."""
    c = np.asarray(matrix)
    names = [QUALITY_NAMES[q] for q in QUALITIES]
    fig, ax = plt.subplots(figsize=(4, 3.4), dpi=DPI)
    ax.imshow(c, cmap="Blues")
    ax.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names, xlabel="predicted",
           ylabel="true", title=f"classifier, accuracy {np.trace(c) / c.sum():.1%}")
    for (r, col), v in np.ndenumerate(c):
        ax.text(col, r, v, ha="center", va="center", color="white" if v > c.max() / 2 else "black", fontsize=9)
    fig.tight_layout()
    return fig


@torch.inference_mode()
def fig14(cq, dq, degraded: dict, i: int, title: str):
    """Fig. 14: one image under each quality (top), CQ's output with its route, DQ's output."""
    fig, axes = plt.subplots(3, 4, figsize=(8, 6.5), dpi=DPI)
    for j, q in enumerate(QUALITIES):
        x = degraded[q][i:i + 1]
        route = QUALITY_NAMES[QUALITIES[int(cq.classify(x).argmax(1))]]
        for row, (img, name) in enumerate([(x, QUALITY_NAMES[q]), (cq.restore(x), f"CQ (routed: {route})"),
                                           (dq(x).clamp(0, 1), "DQ")]):
            axes[row, j].imshow(img[0, 0].float(), cmap="gray", vmin=0, vmax=1)
            axes[row, j].set_title(name, fontsize=8)
            axes[row, j].set_xticks([]), axes[row, j].set_yticks([])
    for row, name in enumerate(["input", "CQ output", "DQ output"]):
        axes[row, 0].set_ylabel(name)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# -- chapter 5: assessment ---------------------------------------------------------------------------

def fig12(results: dict, title: str):
    """Fig. 12: the cumulative score of each pipeline on each quality (and on all three at once)."""
    kinds = list(QUALITIES) + ["all"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(14, 3), sharey=True, dpi=DPI)
    for ax, q in zip(axes, kinds):
        for name, colour in PIPELINE_COLOURS.items():
            if q in results["ccs"].get(name, {}):
                t, frac = ccs_fraction(results, name, q)
                ax.plot(t, frac, color=colour, label=PIPELINE_NAMES[name], ls=":" if name == "cq_multilabel" else "-")
        ax.set(title=QUALITY_NAMES[q], xlabel="threshold t (years)", ylim=(0, 1.02))
    axes[0].set_ylabel("fraction with |error| ≤ t")
    axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# -- chapter 7: saliency -----------------------------------------------------------------------------

def saliency_examples(plain, control, images: torch.Tensor, grow: torch.Tensor, labels, layer: str, title: str):
    """Young, middle and old images (rows): the growth regions, then plain BoNet+'s Grad-CAM, input
    gradients and SmoothGrad, and a random network's Grad-CAM, each titled with its enrichment."""
    order = labels.argsort()
    rows = [int(order[0]), int(order[len(order) // 2]), int(order[-1])]
    x = images[rows]
    maps = {"Grad-CAM": saliency_maps(plain, x, "gradcam", layer), "input gradient": saliency_maps(plain, x, "gradient"),
            "SmoothGrad": saliency_maps(plain, x, "smoothgrad"), "random net, Grad-CAM": saliency_maps(control, x, "gradcam", layer)}
    fig, axes = plt.subplots(len(rows), 1 + len(maps), figsize=(2.1 * (1 + len(maps)), 2.2 * len(rows)), dpi=80, squeeze=False)
    for r, j in enumerate(rows):
        saliency_overlay(axes[r, 0], x[r], None, grow[j], f"{float(labels[j]):.1f} y")
        for c, (name, m) in enumerate(maps.items(), start=1):
            e = enrichment(m[r:r + 1], grow[j:j + 1])["enrichment"].item()
            saliency_overlay(axes[r, c], x[r], m[r], grow[j], f"{name}\n{describe(e)}")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def enrichment_bars(table, layer: str, title: str):
    """Growth-region enrichment per quality and pipeline (mean ± sd), one panel per saliency method."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), dpi=80, sharey=True)
    for ax, method in zip(axes, ("gradcam", "gradient")):
        sub = table[table["method"] == method]
        w = 0.8 / sub["pipeline"].nunique()
        for k, (name, g) in enumerate(sub.groupby("pipeline", sort=False)):
            g = g.set_index("quality").loc[list(QUALITIES)]
            ax.bar(np.arange(len(QUALITIES)) + k * w, g["enrichment"], w, yerr=g["enrichment_sd"], capsize=2,
                   label=name, color="#bbbbbb" if name == "random BoNet+" else None)
        ax.axhline(1, color="k", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(QUALITIES)) + 0.4 - w / 2, QUALITIES)
        ax.set_title({"gradcam": f"Grad-CAM ({layer})", "gradient": "input gradient"}[method], fontsize=9)
    axes[0].set_ylabel("growth-region enrichment")
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def saliency_by_quality(pipes: dict, images: torch.Tensor, grow: torch.Tensor, j: int, degrade, method: str,
                        layer: str, title: str):
    """Image ``j`` under each quality (rows, ``degrade(images, kind)``), every pipeline's map (columns)."""
    fig, axes = plt.subplots(len(QUALITIES), len(pipes), figsize=(2.1 * len(pipes), 2.2 * len(QUALITIES)), dpi=80, squeeze=False)
    for r, kind in enumerate(QUALITIES):
        xk = degrade(images, kind)[j:j + 1]
        for c, (name, pipe) in enumerate(pipes.items()):
            m = saliency_maps(pipe, xk, method, layer if method == "gradcam" else None)
            e = enrichment(m, grow[j:j + 1])["enrichment"].item()
            saliency_overlay(axes[r, c], xk[0], m[0], grow[j], f"{PIPELINE_NAMES[name]}, {kind}\n{describe(e)}")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


# -- chapter 8: the bench ----------------------------------------------------------------------------

def restoration_examples(examples: dict, title: str):
    """One bench image under each degradation, restored by every method, PSNR in each title."""
    ncol = max(len(m) for m in examples.values())
    fig, axes = plt.subplots(len(examples), ncol, figsize=(1.9 * ncol, 2.1 * len(examples)), squeeze=False, dpi=80)
    for row, (kind, imgs) in zip(axes, examples.items()):
        for ax in row:
            ax.axis("off")
        for ax, (method, img) in zip(row, imgs.items()):
            ax.imshow(img[0], cmap="gray", vmin=0, vmax=1)
            ax.set_title(method if method == "clean" else f"{method}\n{psnr(img[0], imgs['clean'][0]):.1f} dB", fontsize=8)
        row[0].text(-0.15, 0.5, kind, transform=row[0].transAxes, rotation=90, va="center", ha="right", fontsize=10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def mae_after_restoration(rest: dict, title: str):
    """BoNet+'s MAE after each restorer (grey: none, blue: classical, red: ResUNet; dashed: clean)."""
    fig, axes = plt.subplots(1, len(rest), figsize=(4.2 * len(rest), 3.2), sharey=True, dpi=80)
    for ax, (kind, methods) in zip(np.atleast_1d(axes), rest.items()):
        names = [m for m in methods if m != "clean"]
        vals = [methods[m]["mae_years"] for m in names]
        ax.bar(range(len(names)), vals, color=["0.6" if m == "degraded" else "tab:red" if m.startswith("resunet")
                                               else "tab:blue" for m in names])
        ax.axhline(methods["clean"]["mae_years"], color="k", ls="--", lw=1, label="clean images")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_title(kind)
        ax.set_ylim(0, 1.3 * max(vals + [methods["clean"]["mae_years"]]))
    np.atleast_1d(axes)[0].set_ylabel("BoNet+ MAE after restoration (years)")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def inference_speed(inf, hardware: str, cpu_size: int):
    """BoNet+ latency per cumulative speed-up, at 256² and at the cpu profile, with the 100 ms target."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), dpi=80)
    for ax, tag, label in zip(axes, ("256", "cpu_profile"), ("256² paper size", f"{cpu_size}² cpu profile")):
        col = inf[f"{tag} ms"].dropna()
        ax.barh(range(len(col)), col.values, color="tab:blue")
        ax.set_yticks(range(len(col)), col.index)
        ax.invert_yaxis()
        for i, (v, r) in enumerate(zip(col.values, inf.loc[col.index, f"{tag} speed-up"])):
            ax.text(v, i, f" {v:.0f} ms (×{r:.2f})", va="center", fontsize=8)
        if tag == "256":
            ax.axvline(100, color="tab:red", ls="--", lw=1, label="target 100 ms")
            ax.legend(fontsize=8, loc="lower right")
        ax.set_xlim(0, col.max() * 1.6)
        ax.set_xlabel(f"ms per image on {hardware}", fontsize=8)
        ax.set_title(f"BoNet+ inference, {label}", fontsize=9)
    fig.tight_layout()
    return fig


def training_speed(tr, hardware: str):
    """Training images/s per network: NCHW, channels-last and bf16 autocast, with the speed-ups."""
    bars = [("NCHW images/s", None, "NCHW (before)", "0.6"), ("channels_last images/s", "speed-up", "channels_last", "tab:blue"),
            ("bf16 images/s", "bf16 speed-up", "channels_last + bf16 autocast", "tab:orange")]
    bars = [b for b in bars if b[0] in tr]
    fig, ax = plt.subplots(figsize=(7, 1.4 + 0.18 * len(bars) * len(tr)), dpi=80)
    y, h = np.arange(len(tr)), 0.8 / len(bars)
    for j, (col, ratio, label, colour) in enumerate(bars):
        off = (j - (len(bars) - 1) / 2) * h
        ax.barh(y + off, tr[col], h, label=label, color=colour)
        for i, (v, r) in enumerate(zip(tr[col], tr[ratio] if ratio else [np.nan] * len(tr))):
            if np.isfinite(r):
                ax.text(v, i + off, f" ×{r:.2f}", va="center", fontsize=7)
    ax.set_yticks(y, tr.index, fontsize=8)
    ax.invert_yaxis()
    rates = tr[[b[0] for b in bars]]
    if rates.max().max() / rates.min().min() > 20:  # paper-size and cpu-profile rates differ by orders of magnitude
        ax.set_xscale("log")
    else:
        ax.set_xlim(0, 1.25 * rates.max().max())
    ax.set_xlabel(f"training images / s on {hardware}", fontsize=8)
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1), ncol=len(bars), frameon=False)
    fig.tight_layout()
    return fig
