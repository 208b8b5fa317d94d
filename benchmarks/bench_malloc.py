"""Two CPU settings the cpu book relies on, each as a ratio measured in one run (not a timed test).

    python benchmarks/bench_malloc.py [--steps 40] [--threads 2]

1. The allocator (``baa.train.device.MALLOC_ENV``): training images/s of the cpu profile's BoNet+ and
   ResUNet (bf16 autocast where the CPU has it, as the book trains), each in a fresh child process with
   and without the variables (glibc reads them at start), alternated, the best of ``--repeats``.
2. Images per forward pass in ``predict`` (``baa.train.trainer.CPU_FORWARD_IMAGES``): BoNet+ over 128
   images x 16 views at several batch sizes, and the largest difference of their outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

from baa.train.device import MALLOC_ENV, bf16_supported


def train_rate(network: str, steps: int, threads: int) -> float:
    """Training images/s of one network of the cpu profile (run in the child process)."""
    from baa.models import BoNetPlus, ResUNet
    from baa.profiles import get_profile

    p = get_profile("cpu")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if network == "bonet":
        model, batch = BoNetPlus(width=p.width), p.batch_regressor
    else:
        model, batch = ResUNet(depth=p.resunet_depth, width=p.width), p.batch_resunet
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch, 1, p.image_size, p.image_size).contiguous(memory_format=torch.channels_last)
    y = torch.rand(batch) * 18
    amp = p.train_bf16 and bf16_supported("cpu")

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(x)
        target = y if network == "bonet" else x
        loss = (out.float() - target).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


def child(network: str, steps: int, threads: int, fast: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
    if fast:
        env.update(MALLOC_ENV)
    code = f"from benchmarks.bench_malloc import train_rate; print(train_rate({network!r}, {steps}, {threads}))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return float(out.stdout.strip().splitlines()[-1])


def forward_batches(threads: int) -> dict:
    from baa.data import tta_views
    from baa.models import BoNetPlus
    from baa.profiles import get_profile

    p = get_profile("cpu")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = BoNetPlus(width=p.width).eval()
    x = torch.rand(128, 1, p.image_size, p.image_size)
    out, ref = {}, None
    for per_pass in (1024, 256, 64, 32):  # timed directly: predict itself caps the pass on the CPU
        t = time.perf_counter()
        ys = []
        with torch.inference_mode():
            for i in range(0, len(x), max(1, per_pass // 16)):
                v = tta_views(x[i:i + max(1, per_pass // 16)], 16).contiguous(memory_format=torch.channels_last)
                ys.append(model(v).view(16, -1).mean(0))
        y = torch.cat(ys)
        ref = y if ref is None else ref
        out[per_pass] = {"seconds": time.perf_counter() - t, "max_abs_diff_years": float((y - ref).abs().max())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    res = {"malloc_env": MALLOC_ENV, "bf16": bf16_supported("cpu")}
    for net in ("bonet", "resunet"):
        rates = {False: [], True: []}
        for _ in range(a.repeats):
            for fast in (False, True):
                rates[fast].append(child(net, a.steps, a.threads, fast))
        res[net] = {"images_per_s_default": max(rates[False]), "images_per_s_malloc_env": max(rates[True]),
                    "speedup": max(rates[True]) / max(rates[False])}
    res["predict_images_per_pass"] = forward_batches(a.threads)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
