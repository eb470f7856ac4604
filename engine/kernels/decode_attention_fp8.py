"""Variants of the split-KV decode kernel for an FP8 (e4m3) KV cache (issue #19), for A/B against
engine.kernels.decode_attention, whose reduction pass they share. sm_90 SASS of each (triton 3.6 and 3.9,
compiled without a GPU): gpu/decode_sass.py's method.

Why the reference FP8 path reads at ~2.2 TB/s: its loop is not pipelined. Triton's pipeliner, for K/V
addresses that hang on a block-table load of the same iteration, issues tile i+1's cp.async after tile
i's maths and waits for all of it (DEPBAR.LE SB0, 0) at the top of the next iteration, at any num_stages;
a program never has loads in flight while it computes, so throughput is programs per SM x 16 KB per
(latency + maths), and the FP8 path (fp8 -> fp16 conversions, 180+ registers) fits 5 programs per SM.

Compile-time options:
- CARRY_IDS (with PAGE_GATHER, num_stages >= 3): the tile's block ids are a loop-carried value loaded an
  iteration earlier, so the K/V loads depend on no load of their own iteration and Triton pipelines them:
  DEPBAR.LE SB0, 2 at num_stages 3 (one tile in flight during the maths), 4 at num_stages 4.
- plain kernel: q, K and V in fp16 on mma.sync (the FP8_FALLBACK variant, for heads too narrow for FP8
  MMAs).
- transposed kernel: S^T = K q^T and O^T += V^T P^T, so the MMAs' M is the tile's tokens / head_dim (>= 64)
  and Triton emits warpgroup MMAs: FP8 (QGMMA) for QK straight from shared memory (no K conversion), fp16
  for PV with V converted in registers. q is quantized to e4m3 per row (scale max |q_row| / 448, folded into
  the softmax scale): scores off by ~2-4 % of |q||k|/sqrt(d), as in FA3's FP8. ~96-120 registers.
- Q_SPLIT (transposed kernel): q ~ q_hi s_hi + q_lo s_lo, two e4m3 parts with per-row scales (q_lo: the
  residual of q_hi, scale max |residual_row| / 448), both made once before the loop; the scores are two FP8
  MMAs over the same raw K tile, K q_hi^T accumulated onto K q_lo^T (s_lo / s_hi): q off by ~2^-8 of itself
  instead of 2^-4, near the 16-bit q's accuracy. sm_90 SASS (t2_ci_s3 vs t_ci_s3): 8 QGMMAs a tile instead
  of 4, in two chains with a wait between them (the scaled accumulator), 118 registers instead of 98, +2 KB
  of shared memory (q_lo).
- PAGE_GATHER: one block-table load per page of the tile, broadcast over its tokens, and tiles aligned to
  pages. (The offsets need tl.multiple_of after the reshape: without it triton 3.6 loses their alignment
  and loads K/V a byte at a time.)

Options measured slower and removed in session 10 (figures in docs/bench/h200-2026-12-0*-session*/): q in
e4m3 on the plain kernel (sm_90 lowers an M = 16 FP8 dot to mma.sync on fp16-converted operands), p in
e4m3 with the raw V codes (the compiler transposes V's bytes), a register prefetch of the next tile, and
an L2 prefetch of tiles ahead.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.kernels.decode_attention import (
    LOG2E,
    _decode_reduce_kernel,
    decode_grid,
    decode_program,
    default_num_splits,
    softcap_log2,
    tile_to,
)


@triton.jit
def _page_ids(block_tables_ptr, seq, stride_bt, tile, end, BLOCK_SIZE: tl.constexpr, BLOCK_N: tl.constexpr):
    """The physical blocks of a page-aligned tile's BLOCK_N // BLOCK_SIZE pages (0 past end)."""
    page = tile // BLOCK_SIZE + tl.arange(0, BLOCK_N // BLOCK_SIZE)
    return tl.load(block_tables_ptr + seq * stride_bt + page, mask=page * BLOCK_SIZE < end, other=0)


