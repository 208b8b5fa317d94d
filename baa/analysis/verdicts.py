"""What the numbers say, in sentences: the verdicts chapters 3-8 print under their tables.

Each function takes results the experiments or the bench computed (dicts, DataFrames) and returns
markdown; nothing here trains or measures. The claims of the paper themselves are decided in
:mod:`baa.analysis.claims`.

Layer: analysis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from baa import paper
from baa.analysis.report import PIPELINE_NAMES, POOR, QUALITY_NAMES, ccs_curves
from baa.data.augment import TTA_VIEWS
from baa.experiments.transfer import heldout_mae
from baa.experiments.transfer_recipes import cross_validation, with_head
from baa.metrics import seed_difference
from baa.paper import QUALITIES
from baa.profiles import is_trial


def _met(ok) -> str:
    return "met" if ok else "not met"


# -- chapter 3 -------------------------------------------------------------------------------------

def folds_text(loss: dict, profile, source: str) -> str:
    """Which folds of the loss comparison were trained, and what the ± means."""
    n_folds = len(loss["mae"]["folds"])
    n_val = sum(len(f["true"]) for f in loss["mae"]["folds"])
    return (f"Data: **{source}**. Trained **{n_folds} of the {profile.folds} folds** for each loss at profile "
            f"{profile.name} ({n_val} validation predictions per loss); the paper trained all 5 folds of the Digital Hand "
            "Atlas. " + ("With one fold the ± below is 0 by construction: it is not a spread estimate." if n_folds == 1
                         else f"The ± is the standard deviation over {n_folds} folds."))


def parameter_text(counts: dict, n_profile: int, profile) -> str:
    """Chapter 3's reading of ``report.parameter_counts`` at the paper's size, and the profile's count."""
    share = counts["share"]
    n = counts["total"]
    return (f"BoNet+ as Table 1 prints it has **{n:,} parameters ({n / 1e6:.2f} M)**. The paper's text (section 4.3) "
            f"says \"{paper.BONET_PLUS_PARAMS}\" parameters: Table 1 as printed gives {n / 10e6:.0%} of 10 M. The paper "
            "does not explain the difference. More layers per dense block would not fit Table 1's channel counts; "
            "DenseNet-BC bottlenecks (a 1 × 1 convolution before each 3 × 3, not shown in Table 1) or wider head layers "
            f"would add parameters. We build what Table 1 prints. The six dense blocks hold {share['dense blocks']:.0%} of "
            f"the parameters, the 1 × 1 layers after the last dense block (`tl7`, `conv3`, `conv4`, `out`) "
            f"{share['head']:.0%}; the largest single row is `{counts['largest']}` ({share['largest']:.0%}). At this "
            f"profile's width {profile.width:g} the network has {n_profile:,} parameters.")


def fig11_text(loss: dict) -> str:
    """Fig. 11's reading: is the gap between the losses larger at small thresholds?"""
    curves = ccs_curves(loss)
    t = curves["mae"][0]
    small, large = int(np.searchsorted(t, 0.5)), int(np.searchsorted(t, 2.0))
    a, b = curves["mae"][1], curves["mse"][1]
    holds = abs(a[small] - b[small]) > abs(a[large] - b[large]) and a[small] > b[small]
    return (f"Fraction within 0.5 years: L_MAE {a[small]:.0%}, L_MSE {b[small]:.0%}; within 2 years: L_MAE {a[large]:.0%}, "
            f"L_MSE {b[large]:.0%}. The paper's reading of Fig. 11 (larger gap at small thresholds) "
            + ("holds here." if holds else "does not hold here."))


# -- chapter 4 -------------------------------------------------------------------------------------

def classifier_text(confusion, source: str, profile: str) -> str:
    c = np.asarray(confusion)
    acc = np.trace(c) / c.sum()
    worst = QUALITY_NAMES[QUALITIES[int(np.argmin(np.diag(c) / c.sum(1)))]]
    return (f"Accuracy **{acc:.1%}** on {c.sum()} test images ({source}, profile {profile}); the paper: over "
            f"{paper.CLASSIFIER_ACCURACY:.0%}. The claim **{'holds' if acc >= paper.CLASSIFIER_ACCURACY else 'does not hold'}** "
            f"here. The class recognised worst is *{worst}*.")


