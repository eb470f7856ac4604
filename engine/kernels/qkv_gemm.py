"""The QKV projection with qkv_prep in its epilogue, for decode-sized batches (16-bit or FP8 weights).

At decode sizes the projection (cuBLAS) and qkv_prep (per-head q/k RMSNorm, rotary, the K/V cache store:
engine/kernels/qkv_prep.py) are two launches a layer, and qkv_prep is a latency-bound ~4 us on an H200
at qwen3-0.6b's shapes. Here the skinny-M GEMM (engine/kernels/fp8_gemm.py's main loop with 16-bit
weights, swap-AB, split-K with a ticket) tiles the output one head per program column (BLOCK_N =
head_dim), so the program that finishes a head's tile holds every feature of that head for its tokens
and does qkv_prep's work there: a q head is normed and rotated into `q`, a k head normed, rotated and
stored to the cache slot, a v head stored. No qkv tensor is written.

Numerics follow qkv_prep step for step (the projection's output rounded to the model dtype first, the
normed value rounded before and after the weight, the rotation in fp32 then rounded; an FP8 cache gets
clamp(x / scale) codes); the GEMM's sums are the skinny kernel's, not cuBLAS's (last-bit differences).
Full rotary only (rot_dim = head_dim); head_dim a power of two from 16.

FP8 weights (`--quantization fp8`, per-output-channel scales) take the activation already quantized per
token (the input RMSNorm's fused FP8 output): the e4m3 dot as in fp8_gemm's kernel, then both scales
applied to the accumulator before the bias, as fp8_gemm's epilogue does, and qkv_prep's work after.

TEECUBE_FUSED_QKV_GEMM=1 turns it on (off by default until it is measured on a GPU)."""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from engine.kernels import fp8_gemm
from engine.kernels.fp8_gemm import _skinny_acc, _skinny_program, _split_k_ticket, _split_k_total
from engine.quantization.fp8 import FP8_DTYPE

FUSED_QKV_GEMM = os.environ.get("TEECUBE_FUSED_QKV_GEMM", "0") == "1"
MAX_ROWS = 256
_DTYPES = (torch.bfloat16, torch.float16)


@triton.jit
def _rotate(x, cos, sin, dt: tl.constexpr, HALF: tl.constexpr, BLOCK_M: tl.constexpr):
    """Rotate-half over a [2 * HALF, BLOCK_M] head tile (features on axis 0): the two halves, each rotated
    in fp32 and rounded to dt as the unfused rotary kernel stores them."""
    x1, x2 = tl.split(tl.permute(tl.reshape(x, [2, HALF, BLOCK_M]), (1, 2, 0)))
    o1 = (x1 * cos - x2 * sin).to(dt).to(tl.float32)
    o2 = (x2 * cos + x1 * sin).to(dt).to(tl.float32)
    return o1, o2


