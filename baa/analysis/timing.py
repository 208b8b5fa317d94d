"""Measuring speed: timers, the matmul peak, FLOP counts, latency, training throughput and
``torch.compile``, each a ratio within one run (never asserted by a timed test).

Layer: analysis.
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from baa.models import BoNetPlus, QualityClassifier, ResUNet, count_parameters
from baa.phantom import PhantomConfig, PhantomDataset, render, write_rsna
from baa.profiles import Profile
from baa.train import bf16_supported


PAPER_SIZE = 256  # Table 1: 1 x 256 x 256 input


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


def load_average() -> float | None:
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
        t = min(time_call(partial(torch.mm, a, b), iters=1, warmup=1 if r == 0 else 0, device=device) for r in range(reps))
        best = max(best, 2 * n**3 / t / 1e9)
        del a, b
    return best


def flop_count(model: nn.Module, inputs: torch.Tensor, by_op: bool = False, backward: bool = False):
    """FLOPs of one ``model(inputs)`` call counted by ``FlopCounterMode`` (2 per multiply-add; only
    the matmul-like ops -- convolutions, linear layers, matmuls -- are counted, as is customary).
    ``backward``: forward plus backward of the sum of the outputs (one training step's arithmetic,
    the optimiser excluded). ``by_op``: also return ``{op name: flops}``. Works on ``meta``
    tensors, so counting a paper-size network costs no arithmetic."""
    fc = FlopCounterMode(display=False)
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


def paper_networks() -> dict[str, Callable[[], nn.Module]]:
    """Builders of the paper's networks: BoNet+ (Table 1), the ResUNet (section 3.3.1: depth 5), VGG-16's classifier."""
    return {"bonet": lambda: BoNetPlus(width=1.0), "resunet": lambda: ResUNet(base=64, depth=5, width=1.0),
            "classifier": lambda: QualityClassifier(width=1.0)}


def profile_networks(p: Profile) -> dict[str, Callable[[], nn.Module]]:
    """Builders of the networks at a profile's widths and depth."""
    return {"bonet": lambda: BoNetPlus(width=p.width), "resunet": lambda: ResUNet(width=p.width, depth=p.resunet_depth),
            "classifier": lambda: QualityClassifier(width=p.classifier_width)}


def model_cost(build: Callable[[], nn.Module], size: int = PAPER_SIZE, batch: int = 1) -> dict:
    """Parameters and FLOPs (``flops``: forward; ``conv_flops``: its convolutions;
    ``train_flops``: forward + backward, optimiser excluded) of the network ``build()`` returns,
    for ``batch`` images of ``size`` x ``size``, counted on the ``meta`` device."""

    with torch.device("meta"):
        model = build()
    x = torch.empty(batch, 1, size, size, device="meta")
    fwd, ops = flop_count(model, x, by_op=True)
    model.train()  # BatchNorm in training needs two images: count two, report per image x batch
    train = flop_count(model, torch.empty(2, 1, size, size, device="meta"), backward=True) // 2 * batch
    conv = sum(v for k, v in ops.items() if "conv" in k)
    return {"params": count_parameters(model), "flops": fwd, "conv_flops": conv, "train_flops": train}


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
    "import json, sys; from baa.analysis.timing import _compile_worker; "
    "print('BAA_BENCH_JSON' + json.dumps(_compile_worker(json.loads(sys.argv[1]))), flush=True)"
)


def _compile_worker(spec: dict) -> dict:
    """Runs in a child process (see ``compile_inference``): eager vs ``torch.compile`` latency of
    each configuration, measured in this one process."""

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