def restoration_text(quality: pd.DataFrame, source: str, n: int, profile: str) -> str:
    """Chapter 4's reading of ``report.restoration_quality``: which restorer raises the PSNR, and DQ
    against CQ's experts."""
    poor = [QUALITY_NAMES[k] for k in POOR]
    gain = {name: quality.loc[poor, f"{name} PSNR"] - quality.loc[poor, "degraded PSNR"] for name in ("DQ", "CQ expert")}
    lines = [f"- **{name}** raises the PSNR on {int((g > 0).sum())} of {len(poor)} kinds ("
             + ", ".join(f"{k} {v:+.2f} dB" for k, v in g.items()) + ")." for name, g in gain.items()]
    diff = quality.loc[poor, "DQ PSNR"] - quality.loc[poor, "CQ expert PSNR"]
    lines.append("- DQ minus expert PSNR: " + ", ".join(f"{k} {v:+.2f} dB" for k, v in diff.items())
                 + f"; the single model is {'at least as good as' if (diff >= 0).all() else 'behind'} the experts"
                 + ("" if (diff >= 0).all() else f" on {', '.join(diff.index[diff < 0])}") + ".")
    lines.append(f"- On high-quality images DQ changes the image to a PSNR of {quality.loc['high', 'DQ PSNR']:.1f} dB "
                 f"(SSIM {quality.loc['high', 'DQ SSIM']:.3f}) against the original.")
    return f"Test set: {source}, {n} images, profile {profile}.\n\n" + "\n".join(lines)


def cq_dq_text(between: dict, quality: pd.DataFrame) -> str:
    """How far CQ's outputs are from DQ's (``report.cq_dq_psnr``), beside the degraded inputs' PSNR."""
    poor = [QUALITY_NAMES[k] for k in POOR]
    return ("PSNR of CQ's output against DQ's, whole test set: " + ", ".join(f"{k} {v:.1f} dB" for k, v in between.items())
            + " (for scale: the degraded inputs sit at " + ", ".join(f"{k} {quality.loc[k, 'degraded PSNR']:.1f} dB" for k in poor)
            + " from the clean images). The multi-degraded images (all three at once) are routed to a single expert by "
            "the 4-way classifier; chapter 5 tries the multi-label view.")


# -- chapter 5 -------------------------------------------------------------------------------------

def best_text(t4: pd.DataFrame, ours: str, paper_col: str) -> str:
    best = {q: t4[ours][q].idxmin() for q in t4[ours].columns}
    best_paper = {q: t4[paper_col][q].idxmin() for q in t4[paper_col].columns}
    return "Lowest MAE per quality, ours / paper: " + "; ".join(f"{q}: {best[q]} / {best_paper[q]}" for q in best) + "."


def recipe_text(effect: pd.DataFrame, source: str) -> str:
    """Chapter 5's reading of ``report.recipe_effect``: where our BoNet+ recipe lowers the error,
    where it raises it, and the largest change."""
    v = effect.stack()
    lower, higher = int((v < 0).sum()), int((v > 0).sum())
    (pipe, q), big = v.abs().idxmax(), v[v.abs().idxmax()]
    return (f"With our BoNet+ recipe the MAE is lower in **{lower}** and higher in **{higher}** of {len(v)} "
            f"pipeline × quality cells ({source}). The largest change: {pipe} on {q}, {big:+.3f} y. The paper's "
            "claims below are decided on the pipelines as the paper builds them; these rows say what our "
            "additions are worth on the same test images.")


def collapsed(results: dict, share: float = 0.1) -> dict[str, float]:
    """Pipelines whose ages on the high-quality test images barely vary: ``{name: spread}`` for each
    whose standard deviation of predictions is under ``share`` of the true ages' (a regressor that
    learned the mean age, as the paper's BoNet+ does on a couple of dozen real films)."""
    truth = np.std(np.asarray(results["true"], float))
    spread = {n: float(np.std(np.asarray(v["high"], float))) for n, v in results["pred"].items() if "high" in v}
    return {n: s for n, s in spread.items() if truth > 0 and s < share * truth}


