"""baa.analysis.verdicts: the sentences under chapters 3-8's tables follow the numbers."""

import copy

import numpy as np
import pandas as pd
import pytest

from baa import paper
from baa.analysis import verdicts as V
from baa.analysis.claims import Claim, paper_results
from baa.analysis.report import PAPER, table45
from baa.paper import PIPELINE_NAMES, QUALITIES
from baa.profiles import get_profile


def _loss(mae_pred, mse_pred, true=(1.0, 2.0, 3.0, 4.0)):
    def one(pred):
        return {"folds": [{"fold": 0, "pred": list(pred), "true": list(true)}]}
    return {"mae": one(mae_pred), "mse": one(mse_pred)}


def test_folds_and_fig11():
    loss = _loss([1.1, 2.1, 3.1, 4.1], [1.6, 2.6, 3.6, 4.6])  # L_MAE 0.1 y off, L_MSE 0.6 y
    text = V.folds_text(loss, get_profile("smoke"), "phantom (seed 0)")
    assert "**1 of the 2 folds**" in text and "4 validation predictions" in text and "0 by construction" in text
    assert "L_MAE 100%, L_MSE 0%" in V.fig11_text(loss) and V.fig11_text(loss).endswith("holds here.")
    assert V.fig11_text(_loss([1.6, 2.6, 3.6, 4.6], [1.1, 2.1, 3.1, 4.1])).endswith("does not hold here.")


def test_parameter_text():
    counts = {"total": 5_000_000, "largest": "db6", "share": {"dense blocks": 0.8, "head": 0.1, "largest": 0.3}}
    text = V.parameter_text(counts, 1234, get_profile("smoke"))
    assert "**5,000,000 parameters (5.00 M)**" in text and "50% of 10 M" in text and "`db6` (30%)" in text
    assert "1,234 parameters" in text


def test_classifier_and_restoration_texts():
    conf = [[10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 5, 5], [0, 0, 0, 10]]
    text = V.classifier_text(conf, "phantom", "smoke")
    assert "**87.5%** on 40 test images" in text and "does not hold" in text and "*label*" in text
    idx = ["high", "noise", "label", "low-res"]
    q = pd.DataFrame({"degraded PSNR": [np.inf, 20, 15, 22], "DQ PSNR": [40, 25, 14, 24], "DQ SSIM": [0.99, 0.8, 0.7, 0.9],
                      "CQ expert PSNR": [np.nan, 26, 18, 23]}, index=idx)
    text = V.restoration_text(q, "phantom", 8, "smoke")
    assert "**DQ** raises the PSNR on 2 of 3 kinds" in text and "behind the experts on noise, label" in text
    assert "PSNR of 40.0 dB (SSIM 0.990)" in text
    between = {"noise": 30.0, "label": 31.0, "low-res": 32.0, "all three": 20.0}
    assert "noise 30.0 dB" in V.cq_dq_text(between, q) and "noise 20.0 dB" in V.cq_dq_text(between, q)


def test_assessment_texts():
    a, _ = paper_results()
    a = copy.deepcopy(a)
    a.update(profile="smoke", source="phantom (seed 0)", n_test=10)
    for name in ("plain", "cq", "nq", "cq_multilabel"):
        a["mae"].setdefault(name, {})["all"] = {"plain": 1.5, "cq": 1.0, "nq": 1.2, "cq_multilabel": 0.7}[name]
    text = V.dq_all_text(a, "phantom")
    assert "multi-label CQ (0.700) is better than the 4-way CQ (1.000) and better than DQ" in text
    assert text.index(PIPELINE_NAMES["dq"]) > text.index("BoNet+_CQ (multi-label) 0.700")
    # with beyond-the-paper rows the multi-label CQ is set beside the pipelines of its own BoNet+
    b = copy.deepcopy(a)
    b["mae"]["cq_beyond"], b["mae"]["dq_beyond"] = {"all": 0.6}, {"all": 0.65}
    assert "is not better than the 4-way CQ (0.600) and not better than DQ (0.650) (the same BoNet+" in V.dq_all_text(b, "x")
    t4 = table45(a, "mae")
    ours = [c for c in t4.columns.levels[0] if c != PAPER][0]
    assert "high: BoNet+ / BoNet+" in V.best_text(t4, ours, PAPER)
    items = [Claim("a", "holds", -0.1, (-0.2, -0.05), "years"), Claim("b", "undecided", 0.1, (-0.1, 0.3), "years")]
    assert V.claims_note(items, "smoke", 10).startswith("**1 of 2** claims hold here. At the smoke profile")
    assert "on 10 test images" in V.claims_note(items, "cpu", 10)


