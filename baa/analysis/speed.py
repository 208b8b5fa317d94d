"""Chapter 8's speed measurements: the size, latency and training rate of every network at the
paper's size (Table 1's 256 x 256, full width) and at the cpu profile's, the phantom's rendering
rate, and each against this machine's matmul peak. Also what bf16 inference does to a trained BoNet+.

Layer: analysis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from baa.analysis import timing
from baa.data import BoneAgeData
from baa.metrics import mae
from baa.profiles import PROFILES, Profile
from baa.train import bf16_supported, pick_device, predict

# Every "cpu_profile" key is measured at the cpu profile's sizes, whatever profile the bench runs
# under, so that a key means the same thing in every run.
CPU = PROFILES["cpu"]

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

# BoNet+ inference variants (``timing.inference_latency``) and their keys' suffixes
INFERENCE_SUFFIX = {"grad": "_grad", "no_grad": "", "inference_mode": "_inference_mode",
                    "channels_last": "_channels_last", "bf16": "_bf16"}


@dataclass


class _Run:
    """One speed measurement: its settings, the networks it times, and what it has found so far."""

    device: torch.device
    light: bool  # one rough iteration each, the slow parts left out
    bf16: bool  # the device has native bf16 kernels: bf16 variants are timed
    paper: dict[str, Callable[[], nn.Module]]  # builders of the paper's networks, timed at ``size``
    small: dict[str, Callable[[], nn.Module]]  # builders of the cpu profile's networks, at ``small_size``
    size: int
    small_size: int
    compile: bool
    compile_timeout_s: float
    s: dict = field(default_factory=lambda: {k: None for k in SPEED_KEYS})
    extra: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)
    cost: dict = field(default_factory=dict)
    cost_small: dict = field(default_factory=dict)
    built: dict = field(default_factory=dict)  # the BoNet+ instances timed, reused by later steps
    peak: float = 0.0
    conv_small: float = 0.0

    @property
    def iters(self) -> int:
        return 1 if self.light else 3

    @property
    def peak_sizes(self) -> tuple[int, ...] | None:
        return (1024, 2048) if self.light and self.device.type == "cpu" else None

    def variants(self, *fp32: str) -> tuple[str, ...]:
        return fp32 + (("bf16",) if self.bf16 else ())


def _size_and_flops(r: _Run) -> None:
    """Parameters and GFLOPs of every network, counted on the meta device (no arithmetic)."""
    for name, build in r.paper.items():
        r.cost[name] = c = timing.model_cost(build, r.size)
        r.s[f"{name}_paper_params"] = c["params"]
        r.s[f"{name}_paper_gflops"] = c["flops"] / 1e9
        r.s[f"{name}_paper_train_gflops"] = c["train_flops"] / 1e9
    for name, build in r.small.items():
        r.cost_small[name] = c = timing.model_cost(build, r.small_size)
        r.s[f"{name}_cpu_profile_params"] = c["params"]
        r.s[f"{name}_cpu_profile_gflops"] = c["flops"] / 1e9


def _matmul_peak(r: _Run) -> None:
    """The yardstick; measured again at the end, and the best is kept."""
    r.peak = max(r.peak, timing.matmul_peak_gflops(r.device, sizes=r.peak_sizes, reps=2 if r.light else 3))
    if r.device.type == "cuda" and "matmul_peak_gflops_bf16" not in r.extra:
        r.extra["matmul_peak_gflops_bf16"] = timing.matmul_peak_gflops(r.device, torch.bfloat16)


def _bonet_latency(r: _Run, tag: str, model: nn.Module, size: int, n_iter: int, variants: tuple[str, ...]) -> None:
    """BoNet+ inference, one image, every variant in one interleaved call."""
    t = timing.inference_latency(model, size, r.device, iters=n_iter, warmup=1, variants=variants)
    for v, suffix in INFERENCE_SUFFIX.items():
        if v in t:
            r.s[f"bonet_infer_ms_{tag}{suffix}"] = 1e3 * t[v]


def _bonet_256(r: _Run) -> None:
    torch.manual_seed(0)
    r.built["bonet_256"] = r.paper["bonet"]()
    variants = r.variants("no_grad", "channels_last") if r.light else r.variants("grad", "no_grad", "inference_mode", "channels_last")
    _bonet_latency(r, "256", r.built["bonet_256"], r.size, r.iters, variants)


def _bonet_cpu_profile(r: _Run) -> None:
    torch.manual_seed(0)
    r.built["bonet_cpu_profile"] = r.small["bonet"]()
    _bonet_latency(r, "cpu_profile", r.built["bonet_cpu_profile"], r.small_size, 1 if r.light else 10,  # ms: cheap to repeat
                   r.variants("grad", "no_grad", "inference_mode", "channels_last"))


def _other_latency(r: _Run) -> None:
    """The ResUNet's and the classifier's inference, NCHW and channels_last."""
    others = [("resunet", r.small["resunet"], r.small_size, "cpu_profile", 1 if r.light else 5)]
    if not r.light:
        others += [("resunet", r.paper["resunet"], r.size, "256", 1), ("classifier", r.paper["classifier"], r.size, "256", r.iters)]
    for name, build, size, tag, n_iter in others:
        torch.manual_seed(0)
        t = timing.inference_latency(build(), size, r.device, iters=n_iter, warmup=1, variants=("no_grad", "channels_last"))
        r.s[f"{name}_infer_ms_{tag}"] = 1e3 * t["no_grad"]
        r.s[f"{name}_infer_ms_{tag}_channels_last"] = 1e3 * t["channels_last"]


def _conv_rate(r: _Run) -> None:
    """GFLOP/s inside BoNet+'s convolutions."""
    r.s["conv_gflops_per_s"] = timing.conv_gflops_per_s(r.built["bonet_256"], r.size, r.device,
                                                        conv_flops=r.cost["bonet"]["conv_flops"], reps=r.iters)
    r.conv_small = timing.conv_gflops_per_s(r.built["bonet_cpu_profile"], r.small_size, r.device,
                                            conv_flops=r.cost_small["bonet"]["conv_flops"], reps=3)


