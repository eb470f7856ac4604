"""RMSNorm with the residual add fused in, as engine.layers.layernorm.RMSNorm.forward.

One program per row (the whole hidden vector in one tile). With a residual, the sum is rounded to
the input dtype first (it is the next residual) and the norm is taken of that rounded sum; the
normalized value is rounded to the input dtype before the weight multiply, as HF does.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rms_norm_kernel(
    x_ptr, res_ptr, w_ptr, out_ptr, res_out_ptr, eps,
    stride_xt, stride_rt, stride_ot, stride_rot,
    HIDDEN: tl.constexpr, BLOCK: tl.constexpr, HAS_RESIDUAL: tl.constexpr,
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
    tl.store(out_ptr + t * stride_ot + cols, (normed * w).to(out_ptr.dtype.element_ty), mask=mask)


def rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """x, residual: [..., hidden]; returns (normed, x + residual), or (normed, x) without a residual."""
    hidden = x.shape[-1]
    assert weight.shape == (hidden,) and x.stride(-1) == 1
    x2 = x.reshape(-1, hidden)
    out_dtype = torch.promote_types(x.dtype, weight.dtype)
    out = torch.empty(x2.shape, dtype=out_dtype, device=x.device)
    if residual is None:
        res2, res_out = x2, x2
    else:
        assert residual.shape == x.shape and residual.dtype == x.dtype and residual.stride(-1) == 1
        res2 = residual.reshape(-1, hidden)
        res_out = torch.empty_like(x2)
    if x2.shape[0] > 0:
        block = triton.next_power_of_2(hidden)
        _rms_norm_kernel[(x2.shape[0],)](
            x2, res2, weight, out, res_out, eps,
            x2.stride(0), res2.stride(0), out.stride(0), res_out.stride(0),
            HIDDEN=hidden, BLOCK=block, HAS_RESIDUAL=residual is not None,
            num_warps=min(16, max(1, block // 512)),
        )
    new_residual = x if residual is None else res_out.view(x.shape)
    return out.view(x.shape), new_residual
