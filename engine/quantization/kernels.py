"""Triton activation quantizer for the FP8 GEMM: one program per token (row).

Dynamic: the scale is the row's max |x| / 448 (at least MIN_SCALE), then clamp(x / scale) is written as
e4m3 codes. A row of up to 4096 features is loaded once and kept in registers; a longer one (down_proj's
input) is read in 4096-wide chunks twice, the second time mostly from L2. Static: one given per-tensor
scale for every row, one pass. One launch per linear layer instead of the five
elementwise ops of the PyTorch path; the grid depends on the shape only (CUDA-graph safe)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.quantization.fp8 import FP8_DTYPE, FP8_MAX, MIN_SCALE


@triton.jit
def _quantize_rows_kernel(
    x_ptr, out_ptr, scale_ptr, static_scale_ptr,
    stride_xt, stride_ot, num_cols,
    FP8_MAX: tl.constexpr, MIN_SCALE: tl.constexpr, STATIC: tl.constexpr, BLOCK: tl.constexpr,
    ONE_BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    x_row = x_ptr + row * stride_xt
    if ONE_BLOCK:  # the whole row in one tile: one read
        mask = cols < num_cols
        x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        if STATIC:
            scale = tl.load(static_scale_ptr).to(tl.float32)
        else:
            scale = tl.maximum(tl.max(tl.abs(x), axis=0) / FP8_MAX, MIN_SCALE)
        tl.store(scale_ptr + row, scale)
        codes = tl.clamp(x / scale, -FP8_MAX, FP8_MAX).to(out_ptr.dtype.element_ty)
        tl.store(out_ptr + row * stride_ot + cols, codes, mask=mask)
        return
    if STATIC:
        scale = tl.load(static_scale_ptr).to(tl.float32)
    else:
        amax = tl.zeros([BLOCK], dtype=tl.float32)
        for start in range(0, num_cols, BLOCK):
            x = tl.load(x_row + start + cols, mask=start + cols < num_cols, other=0.0).to(tl.float32)
            amax = tl.maximum(amax, tl.abs(x))
        scale = tl.maximum(tl.max(amax, axis=0) / FP8_MAX, MIN_SCALE)
    tl.store(scale_ptr + row, scale)
    for start in range(0, num_cols, BLOCK):
        mask = start + cols < num_cols
        x = tl.load(x_row + start + cols, mask=mask, other=0.0).to(tl.float32)
        codes = tl.clamp(x / scale, -FP8_MAX, FP8_MAX).to(out_ptr.dtype.element_ty)
        tl.store(out_ptr + row * stride_ot + start + cols, codes, mask=mask)


def quantize_rows(
    x: torch.Tensor, static_scale: torch.Tensor | None = None, max_block: int = 4096
) -> tuple[torch.Tensor, torch.Tensor]:
    """x [tokens, features] -> (FP8 codes [tokens, features], float32 scales [tokens, 1]).

    static_scale (a 1-element float32 tensor on x's device): every row uses it; else one per row.
    max_block: the widest tile (a power of two); longer rows take the chunked two-pass path."""
    assert x.dim() == 2 and x.stride(1) == 1, x.shape
    num_rows, num_cols = x.shape
    out = torch.empty((num_rows, num_cols), dtype=FP8_DTYPE, device=x.device)
    scales = torch.empty((num_rows, 1), dtype=torch.float32, device=x.device)
    if num_rows == 0:
        return out, scales
    block = min(triton.next_power_of_2(num_cols), max_block)
    _quantize_rows_kernel[(num_rows,)](
        x, out, scales, scales if static_scale is None else static_scale,
        x.stride(0), out.stride(0), num_cols,
        FP8_MAX=FP8_MAX, MIN_SCALE=MIN_SCALE, STATIC=static_scale is not None, BLOCK=block,
        ONE_BLOCK=num_cols <= block, num_warps=4 if block <= 1024 else 8,
    )
    return out, scales