@triton.jit
def _slot_offset(slot, stride_cb, stride_cs, BLOCK_SIZE: tl.constexpr):
    """A cache slot's (block, offset) element offset; slot -1 (not stored) reads as slot 0."""
    slot = tl.maximum(slot, 0)
    return (slot // BLOCK_SIZE) * stride_cb + (slot % BLOCK_SIZE) * stride_cs


@triton.jit(do_not_specialize=["M"])
def _qkv_gemm_prep_kernel(
    x_ptr, sx_ptr, w_ptr, sw_ptr, bias_ptr, part_ptr, count_ptr, q_ptr, cache_ptr, pos_ptr, slot_ptr,
    cos_sin_ptr, qw_ptr, kw_ptr, eps, k_scale, v_scale,
    M, N, K, stride_xm, stride_wn, stride_q, stride_cos, stride_ckv, stride_cb, stride_cs, stride_ch,
    BLOCK_SIZE: tl.constexpr, Q_HEADS: tl.constexpr, K_HEADS: tl.constexpr, HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, SPLIT_K: tl.constexpr,
    HAS_BIAS: tl.constexpr, QK_NORM: tl.constexpr, FP8: tl.constexpr, FP8_WEIGHTS: tl.constexpr,
):
    num_m, pid_m, pid_k, head = _skinny_program(M, BLOCK_M, SPLIT_K)  # the weight tile: one head's rows
    acc, rm, rm_safe, _, _ = _skinny_acc(
        x_ptr, w_ptr, pid_m, head, pid_k, M, N, K, stride_xm, stride_wn,
        BLOCK_M, HEAD_DIM, BLOCK_K, SPLIT_K, True, False, not FP8_WEIGHTS,
    )
    if SPLIT_K > 1:
        ticket, tile_part, split_stride = _split_k_ticket(
            acc, part_ptr, count_ptr, pid_m, head, pid_k, num_m, N, BLOCK_M, HEAD_DIM, True
        )
        if ticket != SPLIT_K - 1:
            return
        acc = _split_k_total(tile_part, split_stride, count_ptr, head * num_m + pid_m, SPLIT_K)

    dt: tl.constexpr = q_ptr.dtype.element_ty
    HALF: tl.constexpr = HEAD_DIM // 2
    feats = tl.arange(0, HEAD_DIM)
    halves = tl.arange(0, HALF)
    live = (rm < M)[None, :]
    if FP8_WEIGHTS:  # the weight's per-channel and the token's scales, as fp8_gemm's epilogue
        acc = acc * tl.load(sw_ptr + head * HEAD_DIM + feats)[:, None] * tl.load(sx_ptr + rm_safe)[None, :]
    if HAS_BIAS:
        acc += tl.load(bias_ptr + head * HEAD_DIM + feats).to(tl.float32)[:, None]
    x = acc.to(dt).to(tl.float32)  # the projection's output, as the unfused path stores it
    if head < Q_HEADS + K_HEADS:  # q or k: norm, rotate
        if QK_NORM:
            w = tl.where(head < Q_HEADS, tl.load(qw_ptr + feats), tl.load(kw_ptr + feats)).to(tl.float32)
            rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / HEAD_DIM + eps)
            x = ((x * rstd[None, :]).to(dt).to(tl.float32) * w[:, None]).to(dt).to(tl.float32)
        pos = tl.load(pos_ptr + rm_safe).to(tl.int64)
        cs = cos_sin_ptr + pos[None, :] * stride_cos + halves[:, None]
        o1, o2 = _rotate(x, tl.load(cs).to(tl.float32), tl.load(cs + HALF).to(tl.float32), dt, HALF, BLOCK_M)
        if head < Q_HEADS:
            q_dst = q_ptr + rm_safe[None, :] * stride_q + head * HEAD_DIM + halves[:, None]
            tl.store(q_dst, o1.to(dt), mask=live)
            tl.store(q_dst + HALF, o2.to(dt), mask=live)
        else:
            k_slot = tl.load(slot_ptr + rm_safe).to(tl.int64)
            k_dst = (cache_ptr + _slot_offset(k_slot, stride_cb, stride_cs, BLOCK_SIZE)[None, :]
                     + (head - Q_HEADS) * stride_ch + halves[:, None])
            if FP8:
                o1 = tl.clamp(o1 / k_scale, -448.0, 448.0)
                o2 = tl.clamp(o2 / k_scale, -448.0, 448.0)
            k_keep = live & (k_slot >= 0)[None, :]
            tl.store(k_dst, o1.to(cache_ptr.dtype.element_ty), mask=k_keep)
            tl.store(k_dst + HALF, o2.to(cache_ptr.dtype.element_ty), mask=k_keep)
    else:  # v: stored as it is
        v_slot = tl.load(slot_ptr + rm_safe).to(tl.int64)
        v_dst = (cache_ptr + stride_ckv + _slot_offset(v_slot, stride_cb, stride_cs, BLOCK_SIZE)[None, :]
                 + (head - Q_HEADS - K_HEADS) * stride_ch + feats[:, None])
        if FP8:
            x = tl.clamp(x / v_scale, -448.0, 448.0)
        tl.store(v_dst, x.to(cache_ptr.dtype.element_ty), mask=live & (v_slot >= 0)[None, :])


