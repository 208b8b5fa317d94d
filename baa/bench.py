"""Measure it: how well the classical restorers and the ResUNet restore, and how fast the networks run.

Two parts, one JSON (``baa bench --profile P --out FILE.json [--quick]``):

* ``restoration`` -- on the held-out phantom bench set (``pipelines.dataset(profile, "bench")``,
  ``profile.n_bench`` images at the profile's size), each degradation of section 3.1.2 is undone by
  every classical restorer of ``baa.restore`` (the peers the paper never compares against), by the
  CQ expert ResUNet for that kind (section 3.3.1) and by the DQ ResUNet, and scored by PSNR, SSIM
  (and, for the label, PSNR inside the label box) and -- the metric that decides -- by the bone-age
  MAE of the same plain BoNet+ (``pipelines.regressors(profile)["plain"]``) after restoration.
  ``degraded`` (no restoration) and ``clean`` (the undegraded images) bracket the range.
  ``restoration[kind][method] = {"psnr", "ssim", "mae_years", "ms_per_image"[, "psnr_mask"]}``.
* ``speed`` -- a flat ``name -> number`` dict (``None`` where a measurement was skipped; the reason
  is in ``meta["skipped"]``): parameters and FLOPs of the three networks at the paper's size
  (``torch.utils.flop_counter.FlopCounterMode`` at 256 x 256, one image; a FLOP is a multiply or
  an add, so a conv costs 2 x MACs), this machine's fp32 ``torch.mm`` peak, single-image inference
  latency and training images/s at 256^2 (paper width) and at the cpu profile's sizes, each before
  and after the speed-ups (``torch.inference_mode``, ``channels_last``, ``torch.compile`` when it
  compiles offline within a time box, bf16 autocast on CUDA), the achieved GFLOP/s as a share of
  the matmul peak (whole model, and inside the convolutions alone, clocked by hooks), and the
  phantom renderer's images/s (in memory and with PNG writing).

``targets`` states each goal of the issue with the measured value and whether it is met, and
``meta`` names the hardware (every absolute time belongs to it), the profile and the data source.

Timings share the machine with whatever else runs: ratios measured in one run are what to compare
across machines. GPU numbers need ``baa bench`` on a GPU machine (the code runs there unchanged:
cuda device, bf16 autocast, channels_last, CUDA-event-free wall-clock timing with synchronisation).
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from baa.data import TTA_VIEWS
from baa.train import bf16_supported  # re-exported: the bench's variants depend on it

__all__ = [
    "run", "restoration", "restoration_examples", "speed", "flop_count", "model_cost", "matmul_peak_gflops",
    "time_call", "time_interleaved", "inference_latency", "train_images_per_s", "conv_gflops_per_s", "phantom_images_per_s",
    "compile_inference", "hardware", "write_json", "format_table", "frames", "register_cli", "SPEED_KEYS", "PAPER_SIZE",
]

PAPER_SIZE = 256  # Table 1: 1 x 256 x 256 input
KINDS = ("noise", "label", "lowres")


# ------------------------------------------------------------------------------------------------
# Hardware and timing primitives
# ------------------------------------------------------------------------------------------------

def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware(device: str | torch.device = "cpu") -> dict:
    """Names of the hardware that every absolute time in the result belongs to."""
    device = torch.device(device)
    out = {"device": str(device), "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
           "python": platform.python_version()}
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(device)
        out["device_name"] = out["gpu"]
    else:
        out["gpu"] = None
        out["device_name"] = f"{out['cpu']} ({out['torch_threads']} torch threads of {out['cpu_count']} CPUs)"
    return out


def _load() -> float | None:
    """The 1-minute load average (other work competing for the CPUs), where the OS reports one."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], iters: int = 3, warmup: int = 1, device: str | torch.device = "cpu") -> float:
    """Median wall-clock seconds of ``fn()`` over ``iters`` calls after ``warmup`` calls (the device
    synchronised around each call, so GPU work is counted)."""
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(max(1, iters)):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_interleaved(fns: dict[str, Callable[[], object]], iters: int = 3, warmup: int = 1,
                     device: str | torch.device = "cpu") -> dict[str, float]:
    """Median seconds of each ``fns[name]()``, timed round-robin (one call of each per round, after
    ``warmup`` rounds) so that a machine busy with other work slows every variant alike and their
    ratios stay fair."""
    device = torch.device(device)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    _sync(device)
    times: dict[str, list] = {k: [] for k in fns}
    for _ in range(max(1, iters)):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def matmul_peak_gflops(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                       sizes: tuple[int, ...] | None = None, reps: int = 3) -> float:
    """This machine's achievable matmul rate: the best GFLOP/s (2 n^3 per product) of ``torch.mm``
    of square matrices over ``sizes``, each the best of ``reps`` calls -- the yardstick for the
    networks' achieved GFLOP/s."""
    device = torch.device(device)
    if sizes is None:
        sizes = (4096, 8192) if device.type == "cuda" else (1024, 2048, 3072)
    best = 0.0
    g = torch.Generator().manual_seed(0)
    for n in sizes:
        a = torch.rand(n, n, generator=g).to(device=device, dtype=dtype)
        b = torch.rand(n, n, generator=g).to(device=device, dtype=dtype)
        t = min(time_call(lambda: torch.mm(a, b), iters=1, warmup=1 if r == 0 else 0, device=device) for r in range(reps))
        best = max(best, 2 * n**3 / t / 1e9)
        del a, b
    return best