def collapse_text(results: dict, source: str) -> str:
    """A sentence naming the pipelines whose BoNet+ answers nearly one age (``collapsed``), or ``""``."""
    flat = collapsed(results)
    if not flat:
        return ""
    names = ", ".join(f"{PIPELINE_NAMES[n]} (SD {s:.2f} y)" for n, s in flat.items())
    sd = float(np.std(np.asarray(results["true"], float)))
    return (f"**Nearly one age for every image** ({source}): {names}, against an SD of {sd:.2f} y in the true ages. "
            "Their BoNet+ learned little more than one age near the training mean, so their rows measure a "
            "constant guess and restoring the input cannot change them: too few training images for this "
            "recipe, not a verdict on the pipelines.")


def dq_all_text(results: dict, source: str) -> str:
    m = results["mae"]
    order = sorted((m[n]["all"], PIPELINE_NAMES[n]) for n in m if "all" in m[n])
    # the multi-label CQ reads ages with the beyond-the-paper BoNet+: compare it with CQ and DQ on that one
    sfx = "_beyond" if "cq_beyond" in m else ""
    ml, cq, dq = m["cq_multilabel"]["all"], m["cq" + sfx]["all"], m["dq" + sfx]["all"]
    same = " (the same BoNet+, beyond the paper)" if sfx else ""
    return (f"On all three at once ({source}): DQ {m['dq']['all']:.3f} years MAE (paper {paper.DQ_ALL['mae']}), against "
            f"{m['dq']['high']:.3f} on high-quality images (paper {paper.TABLE4['dq']['high']}). The multi-label CQ ({ml:.3f}) "
            f"is {'better' if ml < cq else 'not better'} than the 4-way CQ ({cq:.3f}) and {'better' if ml < dq else 'not better'} "
            f"than DQ ({dq:.3f}){same}. Ranking by MAE: " + " < ".join(f"{name} {v:.3f}" for v, name in order) + ".")


def claims_note(items: list, profile: str, n_test: int) -> str:
    held = sum(c.holds for c in items)
    note = (f"At the {profile} profile the models have trained for one epoch on a few dozen images, so these verdicts say "
            "nothing about the paper: the profile exists to prove that every line runs." if is_trial(profile) else
            f"These verdicts are for the phantom at profile {profile}, not for the Digital Hand Atlas; where a claim "
            f"fails, the numbers above show by how much (on {n_test} test images).")
    return f"**{held} of {len(items)}** claims hold here. {note}"


# -- chapter 7 -------------------------------------------------------------------------------------

def enrichment_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """``saliency_table``'s enrichment as (method, pipeline) x quality; ``"empty"`` where every map
    of a row was zero."""
    pivot = table.pivot_table(index=["method", "pipeline"], columns="quality", values="enrichment", sort=False,
                              dropna=False)[list(QUALITIES)]
    return pivot.round(2).astype(object).where(pivot.notna(), "empty")


def empty_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """How many images of each (method, pipeline) x quality had an all-zero map."""
    return table.pivot_table(index=["method", "pipeline"], columns="quality", values="n_empty",
                             sort=False)[list(QUALITIES)].astype(int)


