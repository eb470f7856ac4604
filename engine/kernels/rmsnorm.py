"""RMSNorm with the residual add fused in, as engine.layers.layernorm.RMSNorm.forward.

One program per row (the whole hidden vector in one tile). With a residual, the sum is rounded to
the input dtype first (it is the next residual) and the norm is taken of that rounded sum; the
normalized value is rounded to the input dtype before the weight multiply, as HF does.

`rms_norm_fp8`: the same, then the output row (rounded to the model dtype, as the unfused path stores
it) is quantized per token for an FP8 linear layer in the same program: max |y| / 448 is the row's
scale and clamp(y / scale) is written as e4m3 codes, so the norm writes 1 byte per feature and the
separate quantizer launch is gone. Bit-equal to rms_norm followed by quantize_per_token.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.quantization.fp8 import FP8_DTYPE, FP8_MAX, MIN_SCALE, Fp8Activation


@triton.jit
def _rms_norm_kernel(
    x_ptr, res_ptr, w_ptr, out_ptr, res_out_ptr, scale_ptr, eps,
    stride_xt, stride_rt, stride_ot, stride_rot,
    HIDDEN: tl.constexpr, BLOCK: tl.constexpr, HAS_RESIDUAL: tl.constexpr,
    QUANT: tl.constexpr = False, FP8_MAX: tl.constexpr = 448.0, MIN_SCALE: tl.constexpr = 0.0,
):
    t = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    mask = cols < HIDDEN
    x = tl.load(x_ptr + t * stride_xt + cols, mask=mask, other=0.0)
    if HAS_RESIDUAL:
        r = tl.load(res_ptr + t * stride_rt + cols, mask=mask, other=0.0)
        x = (x.to(tl.float32) + r.to(tl.float32)).to(x_ptr.dtype.element_ty)
        tl.store(res_out_ptr + t * stride_rot + cols, x, mask=mask)
    xf = x.to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(xf * xf, axis=0) / HIDDEN + eps)
    normed = (xf * rstd).to(x_ptr.dtype.element_ty).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    if QUANT:  # y in the model dtype, then per-token e4m3 codes and the row's scale
        y = (normed * w).to(x_ptr.dtype.element_ty).to(tl.float32)
        scale = tl.maximum(tl.max(tl.abs(y), axis=0) / FP8_MAX, MIN_SCALE)
        tl.store(scale_ptr + t, scale)
        codes = tl.clamp(y / scale, -FP8_MAX, FP8_MAX).to(out_ptr.dtype.element_ty)
        tl.store(out_ptr + t * stride_ot + cols, codes, mask=mask)
    else:
        tl.store(out_ptr + t * stride_ot + cols, (normed * w).to(out_ptr.dtype.element_ty), mask=mask)


def rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """x, residual: [..., hidden]; returns (normed, x + residual), or (normed, x) without a residual."""
    out, new_residual, _ = _rms_norm(x, weight, eps, residual, quant=False)
    return out.view(x.shape), new_residual


def rms_norm_fp8(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> tuple[Fp8Activation, torch.Tensor]:
    """As rms_norm, with the normed output quantized per token: (Fp8Activation with codes [..., hidden]
    and scales [..., 1], x + residual). The model dtype is x's (weight must not promote it)."""
    assert torch.promote_types(x.dtype, weight.dtype) == x.dtype, (x.dtype, weight.dtype)
    codes, new_residual, scales = _rms_norm(x, weight, eps, residual, quant=True)
    return Fp8Activation(codes.view(x.shape), scales.view(*x.shape[:-1], 1), x.dtype), new_residual


def _rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None, quant: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    hidden = x.shape[-1]
    assert weight.shape == (hidden,) and x.stride(-1) == 1
    x2 = x.reshape(-1, hidden)
    out_dtype = FP8_DTYPE if quant else torch.promote_types(x.dtype, weight.dtype)
    out = torch.empty(x2.shape, dtype=out_dtype, device=x.device)
    scales = torch.empty((x2.shape[0], 1), dtype=torch.float32, device=x.device) if quant else out
    if residual is None:
        res2, res_out = x2, x2
    else:
        assert residual.shape == x.shape and residual.dtype == x.dtype and residual.stride(-1) == 1
        res2 = residual.reshape(-1, hidden)
        res_out = torch.empty_like(x2)
    if x2.shape[0] > 0:
        block = triton.next_power_of_2(hidden)
        _rms_norm_kernel[(x2.shape[0],)](
            x2, res2, weight, out, res_out, scales, eps,
            x2.stride(0), res2.stride(0), out.stride(0), res_out.stride(0),
            HIDDEN=hidden, BLOCK=block, HAS_RESIDUAL=residual is not None,
            QUANT=quant, FP8_MAX=FP8_MAX, MIN_SCALE=MIN_SCALE,
            num_warps=min(16, max(1, block // 512)),
        )
    new_residual = x if residual is None else res_out.view(x.shape)
    return out, new_residual, scales