def _train_256(r: _Run) -> None:
    """BoNet+ training at the paper's size (left out of light runs)."""
    if r.light:
        return
    b256 = 2 if r.device.type == "cpu" else CPU.batch_regressor
    t = timing.train_images_per_s("bonet", r.paper["bonet"], r.size, b256, r.device, steps=1 if r.device.type == "cpu" else 5,
                                  warmup=1, variants=r.variants("nchw", "channels_last"))
    r.s["train_images_per_s_256"] = t["nchw"]
    r.s["train_images_per_s_256_channels_last"] = t["channels_last"]
    if "bf16" in t:
        r.extra["train_images_per_s_256_bf16"] = t["bf16"]
    r.extra["train_batch_256"] = b256


def _train_cpu_profile(r: _Run) -> None:
    """Training of each network at the cpu profile's sizes and batches (light runs: BoNet+ alone, in 4s)."""
    nets = [("bonet", CPU.batch_regressor), ("resunet", CPU.batch_resunet), ("classifier", CPU.batch_classifier)]
    for name, bs in nets[:1] if r.light else nets:
        bs = 4 if r.light else bs
        t = timing.train_images_per_s(name, r.small[name], r.small_size, bs, r.device, steps=r.iters, warmup=1,
                                      variants=r.variants("nchw", "channels_last"))
        pre = "" if name == "bonet" else f"{name}_"
        r.s[f"{pre}train_images_per_s_cpu_profile_nchw"] = t["nchw"]
        r.s[f"{pre}train_images_per_s_cpu_profile"] = t["channels_last"]
        r.extra[f"{pre}train_batch_cpu_profile"] = bs
        if "bf16" in t:
            r.extra[f"{pre}train_images_per_s_cpu_profile_bf16"] = t["bf16"]
    r.s["train_speedup_cpu_profile"] = r.s["train_images_per_s_cpu_profile"] / r.s["train_images_per_s_cpu_profile_nchw"]