def saliency_text(table: pd.DataFrame, layer: str, pipelines, profile: str, n: int) -> str:
    """Chapter 7's verdict: does each trained pipeline's saliency favour the growth regions more
    than a random network's, and what degradation does to it. ``table``: ``saliency_table`` with
    pipelines renamed by ``PIPELINE_NAMES`` (the control: ``"random BoNet+"``)."""
    def enr(method, pipeline, quality):
        sel = (table["method"] == method) & (table["pipeline"] == pipeline) & (table["quality"] == quality)
        return float(table.loc[sel, "enrichment"].iloc[0])

    def f(v):
        return "no saliency at all" if np.isnan(v) else f"{v:.2f}"

    lines = []
    for method, label in (("gradcam", f"Grad-CAM ({layer})"), ("gradient", "input gradient")):
        ctrl, plain = enr(method, "random BoNet+", "high"), enr(method, "BoNet+", "high")
        clean = {PIPELINE_NAMES[k]: enr(method, PIPELINE_NAMES[k], "high") for k in pipelines}
        above = [k for k, v in clean.items() if v > ctrl]
        if np.isnan(plain):
            lines.append(f"* **{label}**: plain BoNet+'s maps are empty on clean images: its age does not depend on "
                         f"the input at this profile (random weights: enrichment {f(ctrl)}).")
            continue
        drop = {q: enr(method, "BoNet+", q) - plain for q in QUALITIES[1:]}
        best = {q: np.nanmax([enr(method, PIPELINE_NAMES[k], q) for k in ("cq", "dq")]) for q in QUALITIES[1:]}
        lines.append(f"* **{label}**: on clean images plain BoNet+ puts {plain:.2f} times the growth regions' area share of "
                     f"its saliency on them (random weights: {f(ctrl)}); {len(above)} of {len(clean)} trained pipelines "
                     "score above the random control" + (f" ({', '.join(above)})" if above else "")
                     + ". Under degradation plain BoNet+'s enrichment changes by " + ", ".join(f"{drop[q]:+.2f} ({q})" for q in drop)
                     + "; the better of CQ / DQ scores " + ", ".join(f"{f(best[q])} ({q})" for q in best) + ".")
    g_plain, g_ctrl = enr("gradient", "BoNet+", "high"), enr("gradient", "random BoNet+", "high")
    if np.isnan(g_plain):
        verdict = "Plain BoNet+ has no input gradient here, so nothing can be said about where it looks"
    elif g_plain > g_ctrl:
        verdict = (f"Plain BoNet+'s input gradients are more enriched on growth regions than a random network's "
                   f"({g_plain:.2f} against {g_ctrl:.2f})")
    else:
        verdict = (f"Plain BoNet+'s input gradients are **not** more enriched on growth regions than a random network's "
                   f"({g_plain:.2f} against {g_ctrl:.2f}), so the maps do not show that it reads the growth regions")
    smoke = (f" At the {profile} profile the networks have trained for a few steps and these numbers only show that the "
             "code runs." if is_trial(profile) else "")
    return ("\n".join(lines) + f"\n\n{verdict} (profile {profile}, {n} phantom test images).{smoke} "
            "The paper reports no saliency, so there is nothing of theirs to set beside these numbers.")


# -- chapter 8: the bench ----------------------------------------------------------------------------

def bench_header(result: dict, profile: str) -> str:
    """What the bench ran on: its data, hardware, duration and where it wrote its JSON."""
    meta = result["meta"]
    return (f"The bench: **{meta['data']}** ({meta['data_source']}), {meta['n_bench']} held-out bench images at "
            f"{meta['image_size']} × {meta['image_size']} px. Hardware: **{meta['device_name']}**, torch "
            f"{meta['torch']}. The bench took {meta['seconds']:.0f} s and wrote `artifacts/{profile}/bench.json`."
            + (f" **{meta['busy_note']}.**" if meta.get("busy_note") else "")
            + (f" The {profile} profile times one iteration of each measurement and trains for one epoch: its numbers "
               "prove that the code runs and mean nothing." if is_trial(profile) else ""))


