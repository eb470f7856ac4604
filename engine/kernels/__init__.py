"""Triton kernels with the signatures of the PyTorch ops in engine/layers (the CUDA path).

Without Triton installed this package exports only `triton_available()`, so
`from engine.kernels import paged_attention` raises ImportError and callers keep the PyTorch path.
On a machine without a GPU the kernels run only under TRITON_INTERPRET=1 (set before this import).
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["triton_available"]


def triton_available() -> bool:
    """True when Triton is installed and can run here: a CUDA device, or the interpreter."""
    if importlib.util.find_spec("triton") is None:
        return False
    if os.environ.get("TRITON_INTERPRET") == "1":
        return True
    import torch

    return torch.cuda.is_available()


if importlib.util.find_spec("triton") is not None:
    # Bound after the submodule imports, so `engine.kernels.store_kvcache` etc. name the functions.
    from engine.kernels.activation import silu_and_mul, silu_and_mul_fp8
    from engine.kernels.attention import paged_attention
    from engine.kernels.bf16_gemm import linear as bf16_linear
    from engine.kernels.decode_attention import decode_attention
    from engine.kernels.prefill_attention import extend_attention
    from engine.kernels.qkv_gemm import qkv_linear_prep
    from engine.kernels.qkv_prep import qkv_prep
    from engine.kernels.rmsnorm import rms_norm, rms_norm_fp8
    from engine.kernels.rotary import rotary_embedding
    from engine.kernels.store_kvcache import store_kvcache

    __all__ += [
        "bf16_linear",
        "decode_attention",
        "extend_attention",
        "paged_attention",
        "qkv_linear_prep",
        "qkv_prep",
        "rms_norm",
        "rms_norm_fp8",
        "rotary_embedding",
        "silu_and_mul",
        "silu_and_mul_fp8",
        "store_kvcache",
    ]
