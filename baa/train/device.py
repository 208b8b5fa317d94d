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