def _tta_line(kind: str, v: dict, r: dict) -> str:
    closest = v["best_classical_mae_age_change"]
    line = (f"* **{kind}**, two more views of the same numbers: with the age averaged over {TTA_VIEWS} views, the CQ "
            f"ResUNet changes the MAE by {v['resunet_mae_change_years_tta']:+.3f} y against the best classical "
            f"(`{v['best_classical_mae_tta']}`), goal **{_met(v['resunet_beats_classical_tta'])}**")
    if v.get("resunet_mae_change_ci95_years_tta"):
        line += " (95 % interval [{:+.3f}, {:+.3f}] y)".format(*v["resunet_mae_change_ci95_years_tta"])
    line += (f"; it moves an age from the clean image's by {r['resunet']['age_change_years']:.3f} y on average, against "
             f"{r[closest]['age_change_years']:.3f} y for the closest classical restorer (`{closest}`)")
    if v.get("resunet_mae_change_ci95_years_age_change"):
        line += " (difference {:+.3f} y, 95 % interval [{:+.3f}, {:+.3f}] y: {})".format(
            v["resunet_mae_change_years_age_change"], *v["resunet_mae_change_ci95_years_age_change"],
            "decided" if v["resunet_mae_change_decided_age_change"] else "undecided")
    return line + (f". Single-view MAE of the clean images: {r['clean']['mae_years']:.3f} y; a restorer whose MAE lies "
                   "below it is offsetting BoNet+'s own bias, not restoring.")


def bench_verdict(result: dict) -> str:
    """Does the ResUNet beat the best classical restorer (≥ 1 dB PSNR and a lower MAE), per
    degradation, with the paired-bootstrap intervals and the test-time-augmentation view."""
    verdict, rest, n = result["verdict"], result["restoration"], result["meta"]["n_bench"]
    lines = []
    for kind, v in verdict.items():
        lines.append(f"* **{kind}**: the CQ ResUNet is {v['resunet_psnr_gain_db']:+.2f} dB against the best classical "
                     f"restorer by PSNR (`{v['best_classical_psnr']}`) and changes the MAE by "
                     f"{v['resunet_mae_change_years']:+.3f} years against the best by MAE (`{v['best_classical_mae']}`): the "
                     f"goal (≥ 1 dB and a lower MAE) is **{_met(v['resunet_beats_classical'])}**. DQ: "
                     f"{v['resunet_dq_psnr_gain_db']:+.2f} dB, {v['resunet_dq_mae_change_years']:+.3f} years "
                     f"({_met(v['resunet_dq_beats_classical'])}).")
        if v.get("resunet_mae_change_ci95_years"):
            lo, hi = v["resunet_mae_change_ci95_years"]
            lines[-1] += (f" Paired-bootstrap 95 % interval of the CQ ResUNet's MAE change over these {n} images: "
                          f"[{lo:+.3f}, {hi:+.3f}] y, " + ("so the bench set decides it." if v["resunet_mae_change_decided"]
                                                          else "which holds 0: at this size the bench set cannot tell the two MAEs apart."))
    lines += [_tta_line(kind, v, rest[kind]) for kind, v in verdict.items() if "resunet_beats_classical_tta" in v]
    met = sum(v["resunet_beats_classical"] for v in verdict.values())
    return (f"At profile {result['meta']['profile']} on {n} phantom images the ResUNet meets the goal for {met} of "
            f"{len(verdict)} degradations:\n\n" + "\n".join(lines)
            + "\n\nThe paper reports no classical baseline to compare with; these numbers are ours alone.")


def size_text(speed: dict) -> str:
    return (f"Section 4.3 of the paper puts BoNet+ at \"{paper.BONET_PLUS_PARAMS}\" parameters; ours, built from Table 1, "
            f"has {speed['bonet_paper_params'] / 1e6:.2f} M and costs {speed['bonet_paper_gflops']:.1f} GFLOPs per 256² "
            f"image, {speed['bonet_paper_gflops'] / speed['resunet_paper_gflops']:.2f} of the ResUNet's "
            f"{speed['resunet_paper_gflops']:.0f} GFLOPs: restoring an image costs more than assessing it.")


