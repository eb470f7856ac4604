"""The FP8 e4m3 number format (torch.float8_e4m3fn, Triton's float8e4nv) and symmetric scaling.

A scale s maps real values to FP8 codes: code = clamp(x / s, -448, 448) cast to e4m3, and back:
x ~= code * s. Scales are float32. Weights get one scale per output channel (row), activations one per
token (row) computed on the fly, or one static per-tensor scale from a checkpoint."""

from __future__ import annotations

from typing import NamedTuple

import torch

FP8_DTYPE = torch.float8_e4m3fn
FP8_MAX = float(torch.finfo(FP8_DTYPE).max)  # 448.0
MIN_SCALE = 1.0 / (FP8_MAX * 512.0)  # an all-zero row still gets a finite, positive scale


class Fp8Activation(NamedTuple):
    """An activation already quantized per token (by a fused RMSNorm or SiLU-and-mul kernel), handed to
    an FP8 linear layer instead of the model-dtype tensor: codes [..., F], scales float32 [..., 1], and
    `dtype`, the model dtype the layer's output is written in."""

    codes: torch.Tensor
    scales: torch.Tensor
    dtype: torch.dtype


def to_fp8(x: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """x / scale, saturated to the e4m3 range, as FP8 codes (scale broadcasts against x)."""
    return (x.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)


def dequantize(
    codes: torch.Tensor, scale: torch.Tensor | float, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """codes * scale in `dtype` (scale broadcasts: [rows, 1] for per-row scales, or a scalar)."""
    return (codes.float() * scale).to(dtype)


def rowwise_scale(x: torch.Tensor) -> torch.Tensor:
    """One float32 scale per row of a 2-D tensor, [rows, 1]: the row's max |x| maps to 448."""
    return (x.abs().amax(dim=-1, keepdim=True).float() / FP8_MAX).clamp(min=MIN_SCALE)


def tensor_scale(x: torch.Tensor) -> torch.Tensor:
    """One float32 scale for the whole tensor (0-dim)."""
    return (x.abs().amax().float() / FP8_MAX).clamp(min=MIN_SCALE)


def quantize_activation_per_token(x: torch.Tensor) -> Fp8Activation:
    """x [..., F] -> Fp8Activation(codes [..., F], scales [..., 1], x's dtype): the PyTorch twin of the
    fused kernels (rms_norm_fp8, silu_and_mul_fp8)."""
    scale = rowwise_scale(x)
    return Fp8Activation(to_fp8(x, scale), scale, x.dtype)


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """weight [out, in] -> (FP8 codes [out, in], float32 scales [out]): one scale per output channel."""
    scale = rowwise_scale(weight)
    return to_fp8(weight, scale), scale.view(-1)


def quantize_per_token(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x [tokens, features] -> (FP8 codes, float32 scales [tokens, 1]): dynamic, one scale per token."""
    scale = rowwise_scale(x)
    return to_fp8(x, scale), scale


def quantize_per_tensor(
    x: torch.Tensor, scale: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """With a given (static) scale, or one computed from x; returns (codes, 0-dim float32 scale)."""
    scale = tensor_scale(x) if scale is None else scale.float().reshape(())
    return to_fp8(x, scale), scale
