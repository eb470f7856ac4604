"""Paged decode attention: split-KV (flash-decoding) with GQA head packing and a reduction pass.

Pass 1, grid (num_seqs, num_kv_heads, num_splits), or (num_kv_heads, num_splits, ranked rows) given a
row order, longest context first (decode_program): a program takes every query head that shares one
KV head (BLOCK_H rows, padded to >= 16 for tl.dot), so each KV tile is read once per group. The
context is cut into num_splits contiguous ranges (rounded up to BLOCK_N tokens); the program walks its
range in BLOCK_N-token tiles, looking each token's physical block up in the block table, with an
online softmax in base 2. It writes the normalized partial output and its log2-sum-exp.
Pass 2, grid (num_seqs, num_q_heads): merge the splits by their LSE. With one split (a full batch: it
already makes >= 1024 programs) pass 1 writes the output itself and pass 2 is not launched.

The grid depends only on the batch size, the head counts and num_splits, never on data on the device,
so both passes can be captured in a CUDA graph. A padded row (seq_len 0) has only empty splits and
produces zeros; no address outside its block-table row is read.

Sliding window (WINDOW > 0): only the last WINDOW positions are split and read. Soft-capping
(SOFTCAP > 0): scores become SOFTCAP * tanh(s / SOFTCAP) before the softmax. Both are compile-time.

FP8 cache: the per-layer k_scale is folded into the softmax scale and v_scale into the output, so the
tiles are the raw e4m3 codes converted after the load (half the bytes read). The default path ("new")
converts them to fp16 (exact: every e4m3 value is an fp16 value; one cvt per pair, where bf16 takes three)
and keeps the V conversion in the load layout (see tile_to); "old" converts to q's dtype (or fp16 with
f16_math) where the compiler puts it, which read the V tile from shared memory one byte at a time.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

LOG2E = 1.4426950408889634
# An FP8 cache's decode on CUDA goes to engine.kernels.decode_attention_fp8's named variant (its
# NAMED_VARIANTS): "best" by default (q as two e4m3 parts on FP8 tensor cores, the K tile read as it is:
# 1.08-1.16x faster than the previous default at three llama3-8b shapes on an H200, same error);
# TEECUBE_FP8_DECODE_VARIANT=ref (or empty) keeps this module's kernel, another name picks that variant.
# Read at import. On CPU (the interpreter) this module's kernel runs unless a variant is named.
FP8_DECODE_VARIANT = os.environ.get("TEECUBE_FP8_DECODE_VARIANT")


@triton.jit
def softcap_log2(s, cap: tl.constexpr):
    """Scores in log2 units (s * LOG2E) -> cap * tanh(s / cap), still in log2 units."""
    x = s / (cap * 1.4426950408889634)
    tanh = 1.0 - 2.0 / (tl.exp(2.0 * x) + 1.0)
    return tanh * (cap * 1.4426950408889634)


@triton.jit
def tile_to(x, dtype: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    """x.to(dtype) for a [BLOCK_N, BLOCK_D] FP8 tile, kept in the layout x was loaded in.

    The compiler moves a plain cast that feeds tl.dot past the conversion to the operand layout, so the
    8-bit tile goes through shared memory and, for V (tokens are its reduction axis), comes back one byte
    per load: sm_90 has no transposing ldmatrix for 8-bit. Splitting the tile into alternate byte pairs
    (each pair one cvt.f16x2.e4m3x2) and joining them back is not an elementwise chain, so the cast stays
    here, on 16 contiguous bytes per thread, and the fp16 tile takes a bf16 cache's ldmatrix.trans path."""
    x = tl.permute(tl.reshape(x, [BLOCK_N, BLOCK_D // 4, 2, 2]), (0, 1, 3, 2))  # [.., byte in pair, pair]
    a, b = tl.split(x)
    x = tl.permute(tl.join(a.to(dtype), b.to(dtype)), (0, 1, 3, 2))
    return tl.reshape(x, [BLOCK_N, BLOCK_D])


@triton.jit
def decode_program(order_ptr, ORDERED: tl.constexpr):
    """(sequence row, KV head, split) of this program. ORDERED: grid (kv_heads, splits, sequences) and
    the third index ranks the rows by `order_ptr` (longest context first), so the block scheduler starts
    the longest programs first and the short ones fill the last wave; else grid (sequences, kv_heads,
    splits)."""
    if ORDERED:
        seq = tl.load(order_ptr + tl.program_id(2))
        kv_head = tl.program_id(0)
        split = tl.program_id(1)
    else:
        seq = tl.program_id(0)
        kv_head = tl.program_id(1)
        split = tl.program_id(2)
    return seq, kv_head, split


def decode_grid(order: torch.Tensor | None, num_seqs: int, num_kv_heads: int, num_splits: int):
    """The split pass's grid for decode_program (ORDERED = order is not None)."""
    if order is not None:
        assert order.shape == (num_seqs,) and order.dtype == torch.int32, (order.shape, order.dtype)
        return (num_kv_heads, num_splits, num_seqs)
    return (num_seqs, num_kv_heads, num_splits)


@triton.jit
def _decode_split_kernel(
    q_ptr, cache_ptr, block_tables_ptr, seq_lens_ptr, mid_o_ptr, mid_lse_ptr, out_ptr,
    sm_scale_log2, v_scale,
    stride_qt, stride_qh,
    stride_ckv, stride_cb, stride_cs, stride_ch,
    stride_bt,
    stride_mo_t, stride_mo_h, stride_mo_s,
    stride_ml_t, stride_ml_h,
    stride_ot, stride_oh,
    GROUP: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_SIZE: tl.constexpr, NUM_SPLITS: tl.constexpr,
    BLOCK_H: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, DOT_PRECISION: tl.constexpr,
    WINDOW: tl.constexpr = 0, SOFTCAP: tl.constexpr = 0.0, F16_MATH: tl.constexpr = False,
    FP8_NEW: tl.constexpr = False, order_ptr=None, ORDERED: tl.constexpr = False,
):
    seq, kv_head, split = decode_program(order_ptr, ORDERED)

    rows = tl.arange(0, BLOCK_H)  # query heads of this KV head
    dims = tl.arange(0, BLOCK_D)
    row_mask = rows < GROUP
    dim_mask = dims < HEAD_DIM
    heads = kv_head * GROUP + rows

    seq_len = tl.load(seq_lens_ptr + seq)
    lo = 0
    if WINDOW > 0:
        lo = tl.maximum(seq_len - WINDOW, 0)
    split_len = tl.cdiv(tl.cdiv(seq_len - lo, NUM_SPLITS), BLOCK_N) * BLOCK_N
    start = lo + split * split_len
    end = tl.minimum(start + split_len, seq_len)

    q = tl.load(
        q_ptr + seq * stride_qt + heads[:, None] * stride_qh + dims[None, :],
        mask=row_mask[:, None] & dim_mask[None, :], other=0.0,
    )
    if F16_MATH:  # FP8 cache: e4m3 -> fp16 is one cvt per pair (bf16 takes three); q clamped to fp16's range
        q = tl.clamp(q.to(tl.float32), -65504.0, 65504.0).to(tl.float16)
    m_i = tl.full([BLOCK_H], -1.0e30, dtype=tl.float32)  # finite: a fully masked tile gives p = 0, not NaN
    l_i = tl.zeros([BLOCK_H], dtype=tl.float32)
    acc = tl.zeros([BLOCK_H, BLOCK_D], dtype=tl.float32)

    k_base = cache_ptr + kv_head * stride_ch
    v_base = k_base + stride_ckv
    for tile in range(start, end, BLOCK_N):
        pos = tile + tl.arange(0, BLOCK_N)
        pos_mask = pos < end
        block = tl.load(block_tables_ptr + seq * stride_bt + pos // BLOCK_SIZE, mask=pos_mask, other=0)
        tok = block.to(tl.int64) * stride_cb + (pos % BLOCK_SIZE) * stride_cs
        kv_mask = pos_mask[:, None] & dim_mask[None, :]
        k = tl.load(k_base + tok[:, None] + dims[None, :], mask=kv_mask, other=0.0).to(q.dtype)
        v = tl.load(v_base + tok[:, None] + dims[None, :], mask=kv_mask, other=0.0)
        if FP8_NEW:  # K's plain cast is fine: its reduction axis (head_dim) is the contiguous one
            v = tile_to(v, q.dtype, BLOCK_N, BLOCK_D)
        else:
            v = v.to(q.dtype)

        s = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION) * sm_scale_log2  # [BLOCK_H, BLOCK_N]
        if SOFTCAP > 0:
            s = softcap_log2(s, SOFTCAP)
        s = tl.where(pos_mask[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
        m_i = m_new

    out = acc * (v_scale / tl.maximum(l_i, 1e-30))[:, None]
    if NUM_SPLITS == 1:  # nothing to merge: the final output, as the merge of one split would write it
        tl.store(
            out_ptr + seq * stride_ot + heads[:, None] * stride_oh + dims[None, :],
            out.to(out_ptr.dtype.element_ty), mask=row_mask[:, None] & dim_mask[None, :],
        )
    else:
        # Empty split (start >= seq_len): lse = -inf, weight 0 in the merge.
        lse = tl.where(l_i > 0, m_i + tl.log2(tl.maximum(l_i, 1e-30)), float("-inf"))
        mid_o = mid_o_ptr + seq * stride_mo_t + split * stride_mo_s
        mask = row_mask[:, None] & dim_mask[None, :]
        tl.store(mid_o + heads[:, None] * stride_mo_h + dims[None, :], out, mask=mask)
        tl.store(mid_lse_ptr + seq * stride_ml_t + heads * stride_ml_h + split, lse, mask=row_mask)


@triton.jit
def _decode_reduce_kernel(
    mid_o_ptr, mid_lse_ptr, out_ptr,
    stride_mo_t, stride_mo_h, stride_mo_s,
    stride_ml_t, stride_ml_h,
    stride_ot, stride_oh,
    HEAD_DIM: tl.constexpr, NUM_SPLITS: tl.constexpr, BLOCK_D: tl.constexpr,
):
    # One program per (sequence, query head): weights 2^(lse_i - max lse), zeros if every split is empty.
    seq = tl.program_id(0)
    head = tl.program_id(1)
    splits = tl.arange(0, NUM_SPLITS)
    dims = tl.arange(0, BLOCK_D)
    lse = tl.load(mid_lse_ptr + seq * stride_ml_t + head * stride_ml_h + splits)
    lse_max = tl.max(lse, axis=0)
    lse_max = tl.where(lse_max == float("-inf"), 0.0, lse_max)
    w = tl.where(lse == float("-inf"), 0.0, tl.exp2(lse - lse_max))
    o = tl.load(
        mid_o_ptr + seq * stride_mo_t + head * stride_mo_h + splits[:, None] * stride_mo_s + dims[None, :],
        mask=dims[None, :] < HEAD_DIM, other=0.0,
    )
    out = tl.sum(o * w[:, None], axis=0) / tl.maximum(tl.sum(w, axis=0), 1e-30)
    tl.store(out_ptr + seq * stride_ot + head * stride_oh + dims, out.to(out_ptr.dtype.element_ty),
             mask=dims < HEAD_DIM)


def default_num_splits(num_seqs: int, num_kv_heads: int) -> int:
    """Splits for ~1024 programs, a power of two in [1, 64]; from shapes only, so graph-stable.

    On an H100 (bf16, head_dim 128) this kept decode at 2.8 TB/s from 256 x 1k to 8 x 32k contexts,
    and 2.0 TB/s for one 32k sequence."""
    want = triton.cdiv(1024, max(num_seqs * num_kv_heads, 1))
    return min(64, triton.next_power_of_2(want))


def _default_tile(fp8: bool, fp8_new: bool, num_splits: int) -> tuple[int, int, int]:
    """(block_n, num_warps, num_stages). bf16 cache, from gpu/decode_sweep.py on an H200 (qwen3-0.6b and
    llama3-8b heads, docs/bench/h200-2026-12-04-session8/): one split (a full batch) reads 64-token tiles
    with 4 warps and 3 stages at 3.85-3.87 TB/s, 7.5 % faster than 32 / 4 / 2; several splits (smaller
    batches, longer contexts) 32 / 2 / 2, 1-4 % faster. An FP8 cache: 64-token tiles (the same bytes as
    32 of bf16; 32 left the loop latency-bound) and, on the new path, 2 warps, 7-8 % faster than 4 on
    llama3-8b decode shapes (gpu/fp8_attn_bench.py, docs/bench/h200-2026-12-03-session5/)."""
    if fp8:
        return 64, 2 if fp8_new else 4, 2
    return (64, 4, 3) if num_splits == 1 else (32, 2, 2)


def decode_attention(
    q: torch.Tensor,
    kv_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    scale: float,
    num_splits: int | None = None,
    block_n: int | None = None,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
    sliding_window: int | None = None,
    softcap: float | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    f16_math: bool = False,
    fp8_path: str = "new",
    order: torch.Tensor | None = None,
) -> torch.Tensor:
    """q: [S, q_heads, head_dim], one query token per sequence (row s belongs to sequence s).
    sliding_window: attend to the last sliding_window positions only; softcap: Gemma 2's score cap.
    block_n, num_warps, num_stages: by default _default_tile's (measured per cache dtype and split
    count). fp8_path (FP8 cache only):
    "new" (fp16 tiles, V converted in its load layout; fp32 tiles when q is fp32) or "old" (the tiles in
    q's dtype, or in fp16 with f16_math, converted wherever the compiler puts the cast).

    kv_cache: [2, blocks, block_size, kv_heads, head_dim] (q's dtype, or FP8 read as code * k_scale /
    code * v_scale); block_tables: [S, max_blocks]; seq_lens: [S] (0 = padded row, output zeros).
    order: int32 [S], a permutation of the rows (engine.attention_metadata.longest_first): the split
    pass starts the longest contexts first (decode_program); the output is the same.
    Returns [S, q_heads, head_dim] in q's dtype.
    """
    num_seqs, num_q_heads, head_dim = q.shape
    _, _, block_size, num_kv_heads, cache_head_dim = kv_cache.shape
    assert cache_head_dim == head_dim and num_q_heads % num_kv_heads == 0, (q.shape, kv_cache.shape)
    # any block / slot / head strides (a head-major cache is a permuted view); head_dim contiguous
    assert q.stride(2) == 1 and kv_cache.stride(4) == 1 and block_tables.stride(1) == 1
    assert seq_lens.shape == (num_seqs,) and block_tables.shape[0] == num_seqs
    group = num_q_heads // num_kv_heads
    fp8 = kv_cache.element_size() == 1
    variant = FP8_DECODE_VARIANT if FP8_DECODE_VARIANT is not None else ("best" if q.is_cuda else "")
    if fp8 and variant and variant != "ref":
        from engine.kernels.decode_attention_fp8 import decode_attention_variant  # imports this module

        return decode_attention_variant(
            variant, q, kv_cache, block_tables, seq_lens, scale, num_splits=num_splits,
            k_scale=k_scale, v_scale=v_scale, sliding_window=sliding_window, softcap=softcap,
            order=order,
        )
    if num_splits is None:
        num_splits = default_num_splits(num_seqs, num_kv_heads)
    assert fp8_path in ("new", "old"), fp8_path
    new = fp8 and fp8_path == "new"
    tile = _default_tile(fp8, new, num_splits)
    block_n = block_n or tile[0]
    num_warps = num_warps or tile[1]
    num_stages = num_stages or tile[2]
    assert num_splits >= 1 and num_splits & (num_splits - 1) == 0, "num_splits must be a power of 2"
    assert block_n >= 16 and block_n & (block_n - 1) == 0, "block_n must be a power of 2 >= 16 (tl.dot)"
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    if num_seqs == 0:
        return out
    # one split: no partials (the kernel writes `out`; these placeholders are never touched)
    partial = (num_seqs, num_q_heads, num_splits) if num_splits > 1 else (1, 1, 1)
    mid_o = torch.empty((*partial, head_dim), dtype=torch.float32, device=q.device)
    mid_lse = torch.empty(partial, dtype=torch.float32, device=q.device)
    block_d = triton.next_power_of_2(head_dim)
    _decode_split_kernel[decode_grid(order, num_seqs, num_kv_heads, num_splits)](
        q, kv_cache, block_tables, seq_lens, mid_o, mid_lse, out,
        scale * LOG2E * k_scale, float(v_scale),
        q.stride(0), q.stride(1),
        kv_cache.stride(0), kv_cache.stride(1), kv_cache.stride(2), kv_cache.stride(3),
        block_tables.stride(0),
        mid_o.stride(0), mid_o.stride(1), mid_o.stride(2),
        mid_lse.stride(0), mid_lse.stride(1),
        out.stride(0), out.stride(1),
        GROUP=group, HEAD_DIM=head_dim, BLOCK_SIZE=block_size, NUM_SPLITS=num_splits,
        BLOCK_H=max(16, triton.next_power_of_2(group)), BLOCK_D=max(16, block_d), BLOCK_N=block_n,
        DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
        WINDOW=int(sliding_window or 0), SOFTCAP=float(softcap or 0.0),
        F16_MATH=(new and q.dtype != torch.float32) or (fp8 and not new and f16_math),
        FP8_NEW=new, order_ptr=order, ORDERED=order is not None,
        num_warps=num_warps, num_stages=num_stages,
    )
    if num_splits == 1:  # the split kernel wrote `out` (a full 256-sequence batch: 28 launches a step fewer)
        return out
    _decode_reduce_kernel[(num_seqs, num_q_heads)](
        mid_o, mid_lse, out,
        mid_o.stride(0), mid_o.stride(1), mid_o.stride(2),
        mid_lse.stride(0), mid_lse.stride(1),
        out.stride(0), out.stride(1),
        HEAD_DIM=head_dim, NUM_SPLITS=num_splits, BLOCK_D=block_d,
        num_warps=4,
    )
    return out
