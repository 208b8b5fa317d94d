"""Where and in what precision to train: the device, and whether the CPU has native bf16 kernels.

Layer: train.
"""

from __future__ import annotations
import torch


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``auto``: cuda if available, then Apple's mps, else cpu."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_supported(device: str | torch.device = "cpu") -> bool:
    """Whether ``device`` runs bf16 arithmetic natively (CUDA with bf16; on the CPU, oneDNN's bf16
    kernels: AVX512-BF16 or AMX). Elsewhere bf16 is emulated and slower than fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


# glibc hands a freed tensor over 32 MiB (and, adapting, smaller ones) back to the kernel, and the next
# training step faults its pages in again. Keeping freed memory mapped: +6-12 % training images/s for
# the cpu profile's BoNet+ and ResUNet on 2 cores, a quarter of the system time
# (benchmarks/bench_malloc.py). glibc reads these at a process's start: they are set for child processes
# (the book's kernels), where not set already; the arithmetic, and so every number, is unchanged.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(4 * 2**30)}


def use_fast_malloc(environ=None) -> dict:
    """``MALLOC_ENV`` into ``environ`` (default ``os.environ``: every process started after this call),
    keeping what the user set; returns what was added."""
    import os

    environ = os.environ if environ is None else environ
    added = {k: v for k, v in MALLOC_ENV.items() if k not in environ}
    environ.update(added)
    return added
