"""SiLU(gate) * up (GELU for Gemma) over a tensor holding [gate | up] in its last dimension.

SiluAndMul(x, fp8_out=True) (the down projection is an FP8 linear with dynamic activation scales):
the product comes back quantized per token, an Fp8Activation (one fused kernel on CUDA)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.layers.cuda_kernels import cuda_kernels
from engine.quantization.fp8 import Fp8Activation, quantize_activation_per_token


class SiluAndMul(nn.Module):
    def forward(self, x: torch.Tensor, fp8_out: bool = False) -> torch.Tensor | Fp8Activation:
        if x.is_cuda and (ops := cuda_kernels()) is not None:
            return ops.silu_and_mul_fp8(x) if fp8_out else ops.silu_and_mul(x)
        gate, up = x.chunk(2, -1)
        y = F.silu(gate) * up
        return quantize_activation_per_token(y) if fp8_out else y


class GeluAndMul(nn.Module):
    """GELU (tanh approximation, HF's gelu_pytorch_tanh)(gate) * up: Gemma's GeGLU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = x.chunk(2, -1)
        return F.gelu(gate, approximate="tanh") * up