def _saliency_table(plain_gradient=2.0):
    rows = []
    for method in ("gradcam", "gradient"):
        for pipe in ["random BoNet+"] + [PIPELINE_NAMES[k] for k in ("plain", "cq", "dq", "nq")]:
            for q in QUALITIES:
                e = 1.0 if pipe == "random BoNet+" else (plain_gradient if method == "gradient" else np.nan)
                rows.append({"method": method, "pipeline": pipe, "quality": q, "enrichment": e, "n_empty": 0 if e == e else 4})
    return pd.DataFrame(rows)


def test_saliency_texts():
    pipes = {"plain": None, "cq": None, "dq": None, "nq": None}
    text = V.saliency_text(_saliency_table(), "db3", pipes, "cpu", 8)
    assert "plain BoNet+'s maps are empty" in text  # Grad-CAM all NaN
    assert "are more enriched on growth regions than a random network's (2.00 against 1.00)" in text
    assert "**not** more enriched" in V.saliency_text(_saliency_table(0.5), "db3", pipes, "smoke", 8)
    pivot = V.enrichment_pivot(_saliency_table())
    assert pivot.loc[("gradcam", "BoNet+"), "high"] == "empty" and pivot.loc[("gradient", "BoNet+"), "noise"] == 2.0
    assert V.empty_pivot(_saliency_table()).loc[("gradcam", "BoNet+"), "label"] == 4


def _bench():
    rest = {k: {"clean": {"mae_years": 0.5, "age_change_years": 0.0}, "degraded": {"mae_years": 1.0},
                "resunet": {"mae_years": 0.6, "age_change_years": 0.2}, "bicubic": {"mae_years": 0.7, "age_change_years": 0.3}}
            for k in ("noise", "lowres")}
    v = {"best_classical_psnr": "bicubic", "resunet_psnr_gain_db": 1.5, "best_classical_mae": "bicubic",
         "resunet_mae_change_years": -0.1, "resunet_beats_classical": True, "resunet_dq_psnr_gain_db": 0.5,
         "resunet_dq_mae_change_years": 0.05, "resunet_dq_beats_classical": False,
         "resunet_mae_change_ci95_years": [-0.2, 0.05], "resunet_mae_change_decided": False}
    verdict = {"noise": dict(v), "lowres": {**v, "resunet_beats_classical": False, "resunet_beats_classical_tta": True,
                                             "resunet_mae_change_years_tta": -0.05, "best_classical_mae_tta": "bicubic",
                                             "best_classical_mae_age_change": "bicubic"}}
    speed = {"bonet_paper_params": 4_000_000, "bonet_paper_gflops": 10.0, "resunet_paper_gflops": 40.0,
             "matmul_peak_gflops": 1000.0, "conv_gflops_per_s": 600.0, "conv_share_of_peak": 0.6,
             "conv_share_of_peak_cpu_profile": 0.2, "bonet_infer_gflops_per_s_256": 400.0, "bonet_infer_share_of_peak_256": 0.4,
             "bonet_infer_ms_256_best": 25.0, "bonet_infer_ms_256_best_fp32": 25.0, "train_share_of_peak_256": None,
             "phantom_images_per_s_256": None, "train_images_per_s_256_channels_last": 2.0}
    targets = {"bonet_infer_ms_256_best": {"met": True, "precision": "fp32"}, "conv_share_of_peak": {"met": True}}
    meta = {"profile": "smoke", "n_bench": 8, "device_name": "a CPU", "data": "phantom", "data_source": "phantom (seed 0)",
            "image_size": 64, "torch": "2.x", "seconds": 12.0, "gpu_note": "No GPU in this run", "skipped": {"light": "quick"}}
    return {"restoration": rest, "verdict": verdict, "speed": speed, "targets": targets, "meta": meta}


