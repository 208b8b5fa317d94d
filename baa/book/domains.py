"""Chapter 11's figures and tables (notebooks/11-phantom-to-real.ipynb): phantoms and real films
side by side at the network's input, their intensity histograms, a 2-D projection of BoNet+'s
features of both domains, where in its input the network reads its age (``occlusion``), the shipped
model's readings of the real films, the results of ``python -m baa.experiments.transfer run`` (predicted
against true age, the learning curve) and of ``python -m baa.experiments.transfer_recipes`` (which
phantom closes the gap, ``recipe_table``; the bone maps, ``figure_bone_maps``, and the toddlers' readings,
``toddler_table``; the real labels inside the training, ``joint_table``, and their readings of each film,
``figure_joint_readings``); and
chapter 9's real film through ``baa restore``'s film-scale restorer (``film_restoration``) and the hand
classifier's probabilities (``figure_hand_probabilities``).

Layer: book.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from baa.analysis.saliency import occlusion_bands
from baa.book.viz import image_grid
from baa.experiments import film_restore, film_router
from baa.experiments.transfer import (ANATOMY, HEADS, PHANTOM_TEST, SHIPPED_HEAD, TTA, Recipe, mean_sd, network_inputs,
                                      phantom_inputs, real_inputs, scores)
from baa.experiments.transfer_recipes import (RECIPES_JSON, cross_validation, joint_rows, recipe_rows,
                                              with_head)
from baa.paper import KINDS
from baa.train import predict
from baa.weights import load_shipped


def chapter_inputs(n_phantoms: int = 48, size: int | None = None, seed: int = 0) -> dict:
    """What the chapter shows live: phantoms (look randomised) and real films, prepared at the
    shipped model's size, raw, standardised and as the shipped BoNet+ reads them (``"input"``: its bone
    maps); ``real`` is None when ``../shared`` is absent."""
    m = load_shipped()
    size = size or m["size"]
    rec = m["meta"].get("recipe", {})  # the phantoms of the shipped model's own recipe
    anatomy = {f: rec[f] for f in ANATOMY if f in rec}  # a field the recipe lacks: the phantom's default
    ph = phantom_inputs(n_phantoms, size, seed, start=PHANTOM_TEST, render_size=rec.get("render_size", Recipe.render_size),
                        **anatomy)
    real = real_inputs(size)
    view = lambda d: {**d, "input": m["pipe"].network_view(d["image"])}  # noqa: E731
    return {"models": m, "phantoms": view(ph), "real": real and {k: view(v) for k, v in real.items()}, "size": size}


def exposed_fields(real: dict | None) -> pd.DataFrame | None:
    """One row per real film of ``real`` (``real_inputs``): its set, name, age (rsna-dev) and whether the
    preparation found its hand inside an exposed field (``prepare_full``'s ``info["exposed_field"]``); None when
    ``../shared`` is absent."""
    if real is None:
        return None
    rs = real["rsna"]
    frames = [pd.DataFrame({"set": "rsna-dev", "film": rs["ids"], "age": rs["age"].numpy(),
                            "exposed field": rs["exposed_field"].numpy()})]
    if "toddlers" in real:
        t = real["toddlers"]
        frames.append(pd.DataFrame({"set": "toddlers", "film": t["names"], "age": np.nan,
                                    "exposed field": t["exposed_field"].numpy()}))
    return pd.concat(frames, ignore_index=True)


def figure_domains(inp: dict, n: int = 8):
    """Rows: phantoms and real films after preparation, then after standardisation."""
    rows = [("phantom, prepared", inp["phantoms"]["raw"]), ("phantom, standardised", inp["phantoms"]["image"])]
    if inp["real"]:
        rows += [("RSNA film, prepared", inp["real"]["rsna"]["raw"]), ("RSNA film, standardised", inp["real"]["rsna"]["image"])]
        if "toddlers" in inp["real"]:
            rows += [("toddler film, standardised", inp["real"]["toddlers"]["image"])]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.4 * n, 1.5 * len(rows)))
    for (name, x), ax in zip(rows, axes):
        for j, a in enumerate(ax):
            a.imshow(x[j % len(x), 0], cmap="gray", vmin=0, vmax=1)
            a.set_xticks([]), a.set_yticks([])
        ax[0].set_ylabel(name, fontsize=7)
    fig.tight_layout()
    return fig


def figure_histograms(inp: dict):
    """Intensity histograms inside the hand mask, both domains, before and after standardisation."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    sets = [("phantoms", inp["phantoms"])] + ([("RSNA films", inp["real"]["rsna"])] if inp["real"] else [])
    for ax, key, title in zip(axes, ("raw", "image"), ("prepared (baa.data.prepare)", "standardised")):
        for name, d in sets:
            v = d[key].flatten().numpy()
            mask = (d["image"].flatten().numpy() > 0)  # the hand mask of the standardisation
            ax.hist(v[mask], bins=50, density=True, histtype="step", label=name)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("intensity inside the hand")
    axes[0].legend()
    fig.tight_layout()
    return fig


def feature_projection(inp: dict) -> dict:
    """A 2-D PCA of the shipped BoNet+'s pooled features of phantoms and real films (of what it reads: their bone
    maps), fitted on both."""
    bonet = inp["models"]["pipe"].regressor.bonet
    Fp, ap = network_inputs(bonet, inp["phantoms"]["input"], tta=1)
    out = {"phantom": Fp, "phantom_age": inp["phantoms"]["age"].numpy()}
    if inp["real"]:
        out["rsna"], _ = network_inputs(bonet, inp["real"]["rsna"]["input"], tta=1)
        out["rsna_age"] = inp["real"]["rsna"]["age"].numpy()
        if "toddlers" in inp["real"]:
            out["toddlers"], _ = network_inputs(bonet, inp["real"]["toddlers"]["input"], tta=1)
    allf = np.concatenate([v for k, v in out.items() if not k.endswith("_age")])
    mu = allf.mean(0)
    _, _, Vt = np.linalg.svd(allf - mu, full_matrices=False)
    return {k: (v if k.endswith("_age") else (v - mu) @ Vt[:2].T) for k, v in out.items()}


def figure_projection(proj: dict):
    fig, ax = plt.subplots(figsize=(5, 4))
    sc = ax.scatter(*proj["phantom"].T, c=proj["phantom_age"], cmap="viridis", s=12, marker="o", label="phantoms")
    if "rsna" in proj:
        ax.scatter(*proj["rsna"].T, c=proj["rsna_age"], cmap="viridis", s=40, marker="^", edgecolors="k", label="RSNA films")
    if "toddlers" in proj:
        ax.scatter(*proj["toddlers"].T, c="none", s=40, marker="s", edgecolors="r", label="toddler films")
    fig.colorbar(sc, label="age (y)")
    ax.set_xlabel("PC 1"), ax.set_ylabel("PC 2"), ax.legend(fontsize=7)
    return fig


def occlusion(inp: dict, bands: int = 8, tta: int = 4) -> dict:
    """How much the shipped BoNet+ as trained (no head) moves its age when one horizontal band of its
    input (the bone maps, where it reads maps) is blanked (``saliency.occlusion_bands``), per image: the
    real RSNA films (and, where it reads several maps, the band of one map at a time), for each of them the
    held-out phantom nearest in age, and the toddler films. Returns ``{name: (N, bands) array}``."""
    pipe = inp["models"]["pipe"]
    bonet = pipe.regressor.bonet
    fn = lambda x: torch.from_numpy(network_inputs(bonet, x, tta=tta)[1])
    out = {}
    if inp["real"]:
        ra, pa = inp["real"]["rsna"]["age"].numpy(), inp["phantoms"]["age"].numpy()
        out["RSNA films"] = occlusion_bands(fn, inp["real"]["rsna"]["input"], bands).numpy()
        maps = getattr(pipe, "maps", ())
        for c, name in enumerate(maps if len(maps) > 1 else ()):
            out[f"RSNA films, {name} map only"] = occlusion_bands(fn, inp["real"]["rsna"]["input"], bands, channels=[c]).numpy()
        nearest = np.abs(pa[None] - ra[:, None]).argmin(1)
        out["phantoms of the same ages"] = occlusion_bands(fn, inp["phantoms"]["input"][nearest], bands).numpy()
        if "toddlers" in inp["real"]:
            out["toddler films"] = occlusion_bands(fn, inp["real"]["toddlers"]["input"], bands).numpy()
    return out


def figure_occlusion(occ: dict, inp: dict):
    """The mean change of age per blanked band (top of the image to bottom), beside a real film and a
    phantom cut into the same bands."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1, 2.2]})
    bands = next(iter(occ.values())).shape[1]
    for ax, (title, im) in zip(axes[:2], [("an RSNA film", inp["real"]["rsna"]["image"][0, 0]),
                                          ("a phantom", inp["phantoms"]["image"][0, 0])]):
        ax.imshow(im, cmap="gray", vmin=0, vmax=1)
        for e in np.linspace(0, im.shape[0], bands + 1)[1:-1]:
            ax.axhline(e - 0.5, color="y", lw=0.6)
        ax.set_title(title, fontsize=9), ax.axis("off")
    for name, d in occ.items():
        m, se = d.mean(0), d.std(0, ddof=1) / np.sqrt(len(d))
        axes[2].errorbar(np.arange(1, bands + 1), m, yerr=se, marker="o", capsize=2, label=f"{name} (n={len(d)})")
    axes[2].axhline(0, color="k", lw=0.5)
    axes[2].set_xlabel("blanked band (1 = top: fingertips; last = forearm)"), axes[2].set_ylabel("change of age (y), mean ± SE")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return fig


def recipe_table(res: dict):
    """``transfer_recipes``' variants, one row each: mean ± SD over seeds (``recipe_rows``)."""
    return pd.DataFrame(recipe_rows(res))


def figure_recipes(res: dict, baseline: float | None = None):
    """For each variant, every seed's held-out phantom MAE, zero-shot MAE and r on rsna-dev and shipped-head
    leave-one-out MAE (dots; bar: the mean); ``baseline``, the mean-age MAE, dashed: a phantom learned
    better is not a real film read better."""
    names = [n for n, v in res["variants"].items() if v["seeds"]]
    panels = [("held-out phantoms, MAE (y)", lambda e: (e.get("phantom") or {}).get("mae", np.nan)),
              ("rsna-dev zero-shot, MAE (y)", lambda e: e["zero_shot"]["mae"]),
              ("rsna-dev zero-shot, r", lambda e: e["zero_shot"]["r"]),
              ("rsna-dev ridge_residual (LOO), MAE (y)", lambda e: e["cv"]["ridge_residual"]["mae"])]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 0.45 * len(names) + 1.6), sharey=True)
    for ax, (title, get) in zip(axes, panels):
        for i, n in enumerate(names):
            vals = [get(e) for e in res["variants"][n]["seeds"]]
            ax.plot(vals, [i] * len(vals), "o", alpha=0.6, color="C0")
            ax.plot([np.nanmean(vals)], [i], "|", ms=14, mew=2, color="k")
        if baseline is not None and "rsna-dev" in title and "MAE" in title:
            ax.axvline(baseline, ls="--", color="r", lw=1, label="mean age (LOO)")
            ax.legend(fontsize=7)
        ax.set_title(title, fontsize=8), ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names, fontsize=8), axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