def tiling(m: int, num_heads_total: int, k: int, sms: int, fp8: bool = False) -> tuple[int, int, int]:
    """(BLOCK_M, BLOCK_K, SPLIT_K): up to 64 tokens per tile; 128 bytes of K per row and tile (64 16-bit
    or 128 FP8 elements); K split until the programs about fill the SMs (at least 2 K tiles a split)."""
    block_m = min(max(triton.next_power_of_2(m), 16), 64)
    block_k = _block_k(fp8)
    tiles = num_heads_total * triton.cdiv(m, block_m)
    split = max(1, min(triton.cdiv(sms, tiles), k // block_k // 2, 8))
    return block_m, block_k, split


def _block_k(fp8: bool) -> int:
    """128 bytes of K per row and tile: 64 16-bit or 128 FP8 elements."""
    return 128 if fp8 else 64


def qkv_linear_prep(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    positions: torch.Tensor,
    cos_sin_cache: torch.Tensor,
    kv_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
    num_heads: int,
    num_kv_heads: int,
    head_dim: int,
    q_norm_weight: torch.Tensor | None = None,
    k_norm_weight: torch.Tensor | None = None,
    eps: float = 1e-6,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
    fp8_scales: tuple[torch.Tensor, torch.Tensor, torch.dtype] | None = None,
) -> torch.Tensor | None:
    """qkv_prep(x @ weight^T + bias, ...)'s q ([T, Hq, D]) and cache writes, in one launch; None where this
    route does not apply (switched off, more than MAX_ROWS tokens, another dtype, partial rotary, a
    head_dim that is not a power of two, or split-K counters not ready during capture).

    fp8_scales: FP8 weights, (x's float32 per-token scales [T, 1], the weight's float32 per-output-channel
    scales [N], the model dtype q is written in); x and weight are then e4m3 codes."""
    m, k = x.shape
    n = weight.shape[0]
    heads_total = num_heads + 2 * num_kv_heads  # the weight's head tiles: q, then k, then v
    qk_norm = q_norm_weight is not None
    fp8_weights = fp8_scales is not None
    out_dtype = fp8_scales[2] if fp8_scales is not None else x.dtype
    if (
        not FUSED_QKV_GEMM or m == 0 or m > MAX_ROWS or out_dtype not in _DTYPES or weight.dtype != x.dtype
        or (x.dtype == FP8_DTYPE) != fp8_weights or not _scales_fit(fp8_scales, m, n)
        or x.stride(1) != 1 or weight.stride(1) != 1
        or cos_sin_cache.shape[-1] != head_dim or head_dim < 16 or head_dim & (head_dim - 1)
        or n != heads_total * head_dim or k % _block_k(fp8_weights)
        or (x.is_cuda and not fp8_gemm.ready(x.device))
    ):
        return None
    block_m, block_k, split = tiling(m, heads_total, k, fp8_gemm.num_sms(x.device), fp8_weights)  # m > 0
    assert kv_cache.shape[3:] == (num_kv_heads, head_dim) and kv_cache.stride(4) == 1
    assert positions.shape == (m,) and slot_mapping.shape == (m,) and cos_sin_cache.stride(-1) == 1
    q = torch.empty((m, num_heads * head_dim), dtype=out_dtype, device=x.device)
    m_tiles = triton.cdiv(m, block_m)
    if split > 1:
        part = torch.empty((split * m_tiles * heads_total * block_m * head_dim,), dtype=torch.float32,
                           device=x.device)
        counters = fp8_gemm.prepare(x.device)
    else:
        part = counters = q  # unused
    norm_w = (q_norm_weight, k_norm_weight) if qk_norm else (q, q)  # (unused without QK_NORM)
    x_scales, w_scales = (fp8_scales[0], fp8_scales[1]) if fp8_scales is not None else (q, q)  # (unused)
    _qkv_gemm_prep_kernel[(m_tiles * split * heads_total,)](
        x, x_scales, weight, w_scales, bias if bias is not None else q, part, counters, q, kv_cache,
        positions, slot_mapping, cos_sin_cache, *norm_w, float(eps), float(k_scale), float(v_scale),
        m, n, k, x.stride(0), weight.stride(0), q.stride(0), cos_sin_cache.stride(0),
        kv_cache.stride(0), kv_cache.stride(1), kv_cache.stride(2), kv_cache.stride(3),
        BLOCK_SIZE=kv_cache.shape[2], Q_HEADS=num_heads, K_HEADS=num_kv_heads, HEAD_DIM=head_dim,
        BLOCK_M=block_m, BLOCK_K=block_k, SPLIT_K=split,
        HAS_BIAS=bias is not None, QK_NORM=qk_norm, FP8=kv_cache.dtype == FP8_DTYPE,
        FP8_WEIGHTS=fp8_weights, num_warps=4, num_stages=4,
    )
    return q.view(m, num_heads, head_dim)


def _scales_fit(fp8_scales: tuple[torch.Tensor, torch.Tensor, torch.dtype] | None, m: int, n: int) -> bool:
    """FP8 scales as the epilogue reads them: contiguous float32, one per token and one per output channel
    (block-quantized weights' 2-D scale grids are not taken)."""
    if fp8_scales is None:
        return True
    x_scales, w_scales, _ = fp8_scales
    return (
        x_scales.dtype == w_scales.dtype == torch.float32 and x_scales.numel() == m
        and x_scales.is_contiguous() and w_scales.shape == (n,) and w_scales.is_contiguous()
    )