def training_text(result: dict, training: pd.DataFrame, train_bf16: bool) -> str:
    """The paper's training speed against ours at 256² (one epoch of 4/5 of ~1400 DHA images)."""
    speed, hw, profile = result["speed"], result["meta"]["device_name"], result["meta"]["profile"]
    n_train = 1400 * 4 // 5  # assumed: 4/5 of ~1400 DHA images per epoch under 5-fold CV
    paper_ips = n_train / paper.SECONDS_PER_EPOCH["regressor"]
    ours = speed["train_images_per_s_256_channels_last"]
    txt = (f"The paper trained BoNet+ at {paper.SECONDS_PER_EPOCH['regressor']} s per epoch on a GTX 1080 Ti, about "
           f"{paper_ips:.0f} images/s if an epoch is {n_train} images (our assumption: 4/5 of ~1400 under 5-fold CV). ")
    if ours:
        txt += (f"Here, on {hw}, BoNet+ trains at {ours:.2f} images/s at 256²: one such epoch would take "
                f"{n_train / ours / 3600:.1f} h, {paper_ips / ours:.0f} times the paper's. That is why the book's cpu "
                "profile shrinks the networks and the images.")
    else:
        txt += "Paper-size training was not timed in this run (quick / smoke)."
    if "bf16 images/s" in training and training["bf16 images/s"].notna().any():
        r = training["bf16 speed-up"].dropna()
        txt += (f" bf16 autocast trains {r.min():.1f}-{r.max():.1f} times as fast as NCHW fp32 here "
                f"(`TrainConfig(amp_cpu=True)` on a CPU, the default on CUDA). The {profile} profile "
                + ("trains every network of this book in bf16 where the CPU has bf16 kernels (`Profile.train_bf16`) and "
                   "spends the time saved on epochs" if train_bf16 else "trains in fp32 on a CPU")
                + "; `baa calibrate` (chapter 1) trains its larger BoNet+ in bf16.")
    return txt


def _phantom_line(speed: dict, t: dict, hw: str) -> str:
    return (f"* The phantom renders {speed['phantom_images_per_s_256']:.0f} images/s at 256² in memory (target ≥ 200: "
            f"**{_met(t['phantom_images_per_s_256']['met'])}**; one process alone: "
            f"{speed['phantom_images_per_s_256_one_process']:.0f}), {speed['phantom_images_per_s_256_png']:.0f} images/s "
            f"written as 8-bit PNGs with the CSV (target ≥ 100: **{_met(t['phantom_images_per_s_256_png']['met'])}**), "
            f"and {speed['phantom_images_per_s_cpu_profile']:.0f} images/s at the cpu profile's size, on {hw}.")


def peak_text(result: dict) -> str:
    """How close to this machine's measured matmul peak the bench's BoNet+ ran, and the targets."""
    speed, t, meta = result["speed"], result["targets"], result["meta"]
    hw, share, ms = meta["device_name"], speed["conv_share_of_peak"], speed["bonet_infer_ms_256_best"]
    infer = t["bonet_infer_ms_256_best"]
    lines = [
        f"* fp32 matmul peak measured on **{hw}**: {speed['matmul_peak_gflops']:.0f} GFLOP/s.",
        f"* BoNet+ convolutions at 256²: {speed['conv_gflops_per_s']:.0f} GFLOP/s = {100 * share:.0f} % of that peak "
        f"(target ≥ 50 %: **{_met(t['conv_share_of_peak']['met'])}**); at the cpu profile's narrow layers: "
        f"{100 * speed['conv_share_of_peak_cpu_profile']:.0f} %.",
        f"* Whole BoNet+ forward at 256², fastest fp32: {speed['bonet_infer_gflops_per_s_256']:.0f} GFLOP/s "
        f"({100 * speed['bonet_infer_share_of_peak_256']:.0f} % of peak).",
        f"* Fastest single-image BoNet+ inference at 256²: {ms:.0f} ms in {infer['precision']} on {hw} (target ≤ 100 ms: "
        f"**{_met(infer['met'])}**); fastest in fp32: {speed['bonet_infer_ms_256_best_fp32']:.0f} ms. At this machine's "
        f"fp32 peak the {speed['bonet_paper_gflops']:.1f} GFLOPs could not take less than "
        f"{1e3 * speed['bonet_paper_gflops'] / speed['matmul_peak_gflops']:.0f} ms."]
    prec = result.get("precision")
    if prec:
        lines.append(f"* What bf16 costs ({meta['profile']} profile's trained plain BoNet+, {prec['n']} clean phantom bench "
                     f"images): MAE {prec['mae_years_fp32']:.3f} y in fp32, {prec['mae_years_bf16']:.3f} y in bf16; a "
                     f"predicted age moves by {prec['mean_abs_change_years']:.3f} y on average, "
                     f"{prec['max_abs_change_years']:.3f} y at most.")
    if speed["train_share_of_peak_256"]:
        lines.append(f"* Training at 256²: {100 * speed['train_share_of_peak_256']:.0f} % of peak.")
    if speed["phantom_images_per_s_256"]:
        lines.append(_phantom_line(speed, t, hw))
    if meta.get("busy_note"):
        lines.append(f"* **{meta['busy_note']}.**")
    lines += [f"* Not measured ({k}): {v}." for k, v in meta.get("skipped", {}).items()]
    lines.append(f"* GPU: **{meta['gpu']}** (bf16 autocast numbers in `speed_extra`)." if meta.get("gpu") else
                 f"* {meta['gpu_note']}, e.g. `baa bench --profile paper --out bench-gpu.json`.")
    if share > 1:
        lines.append("* The convolutions outran `torch.mm`: on this CPU the matmul library's kernels (or a busy moment "
                     "while the peak was measured) understate what the hardware can do, so read the shares as upper bounds.")
    return "\n".join(lines)