def load_bone_maps(variant: str = "bone_maps", folder: Path | None = None) -> dict | None:
    """The maps of one seed's segmenter that ``transfer_recipes.compare`` saved for ``variant``; None if absent."""
    f = Path(folder or RECIPES_JSON.parent) / f"bone_maps_{variant}.pt"
    return torch.load(f) if f.exists() else None


def _rgb(m: torch.Tensor) -> np.ndarray:
    return m.permute(1, 2, 0).clamp(0, 1).numpy()  # bones red, carpals green, epiphyses blue


def figure_bone_maps(ex: dict, n: int = 7):
    """A phantom-trained segmenter's maps (red: bones, green: carpals, blue: epiphyses): held-out phantoms
    with their true masks, then rsna-dev films (youngest to oldest) and toddler films, each above its maps."""
    rows = [("phantom", ex["phantoms"]["image"], ex["phantoms"].get("age")), ("true masks", ex["phantoms"]["masks"], None),
            ("segmenter's maps", ex["phantoms"]["maps"], None)]
    if "rsna" in ex:
        age = np.asarray(ex["rsna"]["age"])
        pick = np.argsort(age)[np.linspace(0, len(age) - 1, n).round().astype(int)]
        rows += [("RSNA film", ex["rsna"]["image"][pick], age[pick]), ("its maps", ex["rsna"]["maps"][pick], None)]
    if "toddlers" in ex:
        rows += [("toddler film", ex["toddlers"]["image"][:n], None), ("its maps", ex["toddlers"]["maps"][:n], None)]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.4 * n, 1.5 * len(rows)), squeeze=False)
    for (name, x, ages), ax in zip(rows, axes):
        for j, a in enumerate(ax):
            if j < len(x):
                a.imshow(x[j, 0] if x.shape[1] == 1 else _rgb(x[j]), cmap="gray", vmin=0, vmax=1)
                if ages is not None:
                    a.set_title(f"{float(ages[j]):.1f} y", fontsize=7)
            else:
                a.axis("off")
            a.set_xticks([]), a.set_yticks([])
        ax[0].set_ylabel(name, fontsize=7)
    fig.tight_layout()
    return fig


