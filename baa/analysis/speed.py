"""Chapter 8's speed measurements of every network at the profile's and the paper's sizes.

Layer: analysis.
"""

from __future__ import annotations
import time
import torch
from baa.train import bf16_supported  # re-exported: the bench's variants depend on it
from baa.analysis.restoration import _load_models
from baa.analysis.timing import PAPER_SIZE, _paper_models, _profile_models, compile_inference, conv_gflops_per_s, inference_latency, matmul_peak_gflops, model_cost, phantom_images_per_s, train_images_per_s
from baa.experiments.datasets import dataset
from baa.metrics import mae
from baa.profiles import get_profile
from baa.train.device import pick_device
from baa.train.trainer import predict



SPEED_KEYS = (
    # size of the paper's networks (256 x 256, one image)
    "bonet_paper_params", "bonet_paper_gflops", "bonet_paper_train_gflops",
    "resunet_paper_params", "resunet_paper_gflops", "resunet_paper_train_gflops",
    "classifier_paper_params", "classifier_paper_gflops", "classifier_paper_train_gflops",
    # the same networks at the cpu profile's sizes
    "bonet_cpu_profile_params", "bonet_cpu_profile_gflops", "resunet_cpu_profile_params", "resunet_cpu_profile_gflops",
    "classifier_cpu_profile_params", "classifier_cpu_profile_gflops",
    # the yardstick
    "matmul_peak_gflops",
    # BoNet+ inference, one image, before -> after
    "bonet_infer_ms_256_grad", "bonet_infer_ms_256", "bonet_infer_ms_256_inference_mode",
    "bonet_infer_ms_256_channels_last", "bonet_infer_ms_256_bf16", "bonet_infer_ms_256_compiled",
    "bonet_infer_ms_256_compiled_bf16", "bonet_infer_ms_256_best", "bonet_infer_ms_256_best_fp32",
    "bonet_infer_speedup_256", "bonet_infer_gflops_per_s_256", "bonet_infer_share_of_peak_256",
    "bonet_infer_ms_cpu_profile_grad", "bonet_infer_ms_cpu_profile", "bonet_infer_ms_cpu_profile_inference_mode",
    "bonet_infer_ms_cpu_profile_channels_last", "bonet_infer_ms_cpu_profile_bf16", "bonet_infer_ms_cpu_profile_compiled",
    "bonet_infer_ms_cpu_profile_compiled_bf16", "bonet_infer_ms_cpu_profile_best", "bonet_infer_ms_cpu_profile_best_fp32",
    "bonet_infer_speedup_cpu_profile", "bonet_compile_seconds",
    # the other networks' inference
    "resunet_infer_ms_256", "resunet_infer_ms_256_channels_last", "resunet_infer_ms_cpu_profile",
    "resunet_infer_ms_cpu_profile_channels_last", "classifier_infer_ms_256", "classifier_infer_ms_256_channels_last",
    # the convolutions' share of the peak
    "conv_gflops_per_s", "conv_share_of_peak", "conv_share_of_peak_cpu_profile",
    # training
    "train_images_per_s_256", "train_images_per_s_256_channels_last", "train_share_of_peak_256",
    "train_images_per_s_cpu_profile_nchw", "train_images_per_s_cpu_profile", "train_speedup_cpu_profile",
    "resunet_train_images_per_s_cpu_profile_nchw", "resunet_train_images_per_s_cpu_profile",
    "classifier_train_images_per_s_cpu_profile_nchw", "classifier_train_images_per_s_cpu_profile",
    # the data
    "phantom_images_per_s_256", "phantom_images_per_s_256_one_process", "phantom_images_per_s_256_png",
    "phantom_images_per_s_cpu_profile",
)