def test_bench_texts():
    b = _bench()
    text = V.bench_verdict(b)
    assert "meets the goal for 1 of 2 degradations" in text and "**met**. DQ: +0.50 dB, +0.050 years (not met)" in text
    assert "which holds 0" in text and "with the age averaged over" in text and "`bicubic`" in text
    assert "wrote `artifacts/smoke/bench.json`" in V.bench_header(b, "smoke")
    assert "4.00 M and costs 10.0 GFLOPs" in V.size_text(b["speed"]) and "0.25 of the ResUNet's 40" in V.size_text(b["speed"])
    peak = V.peak_text(b)
    assert "60 % of that peak (target ≥ 50 %: **met**)" in peak and "could not take less than 10 ms" in peak
    assert "Not measured (light): quick." in peak and "No GPU in this run" in peak and "phantom renders" not in peak
    b["speed"].update(phantom_images_per_s_256=250.0, phantom_images_per_s_256_one_process=90.0,
                      phantom_images_per_s_256_png=80.0, phantom_images_per_s_cpu_profile=600.0)
    b["targets"].update(phantom_images_per_s_256={"met": True}, phantom_images_per_s_256_png={"met": False})
    line = next(x for x in V.peak_text(b).splitlines() if "phantom renders" in x)
    assert "250 images/s at 256² in memory (target ≥ 200: **met**" in line and "(target ≥ 100: **not met**)" in line
    tr = pd.DataFrame({"NCHW images/s": [1.0], "bf16 images/s": [2.0], "bf16 speed-up": [2.0]}, index=["BoNet+"])
    text = V.training_text(b, tr, train_bf16=True)
    assert "2.00 images/s at 256²" in text and "bf16 autocast trains 2.0-2.0 times" in text
    assert f"{paper.SECONDS_PER_EPOCH['regressor']} s per epoch" in text
    b["speed"]["train_images_per_s_256_channels_last"] = None
    assert "was not timed" in V.training_text(b, tr.drop(columns=["bf16 images/s"]), train_bf16=False)



def test_collapse_text_names_only_the_pipelines_that_answer_one_age():
    true = [2.0, 6.0, 10.0, 14.0]
    results = {"true": true, "pred": {"plain": {"high": [8.01, 8.0, 8.02, 7.99], "noise": [8.0] * 4},
                                      "nq": {"high": [3.0, 6.5, 9.0, 13.0]}, "cq_multilabel": {"all": [8.0] * 4}}}
    assert set(V.collapsed(results)) == {"plain"}
    text = V.collapse_text(results, "rsna-dev")
    assert PIPELINE_NAMES["plain"] in text and PIPELINE_NAMES["nq"] not in text and "rsna-dev" in text
    results["pred"]["plain"]["high"] = [2.5, 6.0, 9.0, 14.0]
    assert V.collapse_text(results, "phantom") == ""