def toddler_table(res: dict):
    """Each toddler film's reading, mean over the seeds of each variant that recorded them (``seed_scores``'
    ``toddlers``); the last row counts the films read under 4 years (the issue's target: all ten)."""
    cols = {n: pd.DataFrame([e["toddlers"] for e in v["seeds"]]).mean() for n, v in res["variants"].items()
            if v["seeds"] and all(e.get("toddlers") for e in v["seeds"])}
    if not cols:
        return None
    t = pd.DataFrame(cols).round(1)
    t.loc["under 4 y"] = (t < 4).sum()
    return t


def joint_table(res: dict):
    """``transfer_recipes``' joint trainings (the real labels among the phantoms), one row each (``joint_rows``)."""
    return pd.DataFrame(joint_rows(res))


def figure_joint(res: dict, reference: str = "images", head: str = "ridge_residual", baseline: float | None = None):
    """Real labels used two ways, every seed's MAE and r on rsna-dev: ``reference``'s ``head`` fitted on the
    phantom-trained features (leave-one-out), and each joint training (the real films among the phantoms,
    k-fold, and each ``with_head``); ``reference`` and each other recipe a joint training trains (its ``variant``)
    first; ``baseline``, the mean-age MAE, dashed."""
    joint = with_head(res)
    recipes = dict.fromkeys([reference, *(v.get("variant", reference) for v in joint.values())])
    rows = [(f"{n} + {head} (LOO)", [e["cv"][head] for e in res["variants"].get(n, {}).get("seeds", [])]) for n in recipes]
    rows += [(f"{n} ({cross_validation(v)})", [e["cv"] for e in v["seeds"]]) for n, v in joint.items()]
    rows = [(n, runs) for n, runs in rows if runs]
    fig, axes = plt.subplots(1, 2, figsize=(8, 0.5 * len(rows) + 1.6), sharey=True)
    for ax, (key, title) in zip(axes, (("mae", "rsna-dev, MAE (y)"), ("r", "rsna-dev, r"))):
        for i, (_, runs) in enumerate(rows):
            vals = [s[key] for s in runs]
            ax.plot(vals, [i] * len(vals), "o", alpha=0.6, color="C0")
            ax.plot([np.mean(vals)], [i], "|", ms=14, mew=2, color="k")
        if baseline is not None and key == "mae":
            ax.axvline(baseline, ls="--", color="r", lw=1, label="mean age (LOO)")
            ax.legend(fontsize=7)
        ax.set_title(title, fontsize=8), ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(rows)), [n for n, _ in rows], fontsize=8), axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