# ------------------------------------------------------------------------------------------------
# FLOPs and parameters
# ------------------------------------------------------------------------------------------------

def _flop_counter():
    from torch.utils.flop_counter import FlopCounterMode
    return FlopCounterMode(display=False)


def flop_count(model: nn.Module, inputs: torch.Tensor, by_op: bool = False, backward: bool = False):
    """FLOPs of one ``model(inputs)`` call counted by ``FlopCounterMode`` (2 per multiply-add; only
    the matmul-like ops -- convolutions, linear layers, matmuls -- are counted, as is customary).
    ``backward``: forward plus backward of the sum of the outputs (one training step's arithmetic,
    the optimiser excluded). ``by_op``: also return ``{op name: flops}``. Works on ``meta``
    tensors, so counting a paper-size network costs no arithmetic."""
    fc = _flop_counter()
    was_training = model.training
    if not backward:
        model.eval()
    try:
        with fc:
            if backward:
                out = model(inputs)
                out.float().sum().backward()
            else:
                with torch.no_grad():
                    model(inputs)
    finally:
        model.train(was_training)
    total = int(fc.get_total_flops())
    if not by_op:
        return total
    ops = {str(k).split(".")[-1] if "." in str(k) else str(k): int(v) for k, v in fc.get_flop_counts()["Global"].items()}
    return total, ops


def _paper_models() -> dict[str, Callable[[], nn.Module]]:
    from baa.models import BoNetPlus, QualityClassifier, ResUNet
    return {"bonet": lambda: BoNetPlus(width=1.0), "resunet": lambda: ResUNet(base=64, depth=5, width=1.0),
            "classifier": lambda: QualityClassifier(width=1.0)}


def _profile_models(p) -> dict[str, Callable[[], nn.Module]]:
    from baa.models import BoNetPlus, QualityClassifier, ResUNet
    return {"bonet": lambda: BoNetPlus(width=p.width), "resunet": lambda: ResUNet(width=p.width, depth=p.resunet_depth),
            "classifier": lambda: QualityClassifier(width=p.classifier_width)}


def model_cost(build: Callable[[], nn.Module], size: int = PAPER_SIZE, batch: int = 1) -> dict:
    """Parameters and FLOPs (``flops``: forward; ``conv_flops``: its convolutions;
    ``train_flops``: forward + backward, optimiser excluded) of the network ``build()`` returns,
    for ``batch`` images of ``size`` x ``size``, counted on the ``meta`` device."""
    from baa.models import count_parameters

    with torch.device("meta"):
        model = build()
    x = torch.empty(batch, 1, size, size, device="meta")
    fwd, ops = flop_count(model, x, by_op=True)
    model.train()  # BatchNorm in training needs two images: count two, report per image x batch
    train = flop_count(model, torch.empty(2, 1, size, size, device="meta"), backward=True) // 2 * batch
    conv = sum(v for k, v in ops.items() if "conv" in k)
    return {"params": count_parameters(model), "flops": fwd, "conv_flops": conv, "train_flops": train}


