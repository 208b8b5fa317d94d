"""Restoration quality (chapter 8): the classical restorers against the ResUNets of section 3.3.1 on
held-out phantoms, by PSNR / SSIM and by what BoNet+ reads from the restored image (MAE, the age
change against the clean image), with paired-bootstrap intervals.

Layer: analysis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from baa import degrade as D
from baa import restore as R
from baa.data import TTA_VIEWS, BoneAgeData
from baa.experiments.tables import degraded_set, load_pipeline
from baa.metrics import mae, paired_bootstrap_ci
from baa.paper import KINDS, QUALITIES
from baa.profiles import Profile
from baa.restore import RESTORERS
from baa.train import predict

NETWORKS = ("resunet", "resunet_dq")  # the kind's own ResUNet (CQ's expert), DQ's single one
PSNR_GAIN_DB = 1.0  # a ResUNet beats the classical restorers with at least this PSNR gain and a lower MAE


@dataclass


class BenchModels:
    """The trained networks the bench scores: the plain BoNet+ that reads the ages, and the ResUNets
    (``dq`` and one expert per kind, as ``tables.restorers``)."""

    regressor: nn.Module
    restorers: dict[str, nn.Module]


def bench_models(source: Profile | str | Path) -> BenchModels:
    """The ResUNets of ``source`` (see ``load_pipeline``), trained by the book, and the BoNet+ of our
    recipe (``dq_beyond``) as the judge of ages: trained on sharp and blurred images alike, it does
    not score a restorer by how much it blurs (the paper's recipe reads sharpness as age)."""
    dq, cq = load_pipeline("dq_beyond", source), load_pipeline("cq_beyond", source)
    return BenchModels(dq.regressor, {"dq": dq.restorer, **cq.restorers})


def methods(kind: str) -> tuple[str, ...]:
    """What the bench compares on a degradation: none, each classical restorer, the two ResUNets."""
    return ("degraded", *RESTORERS[kind], *NETWORKS)


def _label_mask(images: torch.Tensor, degraded: torch.Tensor) -> torch.Tensor:
    """The true label box of ``degraded_set(images, "label")``, re-drawn from the same
    seed (checked against the degraded images), else the pixels the label zeroed."""
    seed = 1234 + QUALITIES.index("label")  # degraded_set's default seed
    out, mask = D.black_label(images, seed, return_mask=True)
    if torch.equal(out, degraded):
        return mask
    return (degraded == 0) & (images != 0)


def _restored(models: BenchModels, kind: str, method: str, x: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``x`` restored by ``method``, and the milliseconds per image it took."""
    t0 = time.perf_counter()
    if method == "degraded":
        y = x
    elif method in NETWORKS:
        y = predict(models.restorers[kind if method == "resunet" else "dq"], x).clamp(0.0, 1.0)
    else:
        y = R.restore(x, kind, method)
    return y, 1e3 * (time.perf_counter() - t0) / len(x)


def _scores(reg: nn.Module, y: torch.Tensor, clean: torch.Tensor, age: torch.Tensor, clean_pred: torch.Tensor,
            mask: torch.Tensor | None, ms: float) -> dict:
    pred, pred_tta = predict(reg, y).reshape(-1), predict(reg, y, tta=TTA_VIEWS).reshape(-1)
    r = {"psnr": R.psnr(y, clean), "ssim": R.ssim(y, clean), "mae_years": mae(pred, age),
         # per image, in bench-set order: verdict's paired bootstrap needs them
         "abs_errors_years": (pred - age).abs().tolist(),
         "mae_years_tta": mae(pred_tta, age),
         "abs_errors_years_tta": (pred_tta - age).abs().tolist(),
         # how far the restorer moves an age from the clean image's: 0 for a perfect restorer,
         # while an MAE can drop below the clean images' own when a restorer offsets BoNet+'s bias
         "age_change_years": float((pred - clean_pred).abs().mean()),
         "age_changes_years": (pred - clean_pred).abs().tolist(), "ms_per_image": ms}
    if mask is not None:
        r["psnr_mask"] = R.psnr(y, clean, mask)
    return r


def restoration(models: BenchModels, data: BoneAgeData, progress: bool = True) -> dict:
    """The ``restoration`` section on ``data``: ``{kind: {method: {"psnr", "ssim", "mae_years",
    "mae_years_tta", "age_change_years", "ms_per_image"[, "psnr_mask"], and the per-image errors}}}``
    for each method of ``methods(kind)`` and the clean images. Each kind's images are degraded as
    chapter 5 scores them (``degraded_set``); ages are one view (chapter 5's protocol) and
    ``TTA_VIEWS`` views (``baa assess``'s)."""
    clean, age, reg = data.images.float(), data.age, models.regressor
    clean_pred = predict(reg, clean).reshape(-1)
    clean_mae, clean_tta = mae(clean_pred, age), mae(predict(reg, clean, tta=TTA_VIEWS), age)
    results: dict = {}
    jobs = [(k, m) for k in KINDS for m in methods(k)]
    bar = tqdm(jobs, desc="restoration", disable=not progress, leave=False)
    x = mask = None
    for kind, method in bar:
        bar.set_postfix_str(f"{kind}/{method}")
        if kind not in results:  # a new degradation: the same bits chapter 5 scores
            x = degraded_set(clean, kind)
            mask = _label_mask(clean, x) if kind == "label" else None
            results[kind] = {"clean": {"psnr": None, "ssim": 1.0, "mae_years": clean_mae, "mae_years_tta": clean_tta,
                                       "age_change_years": 0.0, "ms_per_image": 0.0}}
            if kind == "label":
                results[kind]["clean"]["psnr_mask"] = None
        y, ms = _restored(models, kind, method, x)
        results[kind][method] = _scores(reg, y, clean, age, clean_pred, mask, ms)
    return results


def restoration_examples(models: BenchModels, data: BoneAgeData, index: int | list[int] = 0) -> dict:
    """Image(s) ``index`` of ``data`` clean, degraded and restored by every method, for the figures:
    ``{kind: {method: array (len(index), H, W)}}`` (``clean``, then ``methods(kind)``) -- the same
    images ``restoration`` scores (each kind degrades the whole set, as there)."""
    idx = [index] if isinstance(index, int) else list(index)
    clean = data.images.float()
    out = {}
    for kind in KINDS:
        x = degraded_set(clean, kind)[idx]
        out[kind] = {"clean": clean[idx, 0].numpy()}
        for method in methods(kind):
            out[kind][method] = _restored(models, kind, method, x)[0][:, 0].float().numpy()
    return out


def _compare(v: dict, r: dict, best_psnr: str, classical: list[str], metric: str, suffix: str) -> None:
    """Each ResUNet against the best classical restorer by ``metric`` (the ``suffix`` of its keys)."""
    bm = min(classical, key=lambda m: r[m][metric])
    v[f"best_classical_mae{suffix}"] = bm
    for net in NETWORKS:
        dp = r[net]["psnr"] - r[best_psnr]["psnr"]
        dm = r[net][metric] - r[bm][metric]
        v[f"{net}_psnr_gain_db"] = dp
        v[f"{net}_mae_change_years{suffix}"] = dm
        v[f"{net}_beats_classical{suffix}"] = bool(dp >= PSNR_GAIN_DB and dm < 0)
        err = "age_changes_years" if suffix == "_age_change" else "abs_errors_years" + suffix
        if r[net].get(err) and r[bm].get(err):
            # is the MAE difference larger than the bench set's sampling noise?
            _, lo, hi = paired_bootstrap_ci(r[net][err], r[bm][err])
            v[f"{net}_mae_change_ci95_years{suffix}"] = [lo, hi]
            v[f"{net}_mae_change_decided{suffix}"] = bool(hi < 0 or lo > 0)


def verdict(results: dict) -> dict:
    """Per degradation: the best classical restorer by PSNR and by MAE, and whether each ResUNet
    beats it by at least ``PSNR_GAIN_DB`` PSNR and on downstream MAE (``*_beats_classical``): does
    a learned restorer (section 3.3.1) earn its cost over the classical ones?
    The same comparison with the age averaged over test-time views (``*_tta``, as ``baa assess``
    gives it) and by the age change against the clean image (``*_age_change``), where those
    metrics are in ``results``. With per-image errors, each MAE change also gets a paired-bootstrap
    95 % interval (``*_mae_change_ci95_years[_tta|_age_change]``) and ``*_mae_change_decided[...]``:
    whether that interval excludes 0, i.e. whether the bench set is large enough to tell. The age
    change needs no label, so it is free of BoNet+'s own error and decides with fewer images."""
    out = {}
    for kind, r in results.items():
        classical = [m for m in RESTORERS[kind] if m in r]
        bp = max(classical, key=lambda m: r[m]["psnr"])
        v = {"best_classical_psnr": bp}
        for metric, suffix in (("mae_years", ""), ("mae_years_tta", "_tta"), ("age_change_years", "_age_change")):
            if all(r[m].get(metric) is not None for m in classical + list(NETWORKS)):
                _compare(v, r, bp, classical, metric, suffix)
        out[kind] = v
    return out