def joint_readings(v: dict) -> dict | None:
    """One joint setting's readings of each rsna-dev film over the seeds that kept them (``compare_joint``):
    ``true``, and for each reading (``pred``, out of fold; "before": ``zero_shot_pred`` and ``head_pred``) the mean
    and SD over seeds, film by film; None when no seed kept its readings."""
    runs = [e for e in v["seeds"] if "pred" in e]
    if not runs or "true" not in v:
        return None
    out = {"true": np.array(v["true"]), "seeds": len(runs)}
    for key in ("pred", "head_pred", "zero_shot_pred"):
        if all(key in e for e in runs):
            a = np.array([e[key] for e in runs])
            out[key] = (a.mean(0), a.std(0, ddof=1) if len(runs) > 1 else np.zeros(a.shape[1]))
    return out


def figure_joint_readings(res: dict):
    """Each joint setting's out-of-fold reading of every rsna-dev film against its true age (mean over the seeds
    that kept readings, bar: SD over seeds); for a setting whose phantoms come before the films, its phantom-trained
    network's ``SHIPPED_HEAD`` (leave-one-out: the head ``compare_joint`` keeps) and zero-shot readings beside, and
    on how many films the setting reads closer than the head (by the mean over seeds). The identity and the films'
    mean age on the same axes. None when no setting kept readings."""
    sets = [(n, r) for n, v in res.get("joint", {}).items() if (r := joint_readings(v))]
    if not sets:
        return None
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.8), squeeze=False)
    for ax, (name, r) in zip(axes[0], sets):
        y, (m, sd) = r["true"], r["pred"]
        title = f"{name}, {r['seeds']} seeds"
        if "zero_shot_pred" in r:
            ax.plot(y, r["zero_shot_pred"][0], "x", color="grey", ms=5, label="phantom-trained, zero-shot")
        if "head_pred" in r:
            ax.plot(y, r["head_pred"][0], "s", mfc="none", color="C1", ms=5, label=f"phantom-trained + {SHIPPED_HEAD} (LOO)")
            closer = int((np.abs(m - y) < np.abs(r["head_pred"][0] - y)).sum())
            title += f"\ncloser than the head on {closer} of {len(y)} films"
        ax.errorbar(y, m, yerr=sd, fmt="o", ms=4, color="C0", elinewidth=0.8, label=f"{name} (out of fold)")
        ax.plot([0, 18], [0, 18], "k--", lw=0.8)
        ax.axhline(y.mean(), color="grey", lw=0.8)
        ax.set_xlim(0, 18), ax.set_ylim(min(0.0, float((m - sd).min()) - 1), 20), ax.set_title(title, fontsize=8)
        ax.set_xlabel("true age (y), rsna-dev", fontsize=8), ax.legend(fontsize=6, loc="upper left")
    axes[0][0].set_ylabel("reading (y), mean over seeds")
    fig.tight_layout()
    return fig


