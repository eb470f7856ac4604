"""SiLU(gate) * up (GELU for Gemma) over a tensor holding [gate | up] in its last dimension."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.layers.cuda_kernels import cuda_kernels


class SiluAndMul(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cuda and (ops := cuda_kernels()) is not None:
            return ops.silu_and_mul(x)
        gate, up = x.chunk(2, -1)
        return F.silu(gate) * up


class GeluAndMul(nn.Module):
    """GELU (tanh approximation, HF's gelu_pytorch_tanh)(gate) * up: Gemma's GeGLU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = x.chunk(2, -1)
        return F.gelu(gate, approximate="tanh") * up
