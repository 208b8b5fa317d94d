"""Restoration quality: the classical restorers against the ResUNet on held-out phantoms, PSNR/SSIM
and the downstream MAE with paired-bootstrap intervals (chapter 8).

Layer: analysis.
"""

from __future__ import annotations

from baa.paper import KINDS, QUALITIES

from baa import restore as R

from baa import degrade as D
import time
import torch
from baa.data import TTA_VIEWS
from baa.experiments.datasets import dataset
from baa.experiments.tables import degraded_set, regressors, restorers
from baa.metrics import mae, paired_bootstrap_ci
from baa.profiles import get_profile
from baa.restore import RESTORERS
from baa.train.trainer import predict






def _label_mask(images: torch.Tensor, degraded: torch.Tensor) -> torch.Tensor:
    """The true label box of ``degraded_set(images, "label")``, re-drawn from the same
    seed (checked against the degraded images), else the pixels the label zeroed."""

    seed = 1234 + QUALITIES.index("label")  # degraded_set's default seed
    out, mask = D.black_label(images, seed, return_mask=True)
    if torch.equal(out, degraded):
        return mask
    return (degraded == 0) & (images != 0)



def _load_models(p, progress: bool):

    return regressors(p, progress)["plain"], restorers(p, progress)



def _restore_all(p, n: int | None, progress: bool, keep: list[int] | None = None):
    from tqdm.auto import tqdm


    data = dataset(p, "bench", progress)
    if n is not None and n < len(data):
        data = data.subset(list(range(n)))
    clean, age = data.images.float(), data.age
    reg, res = _load_models(p, progress)
    results: dict = {}
    examples: dict = {}
    # ages of the clean images: one view (chapter 5's protocol) and TTA_VIEWS views (baa assess's)
    clean_pred = predict(reg, clean).reshape(-1) if keep is None else None
    clean_mae = mae(clean_pred, age) if keep is None else None
    clean_tta = mae(predict(reg, clean, tta=TTA_VIEWS), age) if keep is None else None
    jobs = [(k, m) for k in KINDS for m in ["degraded", *R.RESTORERS[k], "resunet", "resunet_dq"]]
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
            if keep is not None:
                examples[kind] = {"clean": clean[keep, 0].numpy(), "degraded": x[keep, 0].numpy()}
        src = x if keep is None else x[keep]
        t0 = time.perf_counter()
        if method == "degraded":
            y = src
        elif method in ("resunet", "resunet_dq"):
            y = predict(res[kind if method == "resunet" else "dq"], src).clamp(0.0, 1.0)
        else:
            y = R.restore(src, kind, method)
        ms = 1e3 * (time.perf_counter() - t0) / len(src)
        if keep is not None:
            examples[kind][method] = y[:, 0].float().numpy()
            continue
        pred, pred_tta = predict(reg, y).reshape(-1), predict(reg, y, tta=TTA_VIEWS).reshape(-1)
        r = {"psnr": R.psnr(y, clean), "ssim": R.ssim(y, clean), "mae_years": mae(pred, age),
             # per image, in bench-set order: _verdict's paired bootstrap needs them
             "abs_errors_years": (pred - age).abs().tolist(),
             "mae_years_tta": mae(pred_tta, age),
             "abs_errors_years_tta": (pred_tta - age).abs().tolist(),
             # how far the restorer moves an age from the clean image's: 0 for a perfect restorer,
             # while an MAE can drop below the clean images' own when a restorer offsets BoNet+'s bias
             "age_change_years": float((pred - clean_pred).abs().mean()),
             "age_changes_years": (pred - clean_pred).abs().tolist(), "ms_per_image": ms}
        if kind == "label":
            r["psnr_mask"] = R.psnr(y, clean, mask)
        results[kind][method] = r
    return (examples if keep is not None else results), data



def _verdict(results: dict) -> dict:
    """Per degradation: the best classical restorer by PSNR and by MAE, and whether each ResUNet
    beats it by >= 1 dB PSNR and on downstream MAE (the issue's goal, ``*_beats_classical``).
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
            if any(r[m].get(metric) is None for m in classical + ["resunet", "resunet_dq"]):
                continue
            bm = min(classical, key=lambda m: r[m][metric])
            v[f"best_classical_mae{suffix}"] = bm
            for net in ("resunet", "resunet_dq"):
                dp = r[net]["psnr"] - r[bp]["psnr"]
                dm = r[net][metric] - r[bm][metric]
                v[f"{net}_psnr_gain_db"] = dp
                v[f"{net}_mae_change_years{suffix}"] = dm
                v[f"{net}_beats_classical{suffix}"] = bool(dp >= 1.0 and dm < 0)
                err = "age_changes_years" if suffix == "_age_change" else "abs_errors_years" + suffix
                if r[net].get(err) and r[bm].get(err):
                    # is the MAE difference larger than the bench set's sampling noise?
                    _, lo, hi = paired_bootstrap_ci(r[net][err], r[bm][err])
                    v[f"{net}_mae_change_ci95_years{suffix}"] = [lo, hi]
                    v[f"{net}_mae_change_decided{suffix}"] = bool(hi < 0 or lo > 0)
        out[kind] = v
    return out



def restoration(profile=None, quick: bool = False, progress: bool = True, n: int | None = None) -> dict:
    """The ``restoration`` section: ``{kind: {method: {"psnr", "ssim", "mae_years", "ms_per_image"
    [, "psnr_mask"]}}}`` on the first ``n`` (default ``profile.n_bench``; ``quick``: at most 16)
    bench images. Trains the plain BoNet+ and the ResUNets first if ``artifacts/<profile>/models``
    lacks them (as the book does)."""

    p = get_profile(profile)
    n = n or (min(p.n_bench, 16) if quick else p.n_bench)
    results, _ = _restore_all(p, n, progress)
    return results



def restoration_examples(profile=None, index: int | list[int] = 0, progress: bool = False) -> dict:
    """Bench image(s) ``index`` clean, degraded and restored by every method, for the figures:
    ``{kind: {method: array (len(index), H, W)}}`` (``clean``, ``degraded``, each classical
    restorer, ``resunet``, ``resunet_dq``) -- the same images the ``restoration`` numbers score."""

    idx = [index] if isinstance(index, int) else list(index)
    ex, _ = _restore_all(get_profile(profile), None, progress, keep=idx)
    return ex