def shipped_readings(inp: dict) -> dict | None:
    """The shipped model on the real films, as ``baa assess`` reads them (16 views): RSNA ages
    (in-sample: its head was fitted on these films) and the toddler readings."""
    if not inp["real"]:
        return None
    reg = inp["models"]["pipe"].regressor
    y = inp["real"]["rsna"]["age"].numpy()
    p = predict(reg, inp["real"]["rsna"]["input"], batch_size=16, device="cpu", tta=TTA).numpy()
    out = {"rsna_pred": p, "rsna_true": y, "rsna_in_sample": scores(p, y)}
    if "toddlers" in inp["real"]:
        t = predict(reg, inp["real"]["toddlers"]["input"], batch_size=16, device="cpu", tta=TTA).numpy()
        out["toddlers"] = dict(zip(inp["real"]["toddlers"]["names"], [round(float(v), 2) for v in t]))
    return out


def results_table(res: dict):
    """One row per variant and head: MAE, r, bias (years) on rsna-dev; zero-shot and leave-one-out."""
    rows = [{"variant": "mean age (leave-one-out)", "real labels": "all 27 others", **res["baseline"]["mean_loo"]}]
    for name, v in res["variants"].items():
        rows.append({"variant": name, "real labels": "none (zero-shot)", **v["zero_shot"],
                     **({"toddlers max": v["toddler_max"]} if "toddlers" in v else {})})
        if "adabn" in v:  # zero-shot too: BatchNorm statistics from the other real films, no label
            a = v["adabn"]
            rows.append({"variant": f"{name} + AdaBN", "real labels": "none (zero-shot, leave-one-out)", **a["zero_shot"],
                         **({"toddlers max": a["toddler_max"]} if "toddler_max" in a else {})})
        for h, s in v["cv"].items():
            rows.append({"variant": f"{name} + {h}", "real labels": "27 (leave-one-out)", **s})
    return pd.DataFrame(rows).round(2)


