"""SiLU-and-mul: [T, 2*I] holding [gate | up] -> silu(gate) * up, [T, I].

`silu_and_mul_fp8`: the same output (rounded to the input dtype, as the unfused path stores it)
quantized per token for the FP8 down projection, in one launch: one program per row takes max |y|
over the row, then writes clamp(y / scale) as e4m3 codes and the row's scale. A row of up to
ONE_PASS_MAX features stays in registers (16 warps past 8k: llama3-8b's 14,336 in one 16k tile); a
longer one is computed twice (the second read mostly from L2). On an H200 the one tile beat two
4k-chunk passes at 14,336 features: 11.0 against 15.5 us at 256 tokens, 87 against 131 us at 4,096
(docs/bench/h200-2026-12-03-session3/fp8-micro.json; gpu/silu_fp8_bench.py times the warps).
Bit-equal to silu_and_mul followed by quantize_per_token."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.quantization.fp8 import FP8_DTYPE, FP8_MAX, MIN_SCALE, Fp8Activation

ONE_PASS_MAX = 16384
CHUNK = 4096


@triton.jit
def _silu_and_mul_kernel(x_ptr, out_ptr, stride_xt, stride_ot, INTER: tl.constexpr, BLOCK: tl.constexpr):
    # Grid (tokens, cdiv(I, BLOCK)): each program does BLOCK columns of one row, math in fp32.
    t = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < INTER
    gate = tl.load(x_ptr + t * stride_xt + cols, mask=mask, other=0.0).to(tl.float32)
    up = tl.load(x_ptr + t * stride_xt + INTER + cols, mask=mask, other=0.0).to(tl.float32)
    out = gate / (1.0 + tl.exp(-gate)) * up
    tl.store(out_ptr + t * stride_ot + cols, out.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _silu_mul_rounded(x_row, cols, mask, INTER: tl.constexpr):
    """silu(gate) * up of some columns of one row, rounded to x's dtype, as fp32 (0 where masked)."""
    gate = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
    up = tl.load(x_row + INTER + cols, mask=mask, other=0.0).to(tl.float32)
    return (gate / (1.0 + tl.exp(-gate)) * up).to(x_row.dtype.element_ty).to(tl.float32)


@triton.jit
def _silu_and_mul_fp8_kernel(
    x_ptr, out_ptr, scale_ptr, stride_xt, stride_ot,
    INTER: tl.constexpr, BLOCK: tl.constexpr, FP8_MAX: tl.constexpr, MIN_SCALE: tl.constexpr,
):
    t = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + t * stride_xt
    out_row = out_ptr + t * stride_ot
    cols = tl.arange(0, BLOCK)
    if INTER <= BLOCK:  # the whole row in one tile
        mask = cols < INTER
        y = _silu_mul_rounded(x_row, cols, mask, INTER)
        scale = tl.maximum(tl.max(tl.abs(y), axis=0) / FP8_MAX, MIN_SCALE)
        tl.store(scale_ptr + t, scale)
        codes = tl.clamp(y / scale, -FP8_MAX, FP8_MAX).to(out_ptr.dtype.element_ty)
        tl.store(out_row + cols, codes, mask=mask)
    else:
        amax = tl.zeros([BLOCK], dtype=tl.float32)
        for start in range(0, INTER, BLOCK):
            y = _silu_mul_rounded(x_row, start + cols, start + cols < INTER, INTER)
            amax = tl.maximum(amax, tl.abs(y))
        scale = tl.maximum(tl.max(amax, axis=0) / FP8_MAX, MIN_SCALE)
        tl.store(scale_ptr + t, scale)
        for start in range(0, INTER, BLOCK):
            mask = start + cols < INTER
            y = _silu_mul_rounded(x_row, start + cols, mask, INTER)
            codes = tl.clamp(y / scale, -FP8_MAX, FP8_MAX).to(out_ptr.dtype.element_ty)
            tl.store(out_row + start + cols, codes, mask=mask)


def _warps_for(block: int) -> int:
    """Warps for a tile of `block` features: ~32 fp32 values a thread at most (no spills)."""
    return 4 if block <= 1024 else 8 if block <= 8192 else 16


def silu_and_mul(x: torch.Tensor) -> torch.Tensor:
    """x: [..., 2*I] -> [..., I] in x's dtype."""
    inter = x.shape[-1] // 2
    assert x.shape[-1] == 2 * inter and x.stride(-1) == 1
    x2 = x.reshape(-1, 2 * inter)
    out = torch.empty((x2.shape[0], inter), dtype=x.dtype, device=x.device)
    if x2.shape[0] > 0:
        block = min(1024, triton.next_power_of_2(inter))
        _silu_and_mul_kernel[(x2.shape[0], triton.cdiv(inter, block))](
            x2, out, x2.stride(0), out.stride(0), INTER=inter, BLOCK=block, num_warps=4
        )
    return out.view(*x.shape[:-1], inter)


def silu_and_mul_fp8(
    x: torch.Tensor, one_pass_max: int = ONE_PASS_MAX, chunk: int = CHUNK, num_warps: int | None = None
) -> Fp8Activation:
    """x: [..., 2*I] -> Fp8Activation(codes [..., I], float32 scales [..., 1], x's dtype).
    one_pass_max, chunk (powers of two): the widest row kept in one tile, the tile of longer rows;
    num_warps: None for the default by tile width."""
    inter = x.shape[-1] // 2
    assert x.shape[-1] == 2 * inter and x.stride(-1) == 1
    x2 = x.reshape(-1, 2 * inter)
    codes = torch.empty((x2.shape[0], inter), dtype=FP8_DTYPE, device=x.device)
    scales = torch.empty((x2.shape[0], 1), dtype=torch.float32, device=x.device)
    if x2.shape[0] > 0:
        block = triton.next_power_of_2(inter)
        block = block if block <= one_pass_max else chunk
        _silu_and_mul_fp8_kernel[(x2.shape[0],)](
            x2, codes, scales, x2.stride(0), codes.stride(0),
            INTER=inter, BLOCK=block, FP8_MAX=FP8_MAX, MIN_SCALE=MIN_SCALE,
            num_warps=num_warps or _warps_for(block),
        )
    lead = x.shape[:-1]
    return Fp8Activation(codes.view(*lead, inter), scales.view(*lead, 1), x.dtype)
