"""RMSNorm, with the residual add fused in: `forward(x, residual) -> (normed, x + residual)`.

fp8_out=True (the next layer is an FP8 linear with dynamic activation scales): `normed` comes back
quantized per token, an Fp8Activation (one fused kernel on CUDA)."""

from __future__ import annotations

import torch
from torch import nn

from engine.layers.cuda_kernels import cuda_kernels
from engine.layers.linear import default_weight_loader
from engine.quantization.fp8 import Fp8Activation, quantize_activation_per_token


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size), requires_grad=False)
        self.weight.weight_loader = self.weight_loader

    def weight_loader(
        self, param: nn.Parameter, loaded_weight: torch.Tensor, shard_id: str | int | None = None
    ) -> None:
        default_weight_loader(param, loaded_weight)

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)

    def forward(
        self, x: torch.Tensor, residual: torch.Tensor | None = None, fp8_out: bool = False
    ) -> tuple[torch.Tensor | Fp8Activation, torch.Tensor]:
        if x.is_cuda and (ops := cuda_kernels()) is not None:
            if fp8_out and torch.promote_types(x.dtype, self.weight.dtype) == x.dtype:
                return ops.rms_norm_fp8(x, self.weight, self.eps, residual)
            normed, residual = ops.rms_norm(x, self.weight, self.eps, residual)
        else:
            if residual is not None:
                x = x + residual
            normed, residual = self._norm(x), x
        if fp8_out:
            return quantize_activation_per_token(normed), residual
        return normed, residual