# What one training's seed scores (``transfer.seed_scores``) hold, reading by reading: (label, getter).
SEED_READINGS = [("zero-shot", lambda e: e["zero_shot"]), ("zero-shot + AdaBN", lambda e: e["adabn"])] + [
    (h, lambda e, h=h: e["cv"][h]) for h in HEADS]


def seed_table(res: dict):
    """The spread over trainings (``transfer run --seeds N``): for each variant and reading, the mean and
    standard deviation over seeds of MAE, r and bias on rsna-dev; None when no variant has several seeds."""
    rows = []
    for name, v in res["variants"].items():
        runs = v.get("seeds") or []
        if len(runs) < 2:
            continue
        for label, get in SEED_READINGS:
            row = {"variant": name, "reading": label, "seeds": len(runs)}
            for k in ("mae", "r", "bias"):
                row[k] = mean_sd([get(e)[k] for e in runs])
            rows.append(row)
    return pd.DataFrame(rows) if rows else None


def figure_seeds(res: dict, variant: str = "randomised"):
    """Every training's MAE on rsna-dev (``transfer run --seeds N``), one row per reading (zero-shot,
    AdaBN, each head by leave-one-out): dots, the mean (bar), the first seed (the image recipe's shipped model
    until bone maps replaced it, ringed) and the mean-age baseline (leave-one-out, dashed). None with fewer
    than two seeds."""
    runs = res["variants"].get(variant, {}).get("seeds") or []
    if len(runs) < 2:
        return None
    readings = [(label if label.startswith("zero-shot") else f"{label} (LOO)", get) for label, get in SEED_READINGS]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(readings) + 1.4))
    for i, (label, get) in enumerate(readings):
        vals = np.array([get(e)["mae"] for e in runs])
        ax.plot(vals, [i] * len(vals), "o", alpha=0.5, color="C0")
        ax.plot([vals.mean()], [i], "|", ms=16, mew=2, color="k")
        ax.plot([vals[0]], [i], "o", ms=11, mfc="none", mec="C3", label=f"seed {runs[0]['seed']} (first)" if i == 0 else None)
    if "baseline" in res:
        ax.axvline(res["baseline"]["mean_loo"]["mae"], ls="--", color="grey", lw=1, label="mean age (LOO)")
    ax.set_yticks(range(len(readings)), [r[0] for r in readings], fontsize=8), ax.invert_yaxis()
    ax.set_xlabel(f"MAE on rsna-dev (y), {len(runs)} trainings of {variant}"), ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def figure_pred_vs_true(res: dict):
    """Predicted against true age for every variant (zero-shot and each head, leave-one-out), the
    mean-age baseline and the identity line on the same axes."""
    vs = list(res["variants"].values())
    cols = 2 + len(HEADS)
    fig, axes = plt.subplots(len(vs), cols, figsize=(3 * cols, 3 * len(vs)), squeeze=False)
    for row, v in zip(axes, vs):
        y = np.array(v["true"])
        preds = [("zero-shot", v["zero_shot_pred"], v["zero_shot"])]
        if "adabn" in v:
            preds.append(("zero-shot + AdaBN", v["adabn"]["pred"], v["adabn"]["zero_shot"]))
        preds += [(h, v["cv_pred"][h], v["cv"][h]) for h in HEADS]
        for ax in row[len(preds):]:
            ax.axis("off")
        for ax, (h, p, s) in zip(row, preds):
            ax.scatter(y, p, s=14)
            ax.plot([0, 18], [0, 18], "k--", lw=0.8)
            ax.axhline(y.mean(), color="grey", lw=0.8, label="mean age")
            ax.set_xlim(0, 18), ax.set_ylim(0, 20)
            ax.set_title(f"{v['name']}: {h}\nMAE {s['mae']:.2f} y, r {s['r']:.2f}, bias {s['bias']:+.2f}", fontsize=8)
            ax.set_xlabel("true age (y)", fontsize=8)
        row[0].set_ylabel("predicted (y)")
    fig.tight_layout()
    return fig


