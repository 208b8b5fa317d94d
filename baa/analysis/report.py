"""Our numbers beside the paper's: tables, and the line each chapter opens with.

Everything takes the results dicts of :mod:`baa.experiments.tables` (``loss_comparison``,
``assessment``) or trained models and returns pandas DataFrames (``to_markdown`` renders one
without extra packages); nothing here trains. The paper's values come from :mod:`baa.paper` only.

- ``data_line``: the data and profile a chapter's numbers come from, computed from the profile.
- ``architecture_table``, ``parameter_counts``: BoNet+'s rows measured with forward hooks, beside
  Table 1, and its parameters per row; ``resunet_table``: the U-Net's layers beside section 3.3.1.
- ``table2``, ``ccs_curves``, ``table45``, ``dq_all_table``, ``classifier_table``,
  ``confusion_frame``: Tables 2, 4, 5, Fig. 11, DQ on the three degradations at once, the quality
  classifier (section 4.3-4.4).
- ``restoration_quality``, ``cq_dq_psnr``: PSNR / SSIM of degraded and restored test images
  (section 3.3.1), and how far CQ's outputs are from DQ's (Fig. 14).
- ``load_bench``: the bench's ``bench.json`` (its tables: ``baa.analysis.bench.frames``).
- ``cached_results``: a chapter's results from ``artifacts/<profile>/results`` when fresh, else computed.

Layer: analysis.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from tqdm.auto import tqdm

from baa import paper
from baa.data.load import summarize
from baa.experiments.artifacts import artifact_dir
from baa.experiments.tables import assessment, loss_comparison
from baa.metrics import ccs
from baa.models import count_layers, count_parameters
from baa.paper import BEYOND_PIPELINES, BEYOND_SUFFIX, KINDS, PIPELINES, QUALITIES, RESUNET_LAYERS, TABLE1
from baa.profiles import Profile
from baa.restore import psnr, ssim

POOR = KINDS  # noise, label, lowres
QUALITY_NAMES = {"high": "high", "noise": "noise", "label": "label", "lowres": "low-res", "all": "all three"}
PIPELINE_NAMES = {**paper.PIPELINE_NAMES, "cq_multilabel": "BoNet+_CQ (multi-label)",
                  **{k + BEYOND_SUFFIX: f"{v} (beyond the paper)" for k, v in paper.PIPELINE_NAMES.items()}}
PAPER = "paper (DHA)"


def data_source(p: Profile) -> str:
    """Where a run's data comes from, in words: ``phantom (seed S)``, or a real dataset's folder name,
    format, film count, age range and sex split (from its label file), with the note that it is not
    the Digital Hand Atlas the paper used."""
    if p.data.phantom:
        return f"phantom (seed {p.seed})"
    s = summarize(p.data.root, p.data.format, check_images=False, progress=False)
    a, x = s["age_years"], s["sex"]
    sexes = f"{x['male']} male, {x['female']} female" + (f", {x['unknown']} unknown" if x["unknown"] else "")
    test = f"; held-out test set `{Path(p.data.test_root).name}`" if p.data.test_root else ""
    return (f"real radiographs `{p.data.name}` ({p.data.format} layout, {s['n_images']} films, bone age "
            f"{a['min']:.1f}-{a['max']:.1f} y, {sexes}{test}; not the Digital Hand Atlas the paper used)")


def data_line(p: Profile, *parts: str, images: str | None = None) -> str:
    """The line a chapter opens with, computed from the profile: where its data comes from
    (``data_source``) and how big it is (``images`` replaces the default "N training and M test images
    at S²"), plus, for each of ``parts``, the schedule of that part: ``"regressor"``, ``"cv"``,
    ``"restorer"``, ``"classifier"``, ``"bench"``."""
    if images is None and p.data.phantom:
        images = f"{p.n_images} training and {p.n_test} test images at {p.image_size}²"
    elif images is None:
        held = (f"trained on it, tested on `{Path(p.data.test_root).name}`" if p.data.test_root else
                f"{p.test_fraction:.0%} held out for testing (stratified by age and sex, seed {p.seed})")
        images = f"at most {p.n_images} training films, {held}, prepared as `baa assess` prepares a film, at {p.image_size}²"
    line = f"Data: {data_source(p)}, profile **{p.name}**: {images}"
    detail = {
        "regressor": f"BoNet+ at width {p.width:g} of the paper's, {p.epochs_regressor} epochs (batch {p.batch_regressor}, "
                     f"learning rate {p.lr_regressor:g})",
        "cv": f"{p.folds}-fold cross-validation of which {p.cv_folds_run} folds are trained",
        "restorer": f"ResUNet depth {p.resunet_depth}, width {p.width:g}, {p.epochs_resunet} epochs (batch {p.batch_resunet}, "
                    f"learning rate {p.lr_resunet:g})",
        "classifier": f"classifier width {p.classifier_width:g}, {p.epochs_classifier} epochs",
        "bench": f"{p.n_bench} bench images"}
    unknown = set(parts) - set(detail)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {', '.join(detail)}")
    return "; ".join([line] + [detail[x] for x in parts]) + f". The paper: {paper.DATA}."


def caption(title: str, source: str, detail: str = "") -> str:
    """A table's caption naming our data and the paper's: ``**title.** Ours: source detail. paper: ...``."""
    return f"**{title}.** Ours: {source}{detail}. paper: {paper.DATA}."


def source_name(source: str | None) -> str:
    """``"phantom (seed 0)"`` -> ``"phantom"``; real-data sources (``"rsna:/path"``) stay as they are."""
    if not source:
        return "phantom"
    return source.split(" (")[0]


def ours_label(profile: str | None = None, source: str | None = None) -> str:
    """The column header of our numbers: ``ours (phantom, profile cpu)``."""
    return f"ours ({source_name(source)}, profile {profile or '?'})"


def _pm(mean: float, std: float, digits: int = 3) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _f(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, (float, np.floating)) and math.isnan(x)):
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return "✓" if x else "✗"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{x:.{digits}f}"
    return str(x)


def to_markdown(df: pd.DataFrame, digits: int = 3, index: bool = True) -> str:
    """A GitHub/MyST markdown table of ``df`` (no ``tabulate`` needed); MultiIndex columns are
    joined with " / ", floats printed with ``digits`` decimals, missing values as "—"."""
    cols = [" / ".join(str(c) for c in col) if isinstance(col, tuple) else str(col) for col in df.columns]
    head = ([str(df.index.name or "")] if index else []) + cols
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for key, row in df.iterrows():
        cells = ([" / ".join(map(str, key)) if isinstance(key, tuple) else str(key)] if index else [])
        cells += [_f(v, digits) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- chapter 3: the architecture ------------------------------------------------------------------

@torch.inference_mode()
def architecture_table(model: torch.nn.Module, size: int = 256, rows=TABLE1) -> pd.DataFrame:
    """Run one ``size`` x ``size`` image through ``model`` (a ``BoNetPlus``) with a forward hook on
    every Table 1 row; returns measured channels and side beside Table 1's. Run it on a model built
    under ``torch.device("meta")`` to get the shapes without computing anything."""
    named = dict(model.named_modules())
    shapes, handles = {}, []
    for module, _, _, _ in rows:
        handles.append(named[module].register_forward_hook(
            lambda m, i, o, module=module: shapes.__setitem__(module, tuple(o.shape))))
    try:
        p = next(model.parameters())
        was_training = model.training
        model.eval()(torch.zeros(1, 1, size, size, device=p.device, dtype=p.dtype))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    out = [{"module": module, "Table 1 row": row, "channels": shapes[module][1], "size": f"{shapes[module][2]}×{shapes[module][3]}",
            "Table 1 channels": ch, "Table 1 size": f"{side}×{side}"} for module, row, ch, side in rows]
    df = pd.DataFrame(out).set_index("module")
    df["matches"] = (df["channels"] == df["Table 1 channels"]) & (df["size"] == df["Table 1 size"])
    return df


def parameter_counts(model: torch.nn.Module) -> dict:
    """BoNet+'s parameters: ``total``, ``parts`` (per top-level row of Table 1 that has any),
    ``largest`` (that row's name) and ``share`` of the dense blocks, of the 1 x 1 head after the last
    dense block (``tl7``, ``conv3``, ``conv4``, ``out``) and of the largest row (3 decimals)."""
    total = count_parameters(model)
    parts = pd.Series({name: count_parameters(m) for name, m in model.named_children()}, name="parameters")
    parts = parts[parts > 0]
    share = {"dense blocks": parts[[f"db{i}" for i in range(1, 7)]].sum() / total,
             "head": parts[["tl7", "conv3", "conv4", "out"]].sum() / total, "largest": parts.max() / total}
    return {"total": total, "parts": parts, "largest": str(parts.idxmax()), "share": {k: round(float(v), 3) for k, v in share.items()}}


def resunet_table(nets: dict) -> pd.DataFrame:
    """The U-Net's layer counts (``count_layers``), channels and parameters, one column per named
    network of ``nets``, beside section 3.3.1's counts."""
    cols = {"paper (section 3.3.1)": {**RESUNET_LAYERS, "channels": "64, doubled per level", "parameters": "not given"}}
    for name, net in nets.items():
        cols[name] = {**count_layers(net), "channels": f"{net.down[0][0].out_channels} → {net.bottleneck[3].out_channels}",
                      "parameters": f"{count_parameters(net) / 1e6:.2f} M"}
    df = pd.DataFrame(cols)
    df.index.name = "ResUNet"
    return df


# -- chapter 3: Table 2 ---------------------------------------------------------------------------

def table2(loss: dict, profile: str | None = None, source: str | None = None, numbers: bool = False,
           n_folds: int | None = None) -> pd.DataFrame:
    """Table 2: BoNet+ trained with L_MAE and L_MSE as the paper trains it, mean ± std over the
    folds, ours beside the paper's; and, where ``loss`` has it, BoNet+_MAE of our recipe on fold 0
    (``mae_beyond``, no paper value). ``loss`` is ``loss_comparison``'s dict (or its ``table2.json``).
    ``numbers=True`` gives the means and stds as floats in separate columns. ``n_folds``: the
    number of trained folds, when ``loss`` holds only the summary (``table2.json``)."""
    ours = ours_label(profile, source)
    rows = {}
    nan = float("nan")
    for name in ("mae", "mse", "mae_beyond"):
        if name not in loss:
            continue
        r = loss[name]
        pp = paper.TABLE2.get(name, {"mae": (nan, nan), "mdae": (nan, nan)})
        folds = len(r["folds"]) if "folds" in r else r.get("n_folds", n_folds)
        label = f"BoNet+_{name.upper()}" if name in paper.TABLE2 else "BoNet+_MAE (beyond the paper, fold 0)"
        if numbers:
            rows[label] = {
                (ours, "MAE"): r["mae_mean"], (ours, "MAE std"): r["mae_std"],
                (ours, "MdAE"): r["mdae_mean"], (ours, "MdAE std"): r["mdae_std"], (ours, "folds"): folds,
                (PAPER, "MAE"): pp["mae"][0], (PAPER, "MAE std"): pp["mae"][1],
                (PAPER, "MdAE"): pp["mdae"][0], (PAPER, "MdAE std"): pp["mdae"][1],
                (PAPER, "folds"): 5 if name in paper.TABLE2 else nan}
        else:
            rows[label] = {
                (ours, "MAE"): _pm(r["mae_mean"], r["mae_std"]), (ours, "MdAE"): _pm(r["mdae_mean"], r["mdae_std"]),
                (ours, "folds"): folds,
                (PAPER, "MAE"): _pm(*pp["mae"]) if name in paper.TABLE2 else "",
                (PAPER, "MdAE"): _pm(*pp["mdae"]) if name in paper.TABLE2 else "", (PAPER, "folds"): 5 if name in paper.TABLE2 else ""}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    df.index.name = "years"
    return df


def pooled_predictions(loss: dict, name: str = "mae") -> tuple[np.ndarray, np.ndarray]:
    """Every validation prediction of the trained folds of ``loss[name]``, concatenated: ``(pred, true)``."""
    folds = loss[name]["folds"]
    return (np.concatenate([np.asarray(f["pred"], float) for f in folds]),
            np.concatenate([np.asarray(f["true"], float) for f in folds]))


def ccs_curves(loss: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fig. 11: for each loss, the thresholds and the fraction of pooled validation predictions
    whose absolute error is at most each threshold (eq. 4)."""
    out = {}
    for name in ("mae", "mse"):
        pred, true = pooled_predictions(loss, name)
        t, counts = ccs(pred, true)
        out[name] = (np.asarray(t), np.asarray(counts) / len(true))
    return out


def history_frame(loss: dict) -> pd.DataFrame:
    """The training curves of every trained fold: one row per (objective, fold, epoch); ``objective``
    is ``"mae"`` or ``"mse"`` (the loss trained with), ``loss`` its value."""
    rows = []
    for name in ("mae", "mse"):
        for f in loss[name]["folds"]:
            for rec in f.get("history", []):
                rows.append({"objective": name, "fold": f.get("fold", 0), **rec})
    return pd.DataFrame(rows)


# -- chapter 5: Tables 4 and 5 ---------------------------------------------------------------------

def table45(results: dict, metric: str = "mae", numbers: bool = True) -> pd.DataFrame:
    """Table 4 (``metric="mae"``) or Table 5 (``"mdae"``): pipelines x qualities, ours beside the
    paper's: the four pipelines as the paper builds them, then the same four with BoNet+ of our
    recipe ("beyond the paper", no paper value) where ``results`` has them. ``results`` is
    ``assessment``'s dict."""
    ref = {"mae": paper.TABLE4, "mdae": paper.TABLE5}[metric]
    ours = ours_label(results.get("profile"), results.get("source"))
    rows = {}
    for name in [n for n in PIPELINES + BEYOND_PIPELINES if n in results[metric]]:
        row = {}
        for who, table in ((ours, results[metric]), (PAPER, ref)):
            for q in QUALITIES:
                row[(who, QUALITY_NAMES[q])] = table.get(name, {}).get(q, float("nan"))
        rows[PIPELINE_NAMES[name]] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    df.index.name = f"{'MAE' if metric == 'mae' else 'MdAE'} (years)"
    return df


def recipe_effect(results: dict, metric: str = "mae") -> pd.DataFrame:
    """What our BoNet+ recipe changes: each pipeline's ``metric`` with the beyond-the-paper BoNet+
    minus the same pipeline as the paper builds it, per quality (and all three at once); negative:
    our additions lower the error."""
    m = results[metric]
    rows = {PIPELINE_NAMES[k]: {QUALITY_NAMES[q]: m[k + BEYOND_SUFFIX][q] - m[k][q] for q in m[k]}
            for k in PIPELINES if k + BEYOND_SUFFIX in m}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = f"{'MAE' if metric == 'mae' else 'MdAE'} change (years), beyond minus paper"
    return df


def dq_budget_table(results: dict, budget: dict) -> pd.DataFrame:
    """DQ on the experts' budget (``experiments.dq_budget``) beside the book's pipelines on the same test
    images: MAE per quality (years) of plain BoNet+, NQ, CQ, the book's DQ and the budget DQ, and the
    PSNR of the two DQ restorations against the clean images (dB)."""
    m, f = results["mae"], budget["factor"]
    rows = {}
    for q in budget["mae"]:
        row = {f"MAE {PIPELINE_NAMES[k]}": m[k][q] for k in ("plain", "nq", "cq", "dq") if q in m.get(k, {})}
        row[f"MAE BoNet+_DQ, {f}x epochs"] = budget["mae"][q]
        row["PSNR DQ (dB)"] = budget["psnr_book"][q]
        row[f"PSNR DQ, {f}x epochs (dB)"] = budget["psnr"][q]
        rows[QUALITY_NAMES[q]] = row
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "quality"
    return df


def dq_all_table(results: dict) -> pd.DataFrame:
    """Every pipeline on images with all three degradations at once; the paper reports DQ only
    (MAE 0.824, MdAE 0.733). Includes the beyond-the-paper rows (our BoNet+ recipe, the multi-label
    CQ view)."""
    ours = ours_label(results.get("profile"), results.get("source"))
    rows = {}
    for name in PIPELINES + BEYOND_PIPELINES + ("cq_multilabel",):
        if "all" not in results["mae"].get(name, {}):
            continue
        pp = paper.DQ_ALL if name == "dq" else {}
        rows[PIPELINE_NAMES[name]] = {(ours, "MAE"): results["mae"][name]["all"], (ours, "MdAE"): results["mdae"][name]["all"],
                                      (PAPER, "MAE"): pp.get("mae", float("nan")), (PAPER, "MdAE"): pp.get("mdae", float("nan"))}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    df.index.name = "all three degradations (years)"
    return df


def ccs_fraction(results: dict, pipeline: str, quality: str) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 12's curve: thresholds and the fraction of test images with |error| <= t."""
    t = np.asarray(results["ccs_thresholds"], float)
    return t, np.asarray(results["ccs"][pipeline][quality], float) / results["n_test"]


# -- the quality classifier -------------------------------------------------------------------------

def confusion_frame(confusion) -> pd.DataFrame:
    """The classifier's confusion matrix: rows the true quality, columns the predicted one."""
    names = [QUALITY_NAMES[q] for q in QUALITIES]
    df = pd.DataFrame(np.asarray(confusion, dtype=int), index=pd.Index(names, name="true \\ predicted"), columns=names)
    return df


def classifier_table(confusion, profile: str | None = None, source: str | None = None) -> pd.DataFrame:
    """Accuracy overall and per true class, ours beside the paper's "over 98 %"."""
    c = np.asarray(confusion, dtype=float)
    ours = ours_label(profile, source)
    rows = {"all": {ours: float(np.trace(c) / c.sum()), "images": int(c.sum()), PAPER: f"> {paper.CLASSIFIER_ACCURACY:.0%}"}}
    for i, q in enumerate(QUALITIES):
        n = c[i].sum()
        rows[QUALITY_NAMES[q]] = {ours: float(c[i, i] / n) if n else float("nan"), "images": int(n), PAPER: "—"}
    df = pd.DataFrame.from_dict(rows, orient="index")
    df.index.name = "classifier accuracy"
    return df


# -- chapter 4: restoration quality ----------------------------------------------------------------

@torch.inference_mode()
def restoration_quality(models: dict, clean: torch.Tensor, degrade: Callable, kinds=KINDS, batch_size: int = 32,
                        progress: bool = True) -> pd.DataFrame:
    """PSNR (dB) and SSIM of each ``kind``'s degraded test images and of their restorations, all
    against the clean image (the degraded columns are the baseline a restoration must beat).

    ``models`` maps a column name to a ResUNet (or any callable image -> image, e.g. a
    ``CQPipeline``'s ``restore``), or to a dict kind -> ResUNet (CQ's experts; a kind missing from
    the dict gives NaN). ``degrade(images, kind)`` makes the degraded set (e.g.
    ``baa.experiments.tables.degraded_set``)."""
    rows = []
    for kind in tqdm(kinds, desc="PSNR / SSIM", disable=not progress, leave=False):
        x = degrade(clean, kind)
        row = {"kind": QUALITY_NAMES.get(kind, kind), "degraded PSNR": psnr(x, clean), "degraded SSIM": ssim(x, clean)}
        for name, model in models.items():
            m = model.get(kind) if isinstance(model, dict) else model
            if m is None:
                row[f"{name} PSNR"] = row[f"{name} SSIM"] = float("nan")
                continue
            if isinstance(m, torch.nn.Module):
                m = m.eval()
            y = torch.cat([m(x[i:i + batch_size]).clamp(0, 1) for i in range(0, len(x), batch_size)])
            row[f"{name} PSNR"], row[f"{name} SSIM"] = psnr(y, clean), ssim(y, clean)
        rows.append(row)
    return pd.DataFrame(rows).set_index("kind")


@torch.inference_mode()
def cq_dq_psnr(cq, dq, degraded: dict, kinds=KINDS + ("all",)) -> dict[str, float]:
    """PSNR of CQ's restored images against DQ's, per kind of ``degraded`` (Fig. 14: "so similar that
    it is hard to distinguish them")."""
    return {QUALITY_NAMES[k]: psnr(cq.restore(degraded[k]), dq(degraded[k]).clamp(0, 1)) for k in kinds}


# -- chapter 8: the bench --------------------------------------------------------------------------

def load_bench(profile: Profile) -> dict | None:
    """``artifacts/<profile>/bench.json`` (written by the bench), or ``None`` when absent."""
    path = artifact_dir(profile) / "bench.json"
    return json.loads(path.read_text()) if path.exists() else None


# -- results without recomputing ----------------------------------------------------------------------

def cached_results(name: str, profile: Profile, compute: Callable | None = None) -> dict:
    """``artifacts/<profile>/results/<name>.json`` when it is newer than every checkpoint under
    ``models/`` (so it was computed from the models now there); otherwise ``compute(profile)``
    (which trains or loads the models and writes the JSON). ``name``: ``"assessment"`` or
    ``"table2"`` (whose JSON holds the means, not the per-fold predictions)."""
    d = artifact_dir(profile)
    path = d / "results" / f"{name}.json"
    ckpts = list((d / "models").glob("*.pt"))
    if path.exists() and ckpts and path.stat().st_mtime >= max(c.stat().st_mtime for c in ckpts):
        return json.loads(path.read_text())
    compute = compute or {"assessment": assessment, "table2": loss_comparison}[name]
    return compute(profile)


__all__ = ["TABLE1", "RESUNET_LAYERS", "data_line", "caption", "architecture_table", "parameter_counts", "resunet_table",
           "table2", "pooled_predictions", "ccs_curves", "history_frame", "table45", "dq_all_table", "ccs_fraction",
           "confusion_frame", "classifier_table", "restoration_quality", "cq_dq_psnr", "load_bench", "cached_results",
           "to_markdown", "ours_label", "source_name"]
