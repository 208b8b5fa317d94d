"""Phantom generator speed: images/s in memory and end-to-end with PNG writing (not a timed test).

    python benchmarks/bench_phantom.py [--size 256] [--n 1024] [--batch 64] [--threads 0] [--workers -1]

The bench's goals (``baa.analysis.bench.SPEED_GOALS``) are >= 200 images/s at 256x256 in memory and
>= 100 images/s with PNG writing on a 2-core CPU.  Reports wall-clock rates and, since a shared machine skews wall time, the CPU load
average seen during the run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from baa.phantom import PhantomConfig, PhantomDataset, default_workers, render, write_rsna


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave default)")
    ap.add_argument("--workers", type=int, default=-1, help="worker processes (-1: one process, then the default)")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = PhantomConfig(size=a.size)
    render(torch.arange(a.batch), config=cfg, device=a.device)  # warm-up
    load0 = os.getloadavg()[0]
    for workers in ([a.workers] if a.workers >= 0 else [0, None]):
        label = "one process" if workers == 0 else f"{workers or default_workers(a.n // a.batch, a.device)} workers"
        ds = PhantomDataset(a.n, seed=1, config=cfg, device=a.device)
        t0 = time.perf_counter()
        ds.render_all(batch_size=a.batch, progress=False, workers=workers)
        if a.device != "cpu":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(f"in memory : {a.n / dt:7.1f} images/s at {a.size}x{a.size} (render_all, batch {a.batch}, {label})")
    n_png = max(a.batch, a.n // 2)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        write_rsna(os.path.join(d, "rsna"), n_png, size=a.size, seed=2, progress=False, batch_size=a.batch,
                           workers=None if a.workers < 0 else a.workers)
        dt = time.perf_counter() - t0
    print(f"with PNGs : {n_png / dt:7.1f} images/s (write_rsna, 8-bit, {n_png} images)")
    print(f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

if __name__ == "__main__":
    main()