def figure_curve(res: dict):
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, v in res["variants"].items():
        for h, c in v["curve"].items():
            ks = [int(k) for k in c]
            ax.plot(ks, list(c.values()), "o-", label=f"{name} + {h}")
    ax.axhline(res["baseline"]["mean_all"]["mae"], color="grey", ls="--", label="mean age")
    ax.set_xlabel("real labelled films used"), ax.set_ylabel("MAE on rsna-dev (y, leave-one-out)")
    ax.legend(fontsize=7)
    return fig


# -- chapter 9: `baa restore` on a real film ------------------------------------------------------

def film_restoration(film=None, crop: int = 256, seed: int = 0):
    """``film`` (a path; None: a phantom film) under each degradation of ``baa degrade`` and through
    ``baa restore`` as it runs by default (``film_restore.demo``: the router picks the blind restorer
    or the low-resolution expert; where it picks the expert, the blind restorer's output too): a
    ``crop``-pixel centre crop at the film's full resolution, degraded / restored / clean, PSNR and
    the route in the titles. Returns the figure."""
    if film is None:
        import tempfile

        film = film_restore.phantom_film(Path(tempfile.mkdtemp(prefix="baa-film-")) / "phantom-film.png", seed=seed)
    shown = film_restore.demo(film, seed)
    h, w = shown["clean"].shape
    y0, x0 = max(0, h // 2 - crop // 2), max(0, w // 2 - crop // 2)
    cut = lambda a: a[y0:y0 + crop, x0:x0 + crop]
    images, titles = [], []
    for kind in KINDS:
        k = shown[kind]
        to = "expert" if k["routed"]["kind"] == "lowres" else "blind"
        if "blind" in k:
            images += [cut(k["degraded"]), cut(k["blind"]), cut(shown["clean"])]
            titles += [f"{kind}: {k['psnr_degraded']:.1f} dB", f"--kind any: {k['psnr_blind']:.1f} dB", "clean"]
        images += [cut(k["degraded"]), cut(k["restored"]), cut(shown["clean"])]
        titles += [f"{kind}: {k['psnr_degraded']:.1f} dB", f"auto ({to}): {k['psnr_restored']:.1f} dB", "clean"]
    return image_grid(images, titles, ncols=3, size=2.4,
                      suptitle=f"baa restore at the film's own scale: {Path(film).name}, {h} x {w} px (centre crop)")


def film_restoration_table() -> str:
    """The film restorer and its router measured on rsna-dev (``film_restore``'s results, else the
    model card's)."""
    res = film_restore.load_results()
    return film_restore.results_markdown(res) + "\n\n" + film_router.router_markdown(res)


def figure_hand_probabilities(measured: dict, threshold: float = 0.5, cross_validated: dict | None = None):
    """Chapter 9: the hand classifier's probability alone for each group of ``handcheck.measure``'s
    ``"hand_probability"`` (one dot a file, jittered), and the threshold below which it refuses.
    ``cross_validated`` (``{film: probability}`` from the model of the fold that left it out; the
    shipped file's ``meta``) adds a row, and marks the real films' row as the shipped model's, which
    was trained on them."""
    groups = dict(measured["hand_probability"])
    if cross_validated:
        groups = {"real films, cross-validated": cross_validated,
                  **{("real films, shipped model (trained on them)" if k == "real films" else k): v for k, v in groups.items()}}
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.55 * len(groups)))
    rng = np.random.default_rng(0)
    for i, (name, probs) in enumerate(groups.items()):
        v = np.asarray(list(probs.values()), float)
        ax.scatter(v, i + rng.uniform(-0.2, 0.2, len(v)), s=12, alpha=0.7)
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.set_yticks(range(len(groups)), [f"{k} ({len(v)})" for k, v in groups.items()])
    ax.set_xlim(-0.02, 1.02)
    ax.invert_yaxis()
    ax.set_xlabel("hand classifier: probability of a hand radiograph (refused left of the line)")
    fig.tight_layout()
    return fig
