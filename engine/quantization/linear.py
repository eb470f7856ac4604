"""The FP8 GEMM of one linear layer: y = (x quantized) @ (FP8 weight)^T, rescaled, plus bias.

Weights are FP8 codes [out, in] with one float32 scale per output channel; activations are quantized
per token on the fly (dynamic) or with a static per-tensor scale from the checkpoint. On a CUDA device
with FP8 support this is `torch._scaled_mm` with row-wise scales (cuBLASLt, FP8 tensor cores; the
output is written in x's dtype); the activation quantizer is a Triton kernel. Anywhere else, and for
shapes cuBLASLt refuses (in or out features not a multiple of 16), the reference: dequantize both
operands, multiply in fp32, cast."""

from __future__ import annotations

from functools import cache

import torch

from engine.quantization.fp8 import dequantize, quantize_per_tensor, quantize_per_token


def fp8_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    weight_scale: torch.Tensor,
    bias: torch.Tensor | None = None,
    input_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """x [..., in] (bf16/fp16/fp32); weight FP8 [out, in]; weight_scale float32 [out];
    input_scale: a 0-dim float32 static activation scale, or None (dynamic, per token)."""
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    out_features, in_features = weight.shape
    if x.is_cuda and in_features % 16 == 0 and out_features % 16 == 0:
        y = _scaled_mm_linear(x2, weight, weight_scale, input_scale)
    else:
        y = reference_fp8_linear(x2, weight, weight_scale, input_scale)
    if bias is not None:
        y = y + bias
    return y.reshape(*shape[:-1], out_features)


def quantize_input(x: torch.Tensor, input_scale: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes [T, in], scales [T, 1]) with the PyTorch ops: per token, or the static scale on every row."""
    if input_scale is None:
        return quantize_per_token(x)
    codes, scale = quantize_per_tensor(x, input_scale)
    return codes, scale.expand(x.shape[0], 1).contiguous()  # _scaled_mm wants a [T, 1] column


def reference_fp8_linear(
    x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, input_scale: torch.Tensor | None
) -> torch.Tensor:
    """The same quantization as the CUDA path, then dequantize and matmul in fp32 (tests, CPU)."""
    codes, scales = quantize_input(x, input_scale)
    w = dequantize(weight, weight_scale.view(-1, 1))
    return (dequantize(codes, scales) @ w.t()).to(x.dtype)


def _scaled_mm_linear(
    x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, input_scale: torch.Tensor | None
) -> torch.Tensor:
    quantize = _triton_quantizer()
    if quantize is not None:
        codes, scales = quantize(x.contiguous(), None if input_scale is None else input_scale.reshape(1))
    else:
        codes, scales = quantize_input(x, input_scale)
    # row-wise scaling writes bf16 only (cuBLASLt); other model dtypes get a cast
    y = torch._scaled_mm(
        codes, weight.t(), scale_a=scales, scale_b=weight_scale.view(1, -1), out_dtype=torch.bfloat16
    )
    return y if x.dtype == torch.bfloat16 else y.to(x.dtype)


@cache
def _triton_quantizer():
    try:
        from engine.quantization.kernels import quantize_rows
    except ImportError:
        return None
    return quantize_rows
