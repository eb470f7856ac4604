"""The Triton twins of these layers' ops (engine/kernels), used for CUDA tensors when Triton is installed."""

from __future__ import annotations

from functools import cache
from types import ModuleType


@cache
def cuda_kernels() -> ModuleType | None:
    try:
        import engine.kernels as kernels
    except ImportError:
        return None
    return kernels if hasattr(kernels, "paged_attention") else None