# ------------------------------------------------------------------------------------------------
# Inference and training speed
# ------------------------------------------------------------------------------------------------

def _prepare(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    model = model.to(device).eval()
    return model.to(memory_format=torch.channels_last) if channels_last else model.to(memory_format=torch.contiguous_format)


def inference_latency(model: nn.Module, size: int, device: str | torch.device = "cpu", batch: int = 1,
                      iters: int = 3, warmup: int = 1, variants: tuple[str, ...] | None = None) -> dict[str, float]:
    """Seconds per forward (median) of ``batch`` images ``size`` x ``size`` under cumulative
    speed-ups, timed in turns in this one call so that their ratios are comparable:

    - ``grad``: eval mode, autograd on (what a bare ``model(x)`` does), NCHW -- the "before";
    - ``no_grad``: ``torch.no_grad``, NCHW;
    - ``inference_mode``: ``torch.inference_mode``, NCHW;
    - ``channels_last``: inference mode, weights and input channels_last (``train.predict``'s path);
    - ``bf16`` (where ``bf16_supported``): channels_last in bf16 -- autocast on CUDA; on the CPU
      a bf16 copy of the weights and a bf16 input (oneDNN's bf16 convolutions; autocast there
      adds casts that cost more than they save).
    """
    device = torch.device(device)
    if variants is None:
        variants = ("grad", "no_grad", "inference_mode", "channels_last") + (("bf16",) if bf16_supported(device) else ())
    x0 = torch.rand(batch, 1, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    nchw = model.to(device).eval().to(memory_format=torch.contiguous_format)
    cl_model = None
    fns = {}
    for v in variants:
        cl = v in ("channels_last", "bf16")
        if cl and cl_model is None:  # a channels_last copy, so that the variants can take turns
            cl_model = copy.deepcopy(nchw).to(memory_format=torch.channels_last)
        m = cl_model if cl else nchw
        x = x0.contiguous(memory_format=torch.channels_last) if cl else x0.contiguous()
        if v == "bf16" and device.type == "cpu":
            m, x = copy.deepcopy(cl_model).to(torch.bfloat16), x.to(torch.bfloat16)
        ctx = {"grad": torch.enable_grad, "no_grad": torch.no_grad}.get(v, torch.inference_mode)

        def fwd(m=m, x=x, ctx=ctx, bf16=v == "bf16" and device.type == "cuda"):
            with ctx(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                return m(x)

        fns[v] = fwd
    out = time_interleaved(fns, iters, warmup, device)
    del cl_model
    return out


def _train_batch(name: str, batch: int, size: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 1, size, size, generator=g)
    if name == "bonet":
        y = torch.rand(batch, generator=g) * 19
        loss = F.l1_loss  # L_MAE, eq. 5
    elif name == "resunet":
        y = x.clone()
        x = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
        loss = F.mse_loss
    else:
        y = torch.randint(4, (batch,), generator=g)
        loss = F.cross_entropy
    return x.to(device), y.to(device), loss


def train_images_per_s(name: str, build: Callable[[], nn.Module], size: int, batch: int,
                       device: str | torch.device = "cpu", steps: int = 3, warmup: int = 1,
                       variants: tuple[str, ...] | None = None) -> dict[str, float]:
    """Training images/s of the network ``build()`` returns (``name``: ``bonet`` | ``resunet`` |
    ``classifier`` picks the loss and targets, as ``baa.train``), one Adam step (section 4.1's
    settings) per batch of in-memory tensors already on the device ("data rendered on the
    device": no loader in the loop), under ``variants``: ``nchw`` (the "before"), ``channels_last``
    (``Trainer``'s default) and ``bf16`` (channels_last + bf16 autocast: ``Trainer``'s CUDA path,
    and its CPU path with ``TrainConfig(amp_cpu=True)``). Every variant starts from the same
    initial weights; the variants take turns."""
    device = torch.device(device)
    if variants is None:
        variants = ("nchw", "channels_last") + (("bf16",) if bf16_supported(device) else ())
    torch.manual_seed(0)
    init = build().state_dict()
    x0, y, loss_fn = _train_batch(name, batch, size, device)
    fns = {}
    for v in variants:
        model = build()
        model.load_state_dict(init)
        cl = v in ("channels_last", "bf16")
        model = model.to(device).train()
        if cl:
            model = model.to(memory_format=torch.channels_last)
        x = x0.contiguous(memory_format=torch.channels_last) if cl else x0
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.9999), eps=1e-8)

        def step(model=model, opt=opt, x=x, bf16=v == "bf16"):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                o = model(x)
            loss = loss_fn(o.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        fns[v] = step
    return {v: batch / t for v, t in time_interleaved(fns, steps, warmup, device).items()}


def conv_gflops_per_s(model: nn.Module, size: int, device: str | torch.device = "cpu", batch: int = 1,
                      conv_flops: int | None = None, warmup: int = 1, reps: int = 1) -> float:
    """GFLOP/s achieved *inside the convolutions* of an inference-mode, channels_last forward: the
    convolutions' FLOPs (``FlopCounterMode``) over the wall-clock time spent inside the
    ``nn.Conv2d`` modules, clocked by forward hooks (the device synchronised in each hook); the
    best of ``reps`` forwards, as the matmul peak is the best of its calls."""
    device = torch.device(device)
    m = _prepare(model, device, True)
    x = torch.rand(batch, 1, size, size).to(device).contiguous(memory_format=torch.channels_last)
    if conv_flops is None:
        _, ops = flop_count(m, x, by_op=True)
        conv_flops = sum(v for k, v in ops.items() if "conv" in k)
    spent = [0.0]
    start: dict = {}

    def pre(mod, _inp):
        _sync(device)
        start[id(mod)] = time.perf_counter()

    def post(mod, _inp, _out):
        _sync(device)
        spent[0] += time.perf_counter() - start.pop(id(mod))

    best = math.inf
    with torch.inference_mode():
        for _ in range(warmup):
            m(x)
        hooks = [h for c in m.modules() if isinstance(c, nn.Conv2d)
                 for h in (c.register_forward_pre_hook(pre), c.register_forward_hook(post))]
        try:
            for _ in range(max(1, reps)):
                spent[0] = 0.0
                m(x)
                best = min(best, spent[0])
        finally:
            for h in hooks:
                h.remove()
    model.to(memory_format=torch.contiguous_format)
    return conv_flops / best / 1e9 if 0 < best < math.inf else float("nan")


def phantom_images_per_s(size: int = PAPER_SIZE, n: int = 256, png: bool = False, device: str | torch.device = "cpu",
                         seed: int = 0, workers: int | None = None) -> float:
    """Images/s of the phantom at ``size``: ``PhantomDataset.render_all`` of ``n`` images in memory,
    or with ``png`` ``write_rsna`` (8-bit PNGs and the CSV) into a temporary folder. On the CPU both
    use ``workers`` processes (default: one per core); worker start-up is included."""
    from baa.phantom import PhantomConfig, PhantomDataset, render, write_rsna

    device = torch.device(device)
    render([0], seed, PhantomConfig(size=64), device=device)  # warm-up (tables, caches), cheaply
    _sync(device)
    t0 = time.perf_counter()
    if png:
        with tempfile.TemporaryDirectory() as d:
            write_rsna(Path(d) / "rsna", n, size=size, seed=seed, progress=False, workers=workers)
    else:
        PhantomDataset(n, seed=seed, config=PhantomConfig(size=size), device=device).render_all(progress=False, workers=workers)
        _sync(device)
    return n / (time.perf_counter() - t0)


_COMPILE_SCRIPT = (
    "import json, sys; from baa.bench import _compile_worker; "
    "print('BAA_BENCH_JSON' + json.dumps(_compile_worker(json.loads(sys.argv[1]))), flush=True)"
)


def _compile_worker(spec: dict) -> dict:
    """Runs in a child process (see ``compile_inference``): eager vs ``torch.compile`` latency of
    each configuration, measured in this one process."""
    from baa.models import BoNetPlus

    device = torch.device(spec["device"])
    out = {}
    for cfg in spec["configs"]:
        model = _prepare(BoNetPlus(width=cfg["width"]), device, True)
        x = torch.rand(1, 1, cfg["size"], cfg["size"]).to(device).contiguous(memory_format=torch.channels_last)
        if cfg.get("bf16"):  # bf16 weights and input, as inference_latency's CPU "bf16" variant
            model, x = model.to(torch.bfloat16), x.to(torch.bfloat16)
        t0 = time.perf_counter()
        compiled = torch.compile(model)
        with torch.inference_mode():
            compiled(x)
        _sync(device)
        compile_s = time.perf_counter() - t0
        with torch.inference_mode():
            eager = time_call(lambda: model(x), spec["iters"], 1, device)
            comp = time_call(lambda: compiled(x), spec["iters"], 1, device)
        out[cfg["name"]] = {"eager_s": eager, "compiled_s": comp, "compile_s": compile_s}
    return out


def compile_inference(configs: list[dict], device: str | torch.device = "cpu", iters: int = 3,
                      timeout_s: float = 180.0) -> tuple[dict, str | None]:
    """``torch.compile`` of BoNet+ (inference mode, channels_last), time-boxed: compiled in a child
    process (single compile thread) that is killed after ``timeout_s``. ``configs``: dicts
    ``{"name", "width", "size"[, "bf16"]}``. Returns ``({name: {"eager_s", "compiled_s", "compile_s"}},
    None)``, or ``({}, reason)`` when compiling is unavailable (no C++ compiler, offline Triton
    missing, ...) or too slow."""
    spec = {"configs": configs, "device": str(device), "iters": iters}
    env = dict(os.environ, TORCHINDUCTOR_COMPILE_THREADS="1")
    try:
        r = subprocess.run([sys.executable, "-c", _COMPILE_SCRIPT, json.dumps(spec)], capture_output=True, text=True,
                           timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return {}, f"torch.compile did not finish within {timeout_s:.0f} s"
    for line in r.stdout.splitlines()[::-1]:
        if line.startswith("BAA_BENCH_JSON"):
            return json.loads(line[len("BAA_BENCH_JSON"):]), None
    err = (r.stderr.strip().splitlines() or ["no output"])[-1]
    return {}, f"torch.compile failed: {err[:300]}"


# ------------------------------------------------------------------------------------------------
# The speed section
# ------------------------------------------------------------------------------------------------

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

    from baa.profiles import get_profile
    from baa.train import pick_device

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


# ------------------------------------------------------------------------------------------------
# The restoration section
# ------------------------------------------------------------------------------------------------

def _label_mask(images: torch.Tensor, degraded: torch.Tensor) -> torch.Tensor:
    """The true label box of ``pipelines.degraded_set(images, "label")``, re-drawn from the same
    seed (checked against the degraded images), else the pixels the label zeroed."""
    from baa import degrade as D
    from baa import pipelines as P

    seed = 1234 + P.QUALITIES.index("label")  # pipelines.degraded_set's default seed
    out, mask = D.black_label(images, seed, return_mask=True)
    if torch.equal(out, degraded):
        return mask
    return (degraded == 0) & (images != 0)


def _load_models(p, progress: bool):
    from baa import pipelines as P

    return P.regressors(p, progress)["plain"], P.restorers(p, progress)


def _restore_all(p, n: int | None, progress: bool, keep: list[int] | None = None):
    from tqdm.auto import tqdm

    from baa import pipelines as P
    from baa import restore as R
    from baa.metrics import mae
    from baa.train import predict

    data = P.dataset(p, "bench", progress)
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
            x = P.degraded_set(clean, kind)
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
    from baa.metrics import paired_bootstrap_ci
    from baa.restore import RESTORERS

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


def precision_check(profile=None, progress: bool = False, device: str | torch.device = "auto") -> dict:
    """What bf16 inference does to the trained plain BoNet+ (``pipelines.regressors()["plain"]``) on the clean
    bench images: MAE in fp32 and bf16, and the mean / largest change of a predicted age (years)."""
    from baa import pipelines as P
    from baa.metrics import mae
    from baa.profiles import get_profile
    from baa.train import pick_device, predict

    p, dev = get_profile(profile), pick_device(device)
    data = P.dataset(p, "bench", progress)
    reg = _load_models(p, progress)[0]
    a = predict(reg, data.images, device=dev).reshape(-1)
    b = predict(reg, data.images, device=dev, precision="bf16").reshape(-1)
    d = (a - b).abs()
    return {"device": str(dev), "n": len(data), "mae_years_fp32": mae(a, data.age), "mae_years_bf16": mae(b, data.age),
            "mean_abs_change_years": float(d.mean()), "max_abs_change_years": float(d.max())}


def restoration(profile=None, quick: bool = False, progress: bool = True, n: int | None = None) -> dict:
    """The ``restoration`` section: ``{kind: {method: {"psnr", "ssim", "mae_years", "ms_per_image"
    [, "psnr_mask"]}}}`` on the first ``n`` (default ``profile.n_bench``; ``quick``: at most 16)
    bench images. Trains the plain BoNet+ and the ResUNets first if ``artifacts/<profile>/models``
    lacks them (as the book does)."""
    from baa.profiles import get_profile

    p = get_profile(profile)
    n = n or (min(p.n_bench, 16) if quick else p.n_bench)
    results, _ = _restore_all(p, n, progress)
    return results


def restoration_examples(profile=None, index: int | list[int] = 0, progress: bool = False) -> dict:
    """Bench image(s) ``index`` clean, degraded and restored by every method, for the figures:
    ``{kind: {method: array (len(index), H, W)}}`` (``clean``, ``degraded``, each classical
    restorer, ``resunet``, ``resunet_dq``) -- the same images the ``restoration`` numbers score."""
    from baa.profiles import get_profile

    idx = [index] if isinstance(index, int) else list(index)
    ex, _ = _restore_all(get_profile(profile), None, progress, keep=idx)
    return ex


# ------------------------------------------------------------------------------------------------
# Run, write, print
# ------------------------------------------------------------------------------------------------

def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer)):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None  # JSON has no inf / nan
    return o


def write_json(obj: dict, path: str | Path) -> Path:
    """Write ``obj`` as JSON atomically (a temporary file in the same folder, then ``os.replace``):
    a reader never sees half a file, and an interrupted run leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the result is for everyone
        with os.fdopen(fd, "w") as f:
            json.dump(_jsonable(obj), f, indent=1, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _targets(result: dict) -> dict:
    s = result.get("speed") or {}
    t = {}
    if s:
        v = s.get("bonet_infer_ms_256_best")
        t["bonet_infer_256_ms_le_100"] = {"value": v, "target": 100.0, "met": v is not None and v <= 100.0,
                                          "precision": "fp32" if v is not None and v == s.get("bonet_infer_ms_256_best_fp32") else "bf16"}
        v = s.get("conv_share_of_peak")
        t["conv_share_of_peak_ge_0.5"] = {"value": v, "target": 0.5, "met": v is not None and v >= 0.5}
        for key, goal in (("phantom_images_per_s_256", 200.0), ("phantom_images_per_s_256_png", 100.0)):
            v = s.get(key)  # issue 3: >= 200 images/s in memory, >= 100 with PNG writing, at 256^2
            t[f"{key}_ge_{goal:.0f}"] = {"value": v, "target": goal, "met": v is not None and v >= goal}
    for kind, v in (result.get("verdict") or {}).items():
        t[f"resunet_beats_classical_{kind}"] = {"value": v["resunet_psnr_gain_db"], "target": 1.0,
                                                "mae_change_years": v["resunet_mae_change_years"],
                                                "mae_change_ci95_years": v.get("resunet_mae_change_ci95_years"),
                                                "mae_change_decided": v.get("resunet_mae_change_decided"),
                                                "met": v["resunet_beats_classical"],
                                                "met_with_tta": v.get("resunet_beats_classical_tta"),
                                                "met_by_age_change": v.get("resunet_beats_classical_age_change")}
    return t


def run(profile=None, out: str | Path | None = None, quick: bool = False, parts: tuple[str, ...] = ("restoration", "speed"),
        device: str = "auto", progress: bool = True, n: int | None = None, compile: bool | None = None) -> dict:
    """Both sections, ``targets`` and ``meta``; written atomically to ``out`` (default
    ``artifacts/<profile>/bench.json``; ``out=False`` writes nothing). The result as a dict."""
    from baa import pipelines as P
    from baa.profiles import get_profile
    from baa.train import pick_device

    p = get_profile(profile)
    dev = pick_device(device)
    t0 = time.perf_counter()
    result: dict = {}
    meta = {**hardware(dev), "profile": p.name, "quick": bool(quick), "data": "phantom",
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "load_average_start": _load()}
    if "restoration" in parts:
        t1 = time.perf_counter()
        results, data = _restore_all(p, n or (min(p.n_bench, 16) if quick else p.n_bench), progress)
        result["restoration"] = results
        result["verdict"] = _verdict(results)
        meta.update(data_source=data.source, n_bench=len(data), image_size=int(data.images.shape[-1]),
                    restoration_device=str(dev), classical_device="cpu (NumPy / scikit-image)",
                    seconds_restoration=time.perf_counter() - t1)
        if bf16_supported(dev):  # the price of the bf16 speed-up, on the trained model
            result["precision"] = precision_check(p, False, dev)
    if "speed" in parts:
        t1 = time.perf_counter()
        s, extra = speed(p, quick, dev, progress, compile=compile)
        meta["seconds_speed"] = time.perf_counter() - t1
        result["speed"] = s
        meta["skipped"] = extra.pop("skipped")
        result["speed_extra"] = extra
    result["targets"] = _targets(result)
    if dev.type != "cuda":
        meta["gpu_note"] = "No GPU in this run: GPU numbers need `baa bench` on a GPU machine"
    meta["load_average_end"] = _load()
    busy = max(meta["load_average_start"] or 0.0, meta["load_average_end"] or 0.0)
    if busy > 1.25 * (os.cpu_count() or 1):
        meta["busy_note"] = (f"The machine was busy with other work (1-minute load average up to {busy:.1f} on "
                             f"{os.cpu_count()} CPUs): multi-threaded kernels wait for descheduled threads at every "
                             f"barrier, which slows small layers most; absolute times are pessimistic")
    meta["seconds"] = time.perf_counter() - t0
    result["meta"] = meta
    if out is not False:
        write_json(result, out or P.artifact_dir(p) / "bench.json")
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


def cmd_bench(a) -> int:
    parts = tuple(a.only) if a.only else ("restoration", "speed")
    from baa import pipelines as P

    out = Path(a.out) if a.out else P.artifact_dir(a.profile) / "bench.json"
    res = run(a.profile, out, quick=a.quick, parts=parts, device=a.device, progress=not a.quiet,
              compile=False if a.no_compile else None)
    print(format_table(res))
    print(f"\nwritten: {out}")
    return 0


def register_cli(subparsers) -> None:
    """``baa bench --profile P --out FILE.json [--quick]`` (picked up by ``baa.cli``)."""
    s = subparsers.add_parser("bench", help="restoration quality and speed: classical vs ResUNet, FLOPs, latency, throughput")
    s.add_argument("--profile", default=None, help="smoke, cpu or paper (default: $BAA_PROFILE or cpu)")
    s.add_argument("--out", default=None, help="JSON file (default: artifacts/<profile>/bench.json), written atomically")
    s.add_argument("--quick", action="store_true", help="fewer images and iterations, no torch.compile")
    s.add_argument("--only", nargs="*", choices=["restoration", "speed"], help="run only these sections")
    s.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:1, ...")
    s.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_bench)


if __name__ == "__main__":  # pragma: no cover
    from baa.cli import main

    raise SystemExit(main(["bench", *sys.argv[1:]]))