# -- chapter 10: DQ's budget ---------------------------------------------------------------------------

def dq_budget_text(results: dict, budget: dict, by_budget: pd.DataFrame) -> str:
    """What DQ on the experts' budget (``experiments.dq_budget``) changes: its MAE and PSNR on each poor
    quality against the book's DQ and CQ, and the claims whose verdict changes with it."""
    f, m = budget["factor"], results["mae"]
    parts = [f"{QUALITY_NAMES[q]}: MAE {m['dq'][q]:.3f} → {budget['mae'][q]:.3f} y (CQ {m['cq'][q]:.3f}), "
             f"PSNR {budget['psnr_book'][q]:.2f} → {budget['psnr'][q]:.2f} dB" for q in POOR]
    changed = by_budget.loc[by_budget.iloc[:, -1], "claim"].tolist()
    return (f"DQ trained for {f}x the epochs ({budget['epochs']}, the three experts' together), every other network "
            f"and the {budget['n_test']} test images the book's: " + "; ".join(parts) + ". "
            + (f"Verdicts that change with DQ's budget: {'; '.join(changed)}. Those failed for our schedule, not for "
               "the design." if changed else "No verdict changes: what fails does not fail for DQ's training budget "
               "alone."))


# -- chapter 11 ------------------------------------------------------------------------------------

# (label, reading of one training, unit, the key a variant's trainings must hold for it to be compared)
RECIPE_MEASURES = (("held-out phantom MAE", lambda e: (e.get("phantom") or {}).get("mae", np.nan), "y", None),
                   ("zero-shot MAE", lambda e: e["zero_shot"]["mae"], "y", None),
                   # an aligned variant on films it was not aligned on, against the reference's plain zero-shot
                   ("zero-shot MAE on films it did not align on", heldout_mae, "y", "zero_shot_heldout"),
                   ("zero-shot r", lambda e: e["zero_shot"]["r"], "", None),
                   ("ridge_residual MAE (leave-one-out)", lambda e: e["cv"]["ridge_residual"]["mae"], "y", None),
                   ("oldest toddler", lambda e: e.get("toddler_max") or np.nan, "y", None))


def _verdict(d: float, se: float) -> str:
    """A difference ``d`` read against twice its standard error ``se``."""
    return "no spread measured" if se == 0 else ("higher" if d > 0 else "lower") if abs(d) > 2 * se else "within the spread"