@triton.jit
def _page_offsets(ids, stride_cb, stride_cs, BLOCK_SIZE: tl.constexpr, BLOCK_N: tl.constexpr):
    """Element offsets ([BLOCK_N], int64) of the tokens of the pages `ids`."""
    tok = (ids.to(tl.int64) * stride_cb)[:, None] + (tl.arange(0, BLOCK_SIZE) * stride_cs)[None, :]
    return tl.multiple_of(tl.reshape(tok, [BLOCK_N]), 16)


@triton.jit
def _tile_offsets(
    block_tables_ptr,
    seq,
    stride_bt,
    stride_cb,
    stride_cs,
    tile,
    end,
    BLOCK_SIZE: tl.constexpr,
    BLOCK_N: tl.constexpr,
    PAGE_GATHER: tl.constexpr,
):
    """Element offsets of the tile's tokens in the cache ([BLOCK_N], int64) and their mask."""
    pos = tile + tl.arange(0, BLOCK_N)
    pos_mask = pos < end
    if PAGE_GATHER and BLOCK_N >= BLOCK_SIZE:  # tile aligned to pages: BLOCK_N // BLOCK_SIZE whole pages
        ids = _page_ids(block_tables_ptr, seq, stride_bt, tile, end, BLOCK_SIZE, BLOCK_N)
        tok = _page_offsets(ids, stride_cb, stride_cs, BLOCK_SIZE, BLOCK_N)
    elif PAGE_GATHER:  # the tile lies in one page
        block = tl.load(block_tables_ptr + seq * stride_bt + tile // BLOCK_SIZE)
        tok = block.to(tl.int64) * stride_cb + (pos % BLOCK_SIZE) * stride_cs
    else:
        block = tl.load(block_tables_ptr + seq * stride_bt + pos // BLOCK_SIZE, mask=pos_mask, other=0)
        tok = block.to(tl.int64) * stride_cb + (pos % BLOCK_SIZE) * stride_cs
    return tok, pos_mask


@triton.jit
def _tile_kv(
    k_base, v_base, block_tables_ptr, seq, stride_bt, stride_cb, stride_cs, dims, dim_mask, tile, end, ids,
    BLOCK_SIZE: tl.constexpr, BLOCK_N: tl.constexpr, PAGE_GATHER: tl.constexpr, CARRY_IDS: tl.constexpr,
):
    """One tile's K and V codes [BLOCK_N, BLOCK_D] and its token mask; with CARRY_IDS, `ids` are this
    tile's page ids (loaded an iteration ago) and the next tile's come back, otherwise `ids` passes
    through."""
    if CARRY_IDS:  # no load of this iteration feeds the K/V addresses, so Triton pipelines them
        pos_mask = tile + tl.arange(0, BLOCK_N) < end
        tok = _page_offsets(ids, stride_cb, stride_cs, BLOCK_SIZE, BLOCK_N)
        kv_mask = pos_mask[:, None] & dim_mask[None, :]
        k = tl.load(k_base + tok[:, None] + dims[None, :], mask=kv_mask, other=0.0)
        v = tl.load(v_base + tok[:, None] + dims[None, :], mask=kv_mask, other=0.0)
        ids = _page_ids(block_tables_ptr, seq, stride_bt, tile + BLOCK_N, end, BLOCK_SIZE, BLOCK_N)
    else:
        tok, pos_mask = _tile_offsets(
            block_tables_ptr, seq, stride_bt, stride_cb, stride_cs, tile, end, BLOCK_SIZE, BLOCK_N,
            PAGE_GATHER,
        )
        kv_mask = pos_mask[:, None] & dim_mask[None, :]
        k = tl.load(k_base + tok[:, None] + dims[None, :], mask=kv_mask, other=0.0)
        v = tl.load(v_base + tok[:, None] + dims[None, :], mask=kv_mask, other=0.0)
    return k, v, pos_mask, ids


@triton.jit
def _first_ids(block_tables_ptr, seq, stride_bt, start, end, BLOCK_SIZE: tl.constexpr, BLOCK_N: tl.constexpr,
               CARRY_IDS: tl.constexpr):
    """The first tile's page ids with CARRY_IDS (else a placeholder the loop carries untouched)."""
    if CARRY_IDS:
        ids = _page_ids(block_tables_ptr, seq, stride_bt, start, end, BLOCK_SIZE, BLOCK_N)
    else:
        ids = tl.zeros([1], dtype=tl.int32)
    return ids


@triton.jit
def _decode_split_fp8_kernel(
    q_ptr,
    cache_ptr,
    block_tables_ptr,
    seq_lens_ptr,
    mid_o_ptr,
    mid_lse_ptr,
    sm_scale_log2,
    v_scale,
    stride_qt,
    stride_qh,
    stride_ckv,
    stride_cb,
    stride_cs,
    stride_ch,
    stride_bt,
    stride_mo_t,
    stride_mo_h,
    stride_mo_s,
    stride_ml_t,
    stride_ml_h,
    GROUP: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    NUM_SPLITS: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_N: tl.constexpr,
    WINDOW: tl.constexpr = 0,
    SOFTCAP: tl.constexpr = 0.0,
    PAGE_GATHER: tl.constexpr = False,
    CARRY_IDS: tl.constexpr = False,
    order_ptr=None,
    ORDERED: tl.constexpr = False,
):
    """q, K and V in fp16 (mma.sync), the reference kernel's maths over an FP8 cache."""
    seq, kv_head, split = decode_program(order_ptr, ORDERED)

    rows = tl.arange(0, BLOCK_H)
    dims = tl.arange(0, BLOCK_D)
    row_mask = rows < GROUP
    dim_mask = dims < HEAD_DIM
    heads = kv_head * GROUP + rows

    seq_len = tl.load(seq_lens_ptr + seq)
    lo = 0
    if WINDOW > 0:
        lo = tl.maximum(seq_len - WINDOW, 0)
    first = lo
    if PAGE_GATHER:  # tiles start on page boundaries; positions before lo are masked below
        first = (lo // BLOCK_SIZE) * BLOCK_SIZE
    split_len = tl.cdiv(tl.cdiv(seq_len - first, NUM_SPLITS), BLOCK_N) * BLOCK_N
    start = first + split * split_len
    end = tl.minimum(start + split_len, seq_len)

    q = tl.load(
        q_ptr + seq * stride_qt + heads[:, None] * stride_qh + dims[None, :],
        mask=row_mask[:, None] & dim_mask[None, :],
        other=0.0,
    ).to(tl.float32)
    q = tl.clamp(q, -65504.0, 65504.0).to(tl.float16)
    m_i = tl.full([BLOCK_H], -1.0e30, dtype=tl.float32)
    l_i = tl.zeros([BLOCK_H], dtype=tl.float32)
    acc = tl.zeros([BLOCK_H, BLOCK_D], dtype=tl.float32)

    k_base = cache_ptr + kv_head * stride_ch
    v_base = k_base + stride_ckv
    offs_n = tl.arange(0, BLOCK_N)
    ids = _first_ids(block_tables_ptr, seq, stride_bt, start, end, BLOCK_SIZE, BLOCK_N, CARRY_IDS)
    for tile in range(start, end, BLOCK_N):
        k, v, pos_mask, ids = _tile_kv(
            k_base, v_base, block_tables_ptr, seq, stride_bt, stride_cb, stride_cs, dims, dim_mask, tile, end,
            ids, BLOCK_SIZE, BLOCK_N, PAGE_GATHER, CARRY_IDS,
        )
        if WINDOW > 0 and PAGE_GATHER:
            pos_mask &= tile + offs_n >= lo
        s = tl.dot(q, tl.trans(k.to(tl.float16))) * sm_scale_log2
        if SOFTCAP > 0:
            s = softcap_log2(s, SOFTCAP)
        s = tl.where(pos_mask[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        pv = tl.dot(p.to(tl.float16), tile_to(v, tl.float16, BLOCK_N, BLOCK_D))
        acc = acc * alpha[:, None] + pv
        m_i = m_new

    lse = tl.where(l_i > 0, m_i + tl.log2(tl.maximum(l_i, 1e-30)), float("-inf"))
    out = acc * (v_scale / tl.maximum(l_i, 1e-30))[:, None]
    tl.store(
        mid_o_ptr + seq * stride_mo_t + heads[:, None] * stride_mo_h + split * stride_mo_s + dims[None, :],
        out.to(mid_o_ptr.dtype.element_ty),  # fp32 partials, or q's dtype with one split (no merge)
        mask=row_mask[:, None] & dim_mask[None, :],
    )
    tl.store(mid_lse_ptr + seq * stride_ml_t + heads * stride_ml_h + split, lse, mask=row_mask)


@triton.jit
def _decode_split_fp8_t_kernel(
    q_ptr,
    cache_ptr,
    block_tables_ptr,
    seq_lens_ptr,
    mid_o_ptr,
    mid_lse_ptr,
    sm_scale_log2,
    v_scale,
    stride_qt,
    stride_qh,
    stride_ckv,
    stride_cb,
    stride_cs,
    stride_ch,
    stride_bt,
    stride_mo_t,
    stride_mo_h,
    stride_mo_s,
    stride_ml_t,
    stride_ml_h,
    GROUP: tl.constexpr,
    HEAD_DIM: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    NUM_SPLITS: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_N: tl.constexpr,
    WINDOW: tl.constexpr = 0,
    SOFTCAP: tl.constexpr = 0.0,
    PAGE_GATHER: tl.constexpr = True,
    CARRY_IDS: tl.constexpr = False,
    Q_SPLIT: tl.constexpr = False,
    order_ptr=None,
    ORDERED: tl.constexpr = False,
):
    """Transposed: S^T = K q^T [BLOCK_N, BLOCK_H] and O^T += V^T P^T [BLOCK_D, BLOCK_H], so the MMAs' M
    is the tile's tokens / head_dim (>= 64: warpgroup MMAs on sm_90, FP8 for QK) and no row is padding.
    Q_SPLIT: q as two e4m3 parts (q_hi, q_lo) and two QK MMAs per tile."""
    seq, kv_head, split = decode_program(order_ptr, ORDERED)

    rows = tl.arange(0, BLOCK_H)
    dims = tl.arange(0, BLOCK_D)
    row_mask = rows < GROUP
    dim_mask = dims < HEAD_DIM
    heads = kv_head * GROUP + rows

    seq_len = tl.load(seq_lens_ptr + seq)
    lo = 0
    if WINDOW > 0:
        lo = tl.maximum(seq_len - WINDOW, 0)
    first = lo
    if PAGE_GATHER:
        first = (lo // BLOCK_SIZE) * BLOCK_SIZE
    split_len = tl.cdiv(tl.cdiv(seq_len - first, NUM_SPLITS), BLOCK_N) * BLOCK_N
    start = first + split * split_len
    end = tl.minimum(start + split_len, seq_len)

    q = tl.load(
        q_ptr + seq * stride_qt + heads[:, None] * stride_qh + dims[None, :],
        mask=row_mask[:, None] & dim_mask[None, :],
        other=0.0,
    ).to(tl.float32)
    q_scale = tl.maximum(tl.max(tl.abs(q), axis=1), 1e-30) / 448.0
    q_hi = (q / q_scale[:, None]).to(tl.float8e4nv)
    q_t = tl.trans(q_hi)  # [BLOCK_D, BLOCK_H]
    s_scale = q_scale * sm_scale_log2
    if Q_SPLIT:  # q_lo: e4m3 of q_hi's residual at its own per-row scale (a zero residual stays zero)
        res = q - q_hi.to(tl.float32) * q_scale[:, None]
        lo_scale = tl.maximum(tl.max(tl.abs(res), axis=1), 1e-30) / 448.0
        q_lo_t = tl.trans((res / lo_scale[:, None]).to(tl.float8e4nv))
        lo_ratio = lo_scale / q_scale  # K q_lo^T in units of K q_hi^T
    m_i = tl.full([BLOCK_H], -1.0e30, dtype=tl.float32)
    l_i = tl.zeros([BLOCK_H], dtype=tl.float32)
    acc = tl.zeros([BLOCK_D, BLOCK_H], dtype=tl.float32)

    k_base = cache_ptr + kv_head * stride_ch
    v_base = k_base + stride_ckv
    offs_n = tl.arange(0, BLOCK_N)
    ids = _first_ids(block_tables_ptr, seq, stride_bt, start, end, BLOCK_SIZE, BLOCK_N, CARRY_IDS)
    for tile in range(start, end, BLOCK_N):
        k, v, pos_mask, ids = _tile_kv(
            k_base, v_base, block_tables_ptr, seq, stride_bt, stride_cb, stride_cs, dims, dim_mask, tile, end,
            ids, BLOCK_SIZE, BLOCK_N, PAGE_GATHER, CARRY_IDS,
        )
        if WINDOW > 0 and PAGE_GATHER:
            pos_mask &= tile + offs_n >= lo
        if Q_SPLIT:  # K q_hi^T accumulated onto the scaled K q_lo^T, then one scale
            s = tl.dot(k, q_t, tl.dot(k, q_lo_t) * lo_ratio[None, :]) * s_scale[None, :]
        else:
            s = tl.dot(k, q_t) * s_scale[None, :]  # [BLOCK_N, BLOCK_H]
        if SOFTCAP > 0:
            s = softcap_log2(s, SOFTCAP)
        s = tl.where(pos_mask[:, None], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=0))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(s - m_new[None, :])
        l_i = l_i * alpha + tl.sum(p, axis=0)
        pv = tl.dot(tl.trans(tile_to(v, tl.float16, BLOCK_N, BLOCK_D)), p.to(tl.float16))
        acc = acc * alpha[None, :] + pv
        m_i = m_new

    lse = tl.where(l_i > 0, m_i + tl.log2(tl.maximum(l_i, 1e-30)), float("-inf"))
    out = acc * (v_scale / tl.maximum(l_i, 1e-30))[None, :]
    tl.store(
        mid_o_ptr + seq * stride_mo_t + heads[None, :] * stride_mo_h + split * stride_mo_s + dims[:, None],
        out.to(mid_o_ptr.dtype.element_ty),  # fp32 partials, or q's dtype with one split (no merge)
        mask=row_mask[None, :] & dim_mask[:, None],
    )
    tl.store(mid_lse_ptr + seq * stride_ml_t + heads * stride_ml_h + split, lse, mask=row_mask)


def decode_attention_fp8(
    q: torch.Tensor,
    kv_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    scale: float,
    num_splits: int | None = None,
    block_n: int = 64,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
    sliding_window: int | None = None,
    softcap: float | None = None,
    num_warps: int = 4,
    num_stages: int = 2,
    page_gather: bool = True,
    transposed: bool = False,
    splits_x: int = 1,
    carry_ids: bool = False,
    q_split: bool = False,
    maxnreg: int | None = None,
    order: torch.Tensor | None = None,
) -> torch.Tensor:
    """decode_attention's contract for an FP8 cache (q in bf16/fp16/fp32; output in q's dtype), with the
    variant switches of this module's docstring; transposed: the S^T / O^T kernel (q in FP8; otherwise the
    plain kernel, q in fp16); q_split (transposed only): q as two e4m3 parts; splits_x: the default
    num_splits times this;
    maxnreg: a register cap per thread (ptxas), for more programs per SM; order: decode_attention's.
    Returns [S, q_heads, head_dim]."""
    assert transposed or not q_split, "q_split is an option of the transposed kernel"
    num_seqs, num_q_heads, head_dim = q.shape
    _, _, block_size, num_kv_heads, cache_head_dim = kv_cache.shape
    assert kv_cache.element_size() == 1, "FP8 cache only"
    assert cache_head_dim == head_dim and num_q_heads % num_kv_heads == 0, (q.shape, kv_cache.shape)
    assert q.stride(2) == 1 and kv_cache.stride(4) == 1 and block_tables.stride(1) == 1  # any other strides
    assert seq_lens.shape == (num_seqs,) and block_tables.shape[0] == num_seqs
    group = num_q_heads // num_kv_heads
    if num_splits is None:
        num_splits = default_num_splits(num_seqs, num_kv_heads) * splits_x
    assert num_splits >= 1 and num_splits & (num_splits - 1) == 0, "num_splits must be a power of 2"
    # FP8 MMA: k = 32 per instruction, so the reduction axes (head_dim for QK, tokens for PV) >= 32
    assert block_n >= 16 and block_n & (block_n - 1) == 0
    if page_gather and block_n >= block_size:
        assert block_n % block_size == 0 and block_size & (block_size - 1) == 0
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    if num_seqs == 0:
        return out
    mid_lse = torch.empty((num_seqs, num_q_heads, num_splits), dtype=torch.float32, device=q.device)
    if num_splits == 1:  # the split is the whole context: its normalized output is the answer, no merge pass
        mid_o, mo_strides = out, (out.stride(0), out.stride(1), 0)
    else:
        mid_o = out.new_empty((num_seqs, num_q_heads, num_splits, head_dim), dtype=torch.float32)
        mo_strides = mid_o.stride()[:3]
    block_d = max(16, triton.next_power_of_2(head_dim))
    kernel = _decode_split_fp8_t_kernel if transposed else _decode_split_fp8_kernel
    if carry_ids:
        assert page_gather and block_n >= block_size, "carry_ids needs page_gather and block_n >= block_size"
    flags: dict[str, bool] = dict(PAGE_GATHER=page_gather, CARRY_IDS=carry_ids)
    if transposed:
        flags["Q_SPLIT"] = q_split
    kernel[decode_grid(order, num_seqs, num_kv_heads, num_splits)](
        q,
        kv_cache,
        block_tables,
        seq_lens,
        mid_o,
        mid_lse,
        scale * LOG2E * k_scale,
        float(v_scale),
        q.stride(0),
        q.stride(1),
        kv_cache.stride(0),
        kv_cache.stride(1),
        kv_cache.stride(2),
        kv_cache.stride(3),
        block_tables.stride(0),
        *mo_strides,
        mid_lse.stride(0),
        mid_lse.stride(1),
        GROUP=group,
        HEAD_DIM=head_dim,
        BLOCK_SIZE=block_size,
        NUM_SPLITS=num_splits,
        BLOCK_H=max(16, triton.next_power_of_2(group)),
        BLOCK_D=block_d,
        BLOCK_N=block_n,
        WINDOW=int(sliding_window or 0),
        SOFTCAP=float(softcap or 0.0),
        **flags,
        order_ptr=order,
        ORDERED=order is not None,
        num_warps=num_warps,
        num_stages=num_stages,
        **({"maxnreg": maxnreg} if maxnreg else {}),
    )
    if num_splits == 1:
        return out
    _decode_reduce_kernel[(num_seqs, num_q_heads)](
        mid_o,
        mid_lse,
        out,
        mid_o.stride(0),
        mid_o.stride(1),
        mid_o.stride(2),
        mid_lse.stride(0),
        mid_lse.stride(1),
        out.stride(0),
        out.stride(1),
        HEAD_DIM=head_dim,
        NUM_SPLITS=num_splits,
        BLOCK_D=triton.next_power_of_2(head_dim),
        num_warps=4,
    )
    return out


# Named settings (gpu/fp8_attn_variants.py times them all); any name can be TEECUBE_FP8_DECODE_VARIANT
# (engine.kernels.decode_attention). "best": the default. Default block_n 64 (16 KB of K + V per tile),
# 4 warps, num_stages 2. k16: the plain kernel (q, K, V in fp16); t: transposed (q in e4m3, FP8 QK MMA);
# t2: t with q split in two e4m3 parts (near k16's accuracy, a second FP8 MMA per tile); ci: carry_ids (a
# real pipeline from num_stages 3); w/n/s: warps, tokens per tile, stages; x2: twice the splits.
# H200 at b128 x 1k (docs/bench/h200-2026-12-04-session9/, session10/), ms: t2 0.096, t 0.091 (rel. RMS
# error 0.026 against t2's 0.0018), t2_ci_s3 0.102, t2_n128 0.109, t2_x2 0.105, t2_w8 0.173, t2_s1 0.099,
# t2_s1_r96 0.115, k16_ci_s3 0.111, bf16 reference kernel over twice the bytes 0.126.
NAMED_VARIANTS: dict[str, dict[str, object]] = {
    "t2": dict(transposed=True, q_split=True),  # Triton's own pipelining
    "t2_ci_s3": dict(transposed=True, q_split=True, carry_ids=True, num_stages=3),
    "t2_n128": dict(transposed=True, q_split=True, block_n=128),
    "t2_x2": dict(transposed=True, q_split=True, splits_x=2),
    "t2_w8": dict(transposed=True, q_split=True, num_warps=8),
    # session 10: t2's loop never overlaps a tile's loads with its maths (DEPBAR.LE SB0, 0 at num_stages 2),
    # so its second stage only costs shared memory, which caps programs at 4 per SM; one stage (22 KB) and
    # a 96-register cap let 5 fit. Both measured slower on an H200 (b256 x 1k: t2 0.188 ms, t2_s1 0.195,
    # t2_s1_r96 0.210; end to end 13,140 vs 13,240 tok/s): programs per SM are not what bounds t2.
    "t2_s1": dict(transposed=True, q_split=True, num_stages=1),
    "t2_s1_r96": dict(transposed=True, q_split=True, num_stages=1, maxnreg=96),
    "t": dict(transposed=True),
    "t_ci_s3": dict(transposed=True, carry_ids=True, num_stages=3),
    "k16_ci_s3": dict(num_warps=2, carry_ids=True, num_stages=3),
    "k16_ci_n32_s4": dict(num_warps=2, carry_ids=True, num_stages=4, block_n=32),
    "k16_pg": dict(num_warps=2),  # block ids per page alone
}
# q as two e4m3 parts on FP8 tensor cores: the reference's accuracy (rel. RMS 0.0018 vs its 0.0017; q in one
# e4m3 part: 0.026) and faster. H200, llama3-8b heads (docs/bench/h200-2026-12-04-session9/): 0.096 / 0.099 /
# 0.190 ms at b128 x 1k / b256 x 512 / b64 x 4k against k16_ci_s3's 0.112 / 0.115 / 0.205 (1.08-1.16x).
NAMED_VARIANTS["best"] = NAMED_VARIANTS["t2"]


FP8_DOT_MIN_K = 32  # an FP8 tl.dot's reduction axis (head_dim for QK) on sm_90
FP8_FALLBACK = "k16_ci_s3"  # q in 16 bits: any head_dim


def variant_for(name: str, head_dim: int) -> dict[str, object]:
    """NAMED_VARIANTS[name]'s settings, or FP8_FALLBACK's where the variant runs QK on FP8 MMAs
    (transposed) and the padded head_dim is under FP8_DOT_MIN_K (tiny test models)."""
    if name not in NAMED_VARIANTS:
        raise ValueError(f"unknown FP8 decode variant {name!r}; one of {sorted(NAMED_VARIANTS)}")
    kw = dict(NAMED_VARIANTS[name])
    if kw.get("transposed") and max(16, triton.next_power_of_2(head_dim)) < FP8_DOT_MIN_K:
        kw = dict(NAMED_VARIANTS[FP8_FALLBACK])
    return kw


def decode_attention_variant(
    name: str,
    q: torch.Tensor,
    kv_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    scale: float,
    num_splits: int | None = None,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
    sliding_window: int | None = None,
    softcap: float | None = None,
    order: torch.Tensor | None = None,
) -> torch.Tensor:
    """decode_attention_fp8 with NAMED_VARIANTS[name]. Pages longer than the variant's tile: the tile
    grows to a page up to 128 tokens; past that, one page per tile, block ids not carried. Heads too
    narrow for an FP8 QK dot (variant_for) take the 16-bit-q variant FP8_FALLBACK."""
    kw = variant_for(name, q.shape[-1])
    block_size = kv_cache.shape[2]
    block_n = int(kw.pop("block_n", 64))
    if block_size > block_n:
        if block_size <= 128:
            block_n = block_size
        else:
            kw["carry_ids"] = False
    return decode_attention_fp8(
        q,
        kv_cache,
        block_tables,
        seq_lens,
        scale,
        num_splits=num_splits,
        block_n=block_n,
        k_scale=k_scale,
        v_scale=v_scale,
        sliding_window=sliding_window,
        softcap=softcap,
        order=order,
        **kw,
    )