def _phantom_rate(r: _Run) -> None:
    """Phantom images/s at 256 (in memory, in one process, written as PNGs) and at the cpu profile's size."""
    n = 8 if r.light else 512
    r.s["phantom_images_per_s_256"] = timing.phantom_images_per_s(r.size, n, False, r.device)
    r.s["phantom_images_per_s_256_one_process"] = timing.phantom_images_per_s(r.size, n // 2, False, r.device, workers=0)
    r.s["phantom_images_per_s_256_png"] = timing.phantom_images_per_s(r.size, n // 2, True, r.device)
    r.s["phantom_images_per_s_cpu_profile"] = timing.phantom_images_per_s(r.small_size, n, False, r.device)


def _compiled(r: _Run) -> None:
    """``torch.compile`` of BoNet+, each size time-boxed in its own child process: at the cpu profile
    in fp32, at 256 in bf16 where the hardware has it (fp32 is bound by the matmul peak there)."""
    if not r.compile:
        if "light" not in r.skipped:
            r.skipped["compile"] = "torch.compile left out (--no-compile)"
        return
    for tag, width, size, b16 in (("cpu_profile", CPU.width, r.small_size, False), ("256", 1.0, r.size, r.bf16)):
        res, why = timing.compile_inference([{"name": tag, "width": width, "size": size, "bf16": b16}], r.device,
                                            10 if tag == "cpu_profile" else r.iters, r.compile_timeout_s)
        if why:
            r.skipped[f"compile_{tag}"] = why
            continue
        c = res[tag]
        # the child's own eager/compiled ratio is the speed-up; its absolute times are its own
        r.s[f"bonet_infer_ms_{tag}_compiled" + ("_bf16" if b16 else "")] = 1e3 * c["compiled_s"]
        r.extra[f"bonet_compile_speedup_{tag}"] = c["eager_s"] / c["compiled_s"]
        r.extra[f"bonet_infer_ms_{tag}_compile_child_eager"] = 1e3 * c["eager_s"]
        r.extra[f"bonet_compile_seconds_{tag}"] = c["compile_s"]
        if tag == "cpu_profile":
            r.s["bonet_compile_seconds"] = c["compile_s"]


def _ratios(r: _Run) -> None:
    """Shares of the peak, the fastest BoNet+ inference and its speed-up over the "before"."""
    s = r.s
    s["matmul_peak_gflops"] = r.peak
    s["conv_share_of_peak"] = s["conv_gflops_per_s"] / r.peak
    s["conv_share_of_peak_cpu_profile"] = r.conv_small / r.peak
    if s["train_images_per_s_256_channels_last"] is not None:
        s["train_share_of_peak_256"] = s["train_images_per_s_256_channels_last"] * r.cost["bonet"]["train_flops"] / 1e9 / r.peak
    for tag in ("256", "cpu_profile"):
        fp32 = [s[f"bonet_infer_ms_{tag}{v}"] for v in ("", "_inference_mode", "_channels_last", "_compiled")]
        s[f"bonet_infer_ms_{tag}_best_fp32"] = min(c for c in fp32 if c is not None)
        cands = fp32 + [s[f"bonet_infer_ms_{tag}{v}"] for v in ("_bf16", "_compiled_bf16")]
        best = min(c for c in cands if c is not None)
        s[f"bonet_infer_ms_{tag}_best"] = best
        before = s[f"bonet_infer_ms_{tag}_grad"] or s[f"bonet_infer_ms_{tag}"]  # light runs: no_grad is the "before"
        s[f"bonet_infer_speedup_{tag}"] = before / best
    # against the fp32 matmul peak, so from the fastest fp32 time (a bf16 time would exceed the peak)
    s["bonet_infer_gflops_per_s_256"] = r.cost["bonet"]["flops"] / 1e9 / (s["bonet_infer_ms_256_best_fp32"] / 1e3)
    s["bonet_infer_share_of_peak_256"] = s["bonet_infer_gflops_per_s_256"] / r.peak


STEPS = (("cost", _size_and_flops), ("peak", _matmul_peak), ("bonet 256", _bonet_256), ("bonet cpu", _bonet_cpu_profile),
         ("others", _other_latency), ("conv", _conv_rate), ("train 256", _train_256), ("train cpu", _train_cpu_profile),
         ("phantom", _phantom_rate),
         # on a shared machine the first reading of the peak may have been depressed
         ("peak again", _matmul_peak), ("compile", _compiled))

LIGHT_NOTE = ("--quick or smoke profile: one timed iteration each (rough numbers); left out: the autograd and "
              "inference_mode variants at 256, paper-size training, paper-size ResUNet / classifier latency, ResUNet / "
              "classifier training, torch.compile; BoNet+ trains in batches of 4")


def speed(p: Profile, quick: bool = False, device: str | torch.device = "auto", progress: bool = True,
          compile: bool | None = None, compile_timeout_s: float = 120.0, networks: dict | None = None,
          size: int = timing.PAPER_SIZE, bf16: bool | None = None) -> tuple[dict, dict]:
    """The ``speed`` section: returns ``(speed dict with every key of SPEED_KEYS, extra)``; ``extra``
    holds the CUDA-only numbers, batch sizes, CPU seconds per step and, under ``"skipped"``, why a
    key is ``None``.

    "256" keys use the paper's networks (width 1, ResUNet depth 5) at ``size`` (256, Table 1);
    "cpu_profile" keys the cpu profile's widths and sizes, whatever profile ``p`` the bench runs
    under. ``networks``: ``{"paper": {name: builder}, "cpu_profile": {name: builder}}`` for
    ``bonet``, ``resunet`` and ``classifier`` (default: ``timing.paper_networks()`` and
    ``timing.profile_networks(CPU)``). ``quick`` (and a trial profile: smoke, paper-dry) time one iteration of each,
    train with batches of 4, and leave out the paper-size training, the paper-size ResUNet and
    classifier latencies and ``torch.compile`` (``compile`` forces it on or off). ``bf16``: time the
    bf16 variants (default: where the device has native bf16 kernels)."""
    device = pick_device(device)
    light = quick or p.trial
    networks = networks or {"paper": timing.paper_networks(), "cpu_profile": timing.profile_networks(CPU)}
    r = _Run(device=device, light=light, bf16=bf16_supported(device) if bf16 is None else bf16,
             paper=networks["paper"], small=networks["cpu_profile"], size=size, small_size=CPU.image_size,
             compile=not light if compile is None else compile, compile_timeout_s=compile_timeout_s)
    if light:
        r.skipped["light"] = LIGHT_NOTE
    cpu_seconds = r.extra.setdefault("cpu_seconds", {})
    for name, step in tqdm(STEPS, desc="speed", disable=not progress, leave=False):
        t0 = time.process_time()
        step(r)
        cpu_seconds[name] = time.process_time() - t0
    _ratios(r)
    r.extra["skipped"] = r.skipped
    return r.s, r.extra


def precision_check(regressor: nn.Module, data: BoneAgeData, device: str | torch.device = "auto") -> dict:
    """What bf16 inference does to a trained BoNet+ (the bench: the plain one) on ``data``'s images:
    MAE in fp32 and bf16, and the mean / largest change of a predicted age (years)."""
    dev = pick_device(device)
    a = predict(regressor, data.images, device=dev).reshape(-1)
    b = predict(regressor, data.images, device=dev, precision="bf16").reshape(-1)
    d = (a - b).abs()
    return {"device": str(dev), "n": len(data), "mae_years_fp32": mae(a, data.age), "mae_years_bf16": mae(b, data.age),
            "mean_abs_change_years": float(d.mean()), "max_abs_change_years": float(d.max())}
