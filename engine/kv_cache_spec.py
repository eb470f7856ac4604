"""The KV cache's element type and what one token costs: `--kv-cache-dtype auto | fp8 | fp8_e4m3`.

"auto" stores K/V in the model dtype; "fp8" (= "fp8_e4m3", vLLM's names) in float8_e4m3fn with one
scale per layer for K and one for V (from the checkpoint when it has them, else 1.0, as vLLM does):
half the bytes of bf16, so twice the tokens in the same memory. The model runner allocates each layer's
cache as `kv_cache_dtype(config, spec.dtype)` and sizes blocks with `kv_block_bytes`."""

from __future__ import annotations

from typing import Any

import torch

from engine.errors import InvalidParam
from engine.quantization.fp8 import FP8_DTYPE
from engine.quantization.support import check_fp8_device

KV_CACHE_DTYPES = {"fp8": FP8_DTYPE, "fp8_e4m3": FP8_DTYPE}
QUANTIZATIONS = ("fp8",)


def kv_cache_dtype(name: str, model_dtype: torch.dtype) -> torch.dtype:
    """The torch dtype the KV cache is allocated in."""
    if name == "auto":
        return model_dtype
    if name not in KV_CACHE_DTYPES:
        raise InvalidParam("kv_cache_dtype", f"{name!r} is not one of auto, {', '.join(KV_CACHE_DTYPES)}")
    return KV_CACHE_DTYPES[name]


def kv_bytes_per_token(num_layers: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype) -> int:
    """K and V of every layer for one token (this rank's KV heads)."""
    return 2 * num_layers * num_kv_heads * head_dim * torch.empty((), dtype=dtype).element_size()


def kv_block_bytes(
    num_layers: int, num_kv_heads: int, head_dim: int, block_size: int, dtype: torch.dtype
) -> int:
    return block_size * kv_bytes_per_token(num_layers, num_kv_heads, head_dim, dtype)


def check_fp8_options(config: Any) -> None:
    """EngineConfig's quantization and kv_cache_dtype: known values, on a device that runs FP8."""
    if config.quantization is not None:
        if config.quantization not in QUANTIZATIONS:
            raise InvalidParam(
                "quantization",
                f"{config.quantization!r} is not supported (supported: {', '.join(QUANTIZATIONS)})",
            )
        check_fp8_device(config.device, "quantization", "--quantization fp8")
    if config.kv_cache_dtype != "auto":
        kv_cache_dtype(config.kv_cache_dtype, torch.bfloat16)  # a known name
        check_fp8_device(config.device, "kv_cache_dtype", f"--kv-cache-dtype {config.kv_cache_dtype}")