def speed(profile=None, quick: bool = False, device: str | torch.device = "auto", progress: bool = True,
          compile: bool | None = None, compile_timeout_s: float = 120.0) -> tuple[dict, dict]:
    """The ``speed`` section: returns ``(speed dict with every key of SPEED_KEYS, extra)``; ``extra``
    holds the CUDA-only numbers, batch sizes and, under ``"skipped"``, why a key is ``None``.

    "256" keys use the paper's networks (width 1, ResUNet depth 5) at 256 x 256; "cpu_profile"
    keys the cpu profile's widths and sizes, whatever ``profile`` the bench runs under, so a key
    means the same thing in every run. ``quick`` (and the smoke profile) time one iteration of
    each, train with batches of 4, and leave out the paper-size training, the paper-size ResUNet
    and classifier latencies and ``torch.compile`` (``compile`` forces it on or off).
    """
    from tqdm.auto import tqdm


    p = get_profile(profile)
    cpu_p = get_profile("cpu")
    device = pick_device(device)
    light = quick or p.name == "smoke"
    iters, warm = (1, 1) if light else (3, 1)
    if compile is None:
        compile = not light
    s: dict = {k: None for k in SPEED_KEYS}
    skipped: dict = {}
    extra: dict = {}
    S, cs = PAPER_SIZE, cpu_p.image_size
    csize = {"bonet": cs, "resunet": cs, "classifier": cpu_p.classifier_size or cs}
    paper, small = _paper_models(), _profile_models(cpu_p)
    if light:
        skipped["light"] = ("--quick or smoke profile: one timed iteration each (rough numbers); left out: the "
                            "autograd and inference_mode variants at 256, paper-size training, paper-size ResUNet / "
                            "classifier latency, ResUNet / classifier training, torch.compile; BoNet+ trains in "
                            "batches of 4")

    steps = ["cost", "peak", "bonet 256", "bonet cpu", "others", "conv", "train 256", "train cpu", "phantom", "compile"]
    bar = tqdm(total=len(steps), desc="speed", disable=not progress, leave=False)

    cpu0 = [time.process_time()]

    def done(name):
        bar.set_postfix_str(name)
        bar.update(1)
        extra.setdefault("cpu_seconds", {})[name] = time.process_time() - cpu0[0]
        cpu0[0] = time.process_time()

    # -- size (counted on the meta device: no arithmetic) ------------------------------------------
    cost, cost_small = {}, {}
    for name, build in paper.items():
        cost[name] = c = model_cost(build, S)
        s[f"{name}_paper_params"] = c["params"]
        s[f"{name}_paper_gflops"] = c["flops"] / 1e9
        s[f"{name}_paper_train_gflops"] = c["train_flops"] / 1e9
    for name, build in small.items():
        cost_small[name] = c = model_cost(build, csize[name])
        s[f"{name}_cpu_profile_params"] = c["params"]
        s[f"{name}_cpu_profile_gflops"] = c["flops"] / 1e9
    done("cost")

    # -- the yardstick --------------------------------------------------------------------------
    peak_sizes = (1024, 2048) if light and device.type == "cpu" else None
    peak = matmul_peak_gflops(device, sizes=peak_sizes, reps=2 if light else 3)  # measured again at the end; the best is kept
    if device.type == "cuda":
        extra["matmul_peak_gflops_bf16"] = matmul_peak_gflops(device, torch.bfloat16)
    done("peak")

    # -- BoNet+ inference, one image, every variant in one call ------------------------------------
    def bonet_infer(tag, model, size, n_iter, variants=None):
        t = inference_latency(model, size, device, iters=n_iter, warmup=warm, variants=variants)
        for v, key in (("grad", "_grad"), ("no_grad", ""), ("inference_mode", "_inference_mode"),
                       ("channels_last", "_channels_last"), ("bf16", "_bf16")):
            if v in t:
                s[f"bonet_infer_ms_{tag}{key}"] = 1e3 * t[v]

    torch.manual_seed(0)
    bonet_big = paper["bonet"]()
    bonet_infer("256", bonet_big, S, iters, ("no_grad", "channels_last") + (("bf16",) if bf16_supported(device) else ())
                if light else None)
    done("bonet 256")
    torch.manual_seed(0)
    bonet_small = small["bonet"]()
    bonet_infer("cpu_profile", bonet_small, cs, 1 if light else 10)  # milliseconds: cheap to repeat
    done("bonet cpu")

    # -- the other networks -----------------------------------------------------------------------
    others = [("resunet", small["resunet"], cs, "cpu_profile", 1 if light else 5)]
    if not light:
        others += [("resunet", paper["resunet"], S, "256", 1), ("classifier", paper["classifier"], S, "256", iters)]
    for name, build, size, tag, n_iter in others:
        torch.manual_seed(0)
        t = inference_latency(build(), size, device, iters=n_iter, warmup=1, variants=("no_grad", "channels_last"))
        s[f"{name}_infer_ms_{tag}"] = 1e3 * t["no_grad"]
        s[f"{name}_infer_ms_{tag}_channels_last"] = 1e3 * t["channels_last"]
    done("others")

    # -- inside the convolutions --------------------------------------------------------------------
    g = conv_gflops_per_s(bonet_big, S, device, conv_flops=cost["bonet"]["conv_flops"], reps=iters)
    s["conv_gflops_per_s"] = g
    conv_small = conv_gflops_per_s(bonet_small, cs, device, conv_flops=cost_small["bonet"]["conv_flops"], reps=3)
    done("conv")

    # -- training ---------------------------------------------------------------------------------
    variants = ("nchw", "channels_last") + (("bf16",) if bf16_supported(device) else ())
    if not light:
        b256 = 2 if device.type == "cpu" else cpu_p.batch_regressor
        t = train_images_per_s("bonet", paper["bonet"], S, b256, device, steps=1 if device.type == "cpu" else 5,
                               warmup=1, variants=variants)
        s["train_images_per_s_256"] = t["nchw"]
        s["train_images_per_s_256_channels_last"] = t["channels_last"]
        if "bf16" in t:
            extra["train_images_per_s_256_bf16"] = t["bf16"]
        extra["train_batch_256"] = b256
    done("train 256")
    nets = [("bonet", cpu_p.batch_regressor, cs), ("resunet", cpu_p.batch_resunet, cs),
            ("classifier", cpu_p.batch_classifier, csize["classifier"])]
    for name, bs, size in nets[:1] if light else nets:
        bs = 4 if light else bs
        t = train_images_per_s(name, small[name], size, bs, device, steps=iters, warmup=warm, variants=variants)
        pre = "" if name == "bonet" else f"{name}_"
        s[f"{pre}train_images_per_s_cpu_profile_nchw"] = t["nchw"]
        s[f"{pre}train_images_per_s_cpu_profile"] = t["channels_last"]
        extra[f"{pre}train_batch_cpu_profile"] = bs
        if "bf16" in t:
            extra[f"{pre}train_images_per_s_cpu_profile_bf16"] = t["bf16"]
    s["train_speedup_cpu_profile"] = s["train_images_per_s_cpu_profile"] / s["train_images_per_s_cpu_profile_nchw"]
    done("train cpu")

    # -- the phantom ------------------------------------------------------------------------------
    try:
        n = 8 if light else 512
        s["phantom_images_per_s_256"] = phantom_images_per_s(S, n, False, device)
        s["phantom_images_per_s_256_one_process"] = phantom_images_per_s(S, n // 2, False, device, workers=0)
        s["phantom_images_per_s_256_png"] = phantom_images_per_s(S, n // 2, True, device)
        s["phantom_images_per_s_cpu_profile"] = phantom_images_per_s(cs, n, False, device)
    except ImportError as e:  # baa.phantom missing or incomplete
        skipped["phantom"] = f"baa.phantom unavailable: {e}"
    done("phantom")

    # -- the yardstick again: on a shared machine the first reading may have been depressed ------
    peak = max(peak, matmul_peak_gflops(device, sizes=peak_sizes, reps=2 if light else 3))
    s["matmul_peak_gflops"] = peak
    s["conv_share_of_peak"] = s["conv_gflops_per_s"] / peak
    s["conv_share_of_peak_cpu_profile"] = conv_small / peak
    if s["train_images_per_s_256_channels_last"] is not None:
        s["train_share_of_peak_256"] = s["train_images_per_s_256_channels_last"] * cost["bonet"]["train_flops"] / 1e9 / peak

    # -- torch.compile, each size time-boxed in its own child process -----------------------------
    if compile:
        # at 256 in bf16 where the hardware has it (fp32 is bound by the matmul peak there)
        bf = bf16_supported(device)
        for tag, width, size, b16 in (("cpu_profile", cpu_p.width, cs, False), ("256", 1.0, S, bf)):
            res, why = compile_inference([{"name": tag, "width": width, "size": size, "bf16": b16}], device,
                                         10 if tag == "cpu_profile" else iters, compile_timeout_s)
            if why:
                skipped[f"compile_{tag}"] = why
                continue
            r = res[tag]
            # the child's own eager/compiled ratio is the speed-up; its absolute times are its own
            s[f"bonet_infer_ms_{tag}_compiled" + ("_bf16" if b16 else "")] = 1e3 * r["compiled_s"]
            extra[f"bonet_compile_speedup_{tag}"] = r["eager_s"] / r["compiled_s"]
            extra[f"bonet_infer_ms_{tag}_compile_child_eager"] = 1e3 * r["eager_s"]
            extra[f"bonet_compile_seconds_{tag}"] = r["compile_s"]
            if tag == "cpu_profile":
                s["bonet_compile_seconds"] = r["compile_s"]
    elif "light" not in skipped:
        skipped["compile"] = "torch.compile left out (--no-compile)"
    done("compile")
    bar.close()

    for tag in ("256", "cpu_profile"):
        fp32 = [s[f"bonet_infer_ms_{tag}{v}"] for v in ("", "_inference_mode", "_channels_last", "_compiled")]
        s[f"bonet_infer_ms_{tag}_best_fp32"] = min(c for c in fp32 if c is not None)
        cands = fp32 + [s[f"bonet_infer_ms_{tag}{v}"] for v in ("_bf16", "_compiled_bf16")]
        best = min(c for c in cands if c is not None)
        s[f"bonet_infer_ms_{tag}_best"] = best
        before = s[f"bonet_infer_ms_{tag}_grad"] or s[f"bonet_infer_ms_{tag}"]  # light runs: no_grad is the "before"
        s[f"bonet_infer_speedup_{tag}"] = before / best
    # against the fp32 matmul peak, so from the fastest fp32 time (a bf16 time would exceed the peak)
    s["bonet_infer_gflops_per_s_256"] = cost["bonet"]["flops"] / 1e9 / (s["bonet_infer_ms_256_best_fp32"] / 1e3)
    s["bonet_infer_share_of_peak_256"] = s["bonet_infer_gflops_per_s_256"] / peak
    extra["skipped"] = skipped
    return s, extra



def precision_check(profile=None, progress: bool = False, device: str | torch.device = "auto") -> dict:
    """What bf16 inference does to the trained plain BoNet+ (``regressors()["plain"]``) on the clean
    bench images: MAE in fp32 and bf16, and the mean / largest change of a predicted age (years)."""

    p, dev = get_profile(profile), pick_device(device)
    data = dataset(p, "bench", progress)
    reg = _load_models(p, progress)[0]
    a = predict(reg, data.images, device=dev).reshape(-1)
    b = predict(reg, data.images, device=dev, precision="bf16").reshape(-1)
    d = (a - b).abs()
    return {"device": str(dev), "n": len(data), "mae_years_fp32": mae(a, data.age), "mae_years_bf16": mae(b, data.age),
            "mean_abs_change_years": float(d.mean()), "max_abs_change_years": float(d.max())}
