"""``baa bench``: the restoration and speed sections together, judged against their goals, written as
one JSON, and shown as tables.

Layer: analysis.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from pathlib import Path

from baa.analysis.restoration import BenchModels, bench_models, restoration, verdict
from baa.analysis.speed import precision_check, speed
from baa.analysis.timing import hardware, load_average
from baa.data import TTA_VIEWS, BoneAgeData
from baa.experiments.artifacts import artifact_dir
from baa.experiments.datasets import dataset
from baa.io.atomic import save_json
from baa.profiles import Profile
from baa.train import bf16_supported, pick_device

# The speed goals set for this reproduction (the paper reports no speed): (speed key, goal, rule).
SPEED_GOALS = (("bonet_infer_ms_256_best", 100.0, "<="),  # one 256² image through BoNet+, ms
               ("conv_share_of_peak", 0.5, ">="),  # BoNet+'s convolutions, share of the matmul peak
               ("phantom_images_per_s_256", 200.0, ">="),  # the phantom in memory
               ("phantom_images_per_s_256_png", 100.0, ">="))  # the phantom written as PNGs with the CSV


def targets(result: dict) -> dict:
    """Each speed goal of ``SPEED_GOALS`` (keyed by what it measures: ``value``, ``target``, ``rule``,
    ``met``) and, per degradation, whether the ResUNet beats the classical restorers
    (``resunet_beats_classical_<kind>``, see ``restoration.verdict``)."""
    s = result.get("speed") or {}
    t = {}
    for key, goal, rule in SPEED_GOALS if s else ():
        v = s.get(key)
        t[key] = {"value": v, "target": goal, "rule": rule,
                  "met": v is not None and (v <= goal if rule == "<=" else v >= goal)}
    if "bonet_infer_ms_256_best" in t:
        v = t["bonet_infer_ms_256_best"]["value"]
        t["bonet_infer_ms_256_best"]["precision"] = "fp32" if v is not None and v == s.get("bonet_infer_ms_256_best_fp32") else "bf16"
    for kind, v in (result.get("verdict") or {}).items():
        t[f"resunet_beats_classical_{kind}"] = {"value": v["resunet_psnr_gain_db"], "target": 1.0,
                                                "mae_change_years": v["resunet_mae_change_years"],
                                                "mae_change_ci95_years": v.get("resunet_mae_change_ci95_years"),
                                                "mae_change_decided": v.get("resunet_mae_change_decided"),
                                                "met": v["resunet_beats_classical"],
                                                "met_with_tta": v.get("resunet_beats_classical_tta"),
                                                "met_by_age_change": v.get("resunet_beats_classical_age_change")}
    return t


def _busy_note(meta: dict) -> str | None:
    busy = max(meta["load_average_start"] or 0.0, meta["load_average_end"] or 0.0)
    if busy <= 1.25 * (os.cpu_count() or 1):
        return None
    return (f"The machine was busy with other work (1-minute load average up to {busy:.1f} on {os.cpu_count()} CPUs): "
            f"multi-threaded kernels wait for descheduled threads at every barrier, which slows small layers most; "
            f"absolute times are pessimistic")


def run(p: Profile, out: str | Path | bool | None = None, quick: bool = False,
        parts: tuple[str, ...] = ("restoration", "speed"), device: str = "auto", progress: bool = True,
        n: int | None = None, compile: bool | None = None, models: BenchModels | None = None,
        data: BoneAgeData | None = None, networks: dict | None = None) -> dict:
    """Both sections, ``targets`` and ``meta``; written atomically to ``out`` (default
    ``artifacts/<profile>/bench.json``; ``out=False`` writes nothing). The result as a dict.

    The restoration section scores ``models`` (default: ``bench_models(p)``, trained by the book)
    on the first ``n`` images of ``data`` (default: the profile's bench set; ``n``: ``p.n_bench``,
    ``quick``: at most 16); ``networks`` goes to ``speed``."""
    dev = pick_device(device)
    t0 = time.perf_counter()
    result: dict = {}
    meta = {**hardware(dev), "profile": p.name, "quick": bool(quick), "data": "phantom",
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "load_average_start": load_average()}
    if "restoration" in parts:
        t1 = time.perf_counter()
        bench = dataset(p, "bench", progress) if data is None else data
        models = models or bench_models(p)
        n = n or (min(p.n_bench, 16) if quick else p.n_bench)
        scored = bench.subset(list(range(n))) if n < len(bench) else bench
        result["restoration"] = restoration(models, scored, progress)
        result["verdict"] = verdict(result["restoration"])
        meta.update(data_source=scored.source, n_bench=len(scored), image_size=int(scored.images.shape[-1]),
                    restoration_device=str(dev), classical_device="cpu (NumPy / scikit-image)",
                    seconds_restoration=time.perf_counter() - t1)
        if bf16_supported(dev):  # the price of the bf16 speed-up, on the trained model
            result["precision"] = precision_check(models.regressor, bench, dev)
    if "speed" in parts:
        t1 = time.perf_counter()
        s, extra = speed(p, quick, dev, progress, compile=compile, networks=networks)
        meta["seconds_speed"] = time.perf_counter() - t1
        result["speed"] = s
        meta["skipped"] = extra.pop("skipped")
        result["speed_extra"] = extra
    result["targets"] = targets(result)
    if dev.type != "cuda":
        meta["gpu_note"] = "No GPU in this run: GPU numbers need `baa bench` on a GPU machine"
    meta["load_average_end"] = load_average()
    if _busy_note(meta):
        meta["busy_note"] = _busy_note(meta)
    meta["seconds"] = time.perf_counter() - t0
    result["meta"] = meta
    if out is not False:
        save_json(result, out or artifact_dir(p) / "bench.json")
    return result


NETWORK_NAMES = {"bonet": "BoNet+", "resunet": "ResUNet", "classifier": "QualityClassifier"}


INFERENCE_STEPS = {"grad": "_grad", "no_grad": "", "inference_mode": "_inference_mode",
                   "channels_last": "_channels_last", "compiled": "_compiled", "bf16": "_bf16",
                   "compiled, bf16": "_compiled_bf16"}


def frames(result: dict) -> dict:
    """The result as pandas DataFrames for the book: ``restoration`` (rows (kind, method)),
    ``verdict`` (one row per kind), ``size`` (the three networks), ``inference`` (BoNet+ latency
    per cumulative speed-up, at 256 and at the cpu profile, with the speed-up over the "before")
    and ``training`` (images/s per network and memory format). Missing parts are left out."""
    import pandas as pd

    out = {}
    rest = result.get("restoration") or {}
    if rest:
        rows = {(k, m): {"PSNR (dB)": r.get("psnr"), "SSIM": r.get("ssim"), "PSNR in label (dB)": r.get("psnr_mask"),
                         "MAE (years)": r.get("mae_years"), f"MAE, {TTA_VIEWS} views (years)": r.get("mae_years_tta"),
                         "age change vs clean (years)": r.get("age_change_years"), "ms / image": r.get("ms_per_image")}
                for k, methods in rest.items() for m, r in methods.items()}
        df = pd.DataFrame.from_dict(rows, orient="index").astype(float)
        df.index = pd.MultiIndex.from_tuples(df.index, names=["degradation", "method"])
        out["restoration"] = df
    if result.get("verdict"):
        out["verdict"] = pd.DataFrame({k: {
            "best classical (PSNR)": v["best_classical_psnr"],
            "ResUNet PSNR gain (dB)": v["resunet_psnr_gain_db"],
            "best classical (MAE)": v["best_classical_mae"],
            "ResUNet MAE change (years)": v["resunet_mae_change_years"],
            "95 % interval (years)": ("[{:+.3f}, {:+.3f}]".format(*v["resunet_mae_change_ci95_years"])
                                      if v.get("resunet_mae_change_ci95_years") else None),
            "ResUNet beats it (>= 1 dB and lower MAE)": v["resunet_beats_classical"],
            f"... with {TTA_VIEWS} views": v.get("resunet_beats_classical_tta"),
            "... by age change vs clean": v.get("resunet_beats_classical_age_change"),
            "DQ PSNR gain (dB)": v["resunet_dq_psnr_gain_db"],
            "DQ MAE change (years)": v["resunet_dq_mae_change_years"],
            "DQ beats it": v["resunet_dq_beats_classical"]} for k, v in result["verdict"].items()}).T
    s = result.get("speed") or {}
    x = result.get("speed_extra") or {}
    if s:
        out["size"] = pd.DataFrame({NETWORK_NAMES[n]: {
            "parameters (M), paper size": s[f"{n}_paper_params"] / 1e6,
            "GFLOPs / image, 256², forward": s[f"{n}_paper_gflops"],
            "GFLOPs / image, 256², training step": s[f"{n}_paper_train_gflops"],
            "parameters (M), cpu profile": s[f"{n}_cpu_profile_params"] / 1e6,
            "GFLOPs / image, cpu profile, forward": s[f"{n}_cpu_profile_gflops"]} for n in NETWORK_NAMES}).T
        inf = pd.DataFrame({f"{tag} ms": {step: s.get(f"bonet_infer_ms_{tag}{suf}") for step, suf in INFERENCE_STEPS.items()}
                            for tag in ("256", "cpu_profile")}).astype(float)
        for tag in ("256", "cpu_profile"):
            before = inf[f"{tag} ms"].iloc[0] if pd.notna(inf[f"{tag} ms"].iloc[0]) else inf[f"{tag} ms"].iloc[1]
            inf[f"{tag} speed-up"] = before / inf[f"{tag} ms"]
        inf.index.name = "BoNet+ inference, one image (cumulative)"
        out["inference"] = inf
        tr = {}
        for n in NETWORK_NAMES:
            pre = "" if n == "bonet" else f"{n}_"
            a, b = s.get(f"{pre}train_images_per_s_cpu_profile_nchw"), s.get(f"{pre}train_images_per_s_cpu_profile")
            tr[f"{NETWORK_NAMES[n]}, cpu profile"] = {"NCHW images/s": a, "channels_last images/s": b,
                                                      "bf16 images/s": x.get(f"{pre}train_images_per_s_cpu_profile_bf16")}
        tr["BoNet+, 256² paper size"] = {"NCHW images/s": s.get("train_images_per_s_256"),
                                         "channels_last images/s": s.get("train_images_per_s_256_channels_last"),
                                         "bf16 images/s": x.get("train_images_per_s_256_bf16")}
        tr = pd.DataFrame(tr).T.astype(float)
        tr["speed-up"] = tr["channels_last images/s"] / tr["NCHW images/s"]
        tr["bf16 speed-up"] = tr["bf16 images/s"] / tr["NCHW images/s"]
        if tr["bf16 images/s"].isna().all():
            tr = tr.drop(columns=["bf16 images/s", "bf16 speed-up"])
        out["training"] = tr
    return out


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return str(v)


def format_table(result: dict) -> str:
    """The result as plain-text tables (what ``baa bench`` prints)."""
    lines = []
    meta = result.get("meta", {})
    lines.append(f"baa bench  profile={meta.get('profile')}  data={meta.get('data')}  device={meta.get('device_name')}")
    for kind, methods in (result.get("restoration") or {}).items():
        lines.append("")
        lines.append(f"[{kind}] n={meta.get('n_bench')} at {meta.get('image_size')} px")
        lines.append(f"  {'method':<18}{'PSNR dB':>9}{'SSIM':>8}{'PSNR mask':>11}{'MAE years':>11}{'ms/image':>10}")
        for m, r in methods.items():
            f = lambda v, d: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
            lines.append(f"  {m:<18}{f(r.get('psnr'), 2):>9}{f(r.get('ssim'), 3):>8}{f(r.get('psnr_mask'), 2):>11}"
                         f"{f(r.get('mae_years'), 3):>11}{f(r.get('ms_per_image'), 1):>10}")
    if result.get("speed"):
        lines.append("")
        lines.append(f"[speed] times on {meta.get('device_name')}")
        for k, v in result["speed"].items():
            lines.append(f"  {k:<48}{_fmt(v):>14}")
        for k, v in (result.get("speed_extra") or {}).items():
            if not isinstance(v, dict):  # cpu_seconds per step stays in the JSON
                lines.append(f"  {k:<48}{_fmt(v):>14}")
    if result.get("precision"):
        lines.append("")
        lines.append("[bf16 inference, trained plain BoNet+, clean bench images]")
        for k, v in result["precision"].items():
            lines.append(f"  {k:<48}{_fmt(v):>14}")
    if result.get("targets"):
        lines.append("")
        lines.append("[targets]")
        for k, v in result["targets"].items():
            lines.append(f"  {k:<48}{_fmt(v['value']):>14}  met: {_fmt(v['met'])}")
    for k, v in (meta.get("skipped") or {}).items():
        lines.append(f"  note: {k}: {v}")
    for k in ("busy_note", "gpu_note"):
        if meta.get(k):
            lines.append(f"  note: {meta[k]}")
    return "\n".join(lines)