def recipes_text(res: dict, reference: str = "images", only=None) -> str:
    """Chapter 11's reading of ``transfer_recipes``: each variant (of ``only``, where given) against ``reference``
    on each measure, the difference of the means over seeds and whether it exceeds twice its standard error;
    otherwise it is within the spread between trainings and this set does not tell the two apart. A variant of one
    seed is compared with the reference's training of the same seed (same phantoms), and nothing is decided: one
    training has no spread of its own."""
    ref = res["variants"].get(reference, {}).get("seeds") or []
    if not ref:
        return f"No `{reference}` runs to compare with."
    lines = []
    for name, v in res["variants"].items():
        if name == reference or not v["seeds"] or (only is not None and name not in only):
            continue
        same = [e for e in ref if e.get("seed") == v["seeds"][0].get("seed")]
        lone = len(v["seeds"]) == 1 and len(same) == 1
        parts = []
        for label, get, unit, needs in RECIPE_MEASURES:
            if needs and not all(needs in e for e in v["seeds"]):
                continue
            d, se = seed_difference([get(e) for e in (same if lone else ref)], [get(e) for e in v["seeds"]])
            if np.isnan(d):
                continue
            parts.append(f"{label} {d:+.2f}{unit}" if lone else f"{label} {d:+.2f}{unit} ± {se:.2f} ({_verdict(d, se)})")
        n = len(v["seeds"])
        against = (f"against the {reference} training of the same seed ({v['seeds'][0]['seed']}; one seed each: no spread "
                   f"measured, nothing decided)" if lone else f"against {reference} ({len(ref)})")
        lines.append(f"- **{name}** ({n} seed{'s' if n > 1 else ''}) {against}: " + "; ".join(parts) + ".")
    return "\n".join(lines) if lines else f"Only `{reference}` has been run."


def joint_text(res: dict, reference: str = "images", head: str = "ridge_residual", alone: str = "real_only") -> str:
    """Chapter 11's reading of the real labels inside the training (``transfer_recipes.JOINT``): each
    setting's cross-validated MAE and r against its own recipe's ``head`` under leave-one-out (the setting's
    ``variant``; ``reference`` where it names none), and a setting with phantoms against ``alone`` (the real films
    without them: what the phantom adds); each the difference of the means over seeds and whether it exceeds
    twice its standard error. A setting of one seed is compared with the other's training of the same seed, and
    nothing is decided (as ``recipes_text``). The mean-age baseline (leave-one-out) is named beside each MAE.
    A fine-tuning setting's mean with its head (``transfer_recipes.with_head``) is read as a setting too."""
    joint = with_head(res)
    solo = (joint.get(alone) or {}).get("seeds") or []
    base = res.get("baseline", {}).get("mean_loo", {}).get("mae")
    measures = (("MAE", lambda s: s["mae"], "y"), ("r", lambda s: s["r"], ""))
    lines = []
    for name, v in joint.items():
        runs = v["seeds"]
        if not runs:
            continue
        own = v.get("variant", reference)
        ref = res.get("variants", {}).get(own, {}).get("seeds") or []
        lone = len(runs) == 1  # one training has no spread of its own: the other's of the same seed, undecided
        parts = []
        for other, label, get_other in ((ref, f"{own} with {head} (leave-one-out, ", lambda e: e["cv"][head]),
                                        (solo if name != alone else [], f"{alone} (", lambda e: e["cv"])):
            if lone:
                other = [e for e in other if e.get("seed") == runs[0].get("seed")]
            if not other:
                continue
            diffs = [(m, *seed_difference([get(get_other(e)) for e in other], [get(e["cv"]) for e in runs]), unit)
                     for m, get, unit in measures]
            if lone:
                parts.append(f"against {label}the same seed, {runs[0].get('seed')}; one seed each: nothing decided): "
                             + ", ".join(f"{m} {d:+.2f}{unit}" for m, d, _, unit in diffs))
            else:
                parts.append(f"against {label}{len(other)} seeds): "
                             + ", ".join(f"{m} {d:+.2f}{unit} ± {se:.2f} ({_verdict(d, se)})" for m, d, se, unit in diffs))
        mae = np.mean([e["cv"]["mae"] for e in runs])
        vs_base = f" (the mean-age baseline: {base:.2f} y)" if base is not None else ""
        lines.append(f"- **{name}** ({len(runs)} seed{'s' if len(runs) > 1 else ''}, {cross_validation(v)}): MAE "
                     f"{mae:.2f} y{vs_base}" + ("; " + "; ".join(parts) if parts else "") + ".")
    return "\n".join(lines) if lines else "No joint training has been run."