def test_recipes_text_decides_each_difference_against_its_spread():
    """A variant whose zero-shot MAE is 1 y lower on every seed (spread 0.1) is 'lower'; one whose
    head's MAE moves by less than twice the standard error is 'within the spread'."""
    def run(zs, rr, seed):
        s = lambda m: {"mae": m, "r": 0.6, "bias": 0.0}  # noqa: E731
        return {"seed": seed, "zero_shot": s(zs), "cv": {"ridge_residual": s(rr)}, "phantom": s(1.0)}
    ref = [run(3.0 + 0.1 * k, 2.0 + 0.3 * k, k) for k in range(3)]
    var = [run(2.0 + 0.1 * k, 2.1 + 0.3 * k, k) for k in range(3)]
    res = {"variants": {"images": {"seeds": ref}, "better": {"seeds": var}, "unrun": {"seeds": []}}}
    text = V.recipes_text(res)
    assert "**better** (3 seeds)" in text and "unrun" not in text
    assert "zero-shot MAE -1.00y ± 0.08 (lower)" in text
    assert "ridge_residual MAE (leave-one-out) +0.10y ± 0.24 (within the spread)" in text
    assert "did not align on" not in text  # no aligned variant
    for e, m in zip(var, (3.0, 3.1, 3.2)):  # an aligned variant: on unseen films no better than the reference
        e["zero_shot_heldout"] = {"mae": m, "r": 0.5, "bias": 0.0}
    text = V.recipes_text(res)
    assert "zero-shot MAE -1.00y ± 0.08 (lower); zero-shot MAE on films it did not align on +0.00y ± 0.08 (within the spread)" in text
    assert V.recipes_text({"variants": {"images": {"seeds": ref}}}) == "Only `images` has been run."
    # one variant against another than the image recipe
    res["variants"]["worse"] = {"seeds": ref}
    text = V.recipes_text(res, reference="better", only=("worse",))
    assert text.startswith("- **worse** (3 seeds) against better (3)") and "images" not in text and "zero-shot MAE +1.00y" in text
    # a variant of one seed: against the reference's training of that seed, nothing decided
    res["variants"]["once"] = {"seeds": [run(2.5, 2.0, 2)]}
    text = V.recipes_text(res, only=("once",))
    assert text.startswith("- **once** (1 seed) against the images training of the same seed (2; one seed each")
    assert "zero-shot MAE -0.70y;" in text and "±" not in text and "lower" not in text


def test_joint_text_compares_with_the_image_recipe_s_head_the_real_films_alone_and_the_baseline():
    """A joint training whose k-fold MAE is 0.5 y above the image recipe's head's leave-one-out MAE on every seed
    (spread 0.1) is 'higher'; against the real films alone, 0.05 y apart, 'within the spread';
    the mean-age baseline is named; the real films alone are not compared with themselves."""
    s = lambda m: {"mae": m, "r": 0.6, "bias": 0.0}  # noqa: E731
    ref = [{"seed": k, "zero_shot": s(3.0), "cv": {"ridge_residual": s(2.0 + 0.1 * k)}} for k in range(3)]
    res = {"variants": {"images": {"seeds": ref}}, "baseline": {"mean_loo": s(2.89)},
           "joint": {"joint_x8": {"folds": 4, "seeds": [{"seed": k, "cv": s(2.5 + 0.1 * k)} for k in range(3)]},
                     "unrun": {"folds": 4, "seeds": []},
                     "real_only": {"folds": 4, "seeds": [{"seed": k, "cv": s(2.5 + 0.1 * k)} for k in range(2)]}}}
    text = V.joint_text(res)
    first, alone = text.split("\n")
    assert first.startswith("- **joint_x8** (3 seeds, 4-fold): MAE 2.60 y (the mean-age baseline: 2.89 y)")
    assert "against images with ridge_residual (leave-one-out, 3 seeds): MAE +0.50y ± 0.08 (higher), r +0.00 ± 0.00" in first
    assert "against real_only (2 seeds): MAE +0.05y ± 0.08 (within the spread)" in first and "unrun" not in text
    assert alone.startswith("- **real_only** (2 seeds, 4-fold)") and "against real_only" not in alone
    assert V.joint_text({"variants": {}}) == "No joint training has been run."
    # a setting that trains another recipe is read against that recipe's head
    res["variants"]["bone_maps_jitter"] = {"seeds": [{**e, "cv": {"ridge_residual": s(2.5 + 0.1 * e["seed"])}} for e in ref]}
    res["joint"] = {"maps_joint_x32": {"folds": 4, "variant": "bone_maps_jitter",
                                       "seeds": [{"seed": k, "cv": s(2.5 + 0.1 * k)} for k in range(3)]}}
    assert "against bone_maps_jitter with ridge_residual (leave-one-out, 3 seeds): MAE +0.00y" in V.joint_text(res)
    # one seed: read against the same seed's training, and nothing decided
    res["joint"]["maps_joint_x32"]["seeds"] = [{"seed": 1, "cv": s(2.0)}]
    one = V.joint_text(res)
    assert ("against bone_maps_jitter with ridge_residual (leave-one-out, the same seed, 1; one seed each: nothing "
            "decided): MAE -0.60y, r +0.00.") in one and "±" not in one
