"""Paged extend attention: any query lengths (prefill, chunked prefill, prefix hits, decode rows).

Every query token attends, causally by position, to the paged cache, which already holds the new K/V
(the attention layer stores them first). Query token j of sequence s sits at position
seq_len - query_len + j and sees KV positions <= its own.

Tiling: a program owns BLOCK_Q consecutive query tokens of one sequence times all GROUP query heads
of one KV head, packed as BLOCK_M = BLOCK_Q * GROUP_PAD rows (row r: token r // GROUP_PAD, head
r % GROUP_PAD), so each KV tile is loaded once per group. It walks the KV positions up to its last
token's position in BLOCK_N-token tiles (physical block per token from the block table) with an
online softmax in base 2.

Grid (vLLM's static bound): (num_tokens // BLOCK_Q + num_seqs, num_kv_heads). Sequence s owns the
programs from query_start_loc[s] // BLOCK_Q + s on, which is enough for cdiv(query_len, BLOCK_Q) of
them; each program finds its sequence by binary search and spare ones exit. The grid needs no host
sync and no max_query_len, so it is CUDA-graph safe.

Sliding window (WINDOW > 0): a row at position i sees positions i - WINDOW < j <= i; tiles before the
first row's window are skipped and only tiles every row sees in full go unmasked. Soft-capping
(SOFTCAP > 0): scores become SOFTCAP * tanh(s / SOFTCAP). Both are compile-time.

FP8 cache: K/V tiles are converted to q's dtype after the load; k_scale is folded into the softmax
scale and v_scale into the output.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from engine.kernels.decode_attention import softcap_log2

LOG2E = 1.4426950408889634


@triton.jit
def _attend_tile(
    q, m_i, l_i, acc, k_base, v_base, table_ptr, tile, kv_end, q_pos,
    sm_scale_log2, stride_cb, stride_cs, dims, dim_mask,
    BLOCK_SIZE: tl.constexpr, BLOCK_N: tl.constexpr, DOT_PRECISION: tl.constexpr, MASKED: tl.constexpr,
    EVEN_D: tl.constexpr, WINDOW: tl.constexpr, SOFTCAP: tl.constexpr,
):
    # One BLOCK_N-token KV tile: gather each token's physical slot, then an online-softmax update.
    pos = tile + tl.arange(0, BLOCK_N)
    if MASKED:
        pos_mask = pos < kv_end
        block = tl.load(table_ptr + pos // BLOCK_SIZE, mask=pos_mask, other=0)
    else:
        block = tl.load(table_ptr + pos // BLOCK_SIZE)
    slot = block.to(tl.int64) * stride_cb + (pos % BLOCK_SIZE) * stride_cs
    if MASKED:
        kv_mask = pos_mask[:, None] & dim_mask[None, :]
        k = tl.load(k_base + slot[:, None] + dims[None, :], mask=kv_mask, other=0.0)
        v = tl.load(v_base + slot[:, None] + dims[None, :], mask=kv_mask, other=0.0)
    elif EVEN_D:
        k = tl.load(k_base + slot[:, None] + dims[None, :])
        v = tl.load(v_base + slot[:, None] + dims[None, :])
    else:
        k = tl.load(k_base + slot[:, None] + dims[None, :], mask=dim_mask[None, :], other=0.0)
        v = tl.load(v_base + slot[:, None] + dims[None, :], mask=dim_mask[None, :], other=0.0)
    k = k.to(q.dtype)  # no-op unless the cache is FP8
    v = v.to(q.dtype)
    s = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION) * sm_scale_log2  # [BLOCK_M, BLOCK_N]
    if SOFTCAP > 0:
        s = softcap_log2(s, SOFTCAP)
    if MASKED:
        visible = (pos[None, :] <= q_pos[:, None]) & pos_mask[None, :]
        if WINDOW > 0:
            visible = visible & (pos[None, :] > q_pos[:, None] - WINDOW)
        s = tl.where(visible, s, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(s, axis=1))
    alpha = tl.exp2(m_i - m_new)
    p = tl.exp2(s - m_new[:, None])
    l_i = l_i * alpha + tl.sum(p, axis=1)
    acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
    return m_new, l_i, acc


@triton.jit
def _extend_kernel(
    q_ptr, cache_ptr, block_tables_ptr, seq_lens_ptr, query_start_loc_ptr, out_ptr,
    sm_scale_log2, v_scale, num_seqs,
    stride_qt, stride_qh, stride_ot, stride_oh,
    stride_ckv, stride_cb, stride_cs, stride_ch,
    stride_bt,
    GROUP: tl.constexpr, GROUP_PAD: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_SIZE: tl.constexpr,
    BLOCK_Q: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
    DOT_PRECISION: tl.constexpr, WINDOW: tl.constexpr = 0, SOFTCAP: tl.constexpr = 0.0,
):
    pid = tl.program_id(0)
    kv_head = tl.program_id(1)

    # Largest seq with query_start_loc[seq] // BLOCK_Q + seq <= pid.
    lo = 0
    hi = num_seqs
    while lo < hi:
        mid = (lo + hi) // 2
        if tl.load(query_start_loc_ptr + mid) // BLOCK_Q + mid <= pid:
            lo = mid + 1
        else:
            hi = mid
    seq = tl.maximum(lo - 1, 0)

    q_start = tl.load(query_start_loc_ptr + seq)
    query_len = tl.load(query_start_loc_ptr + seq + 1) - q_start
    q_off = (pid - (q_start // BLOCK_Q + seq)) * BLOCK_Q
    if (q_off < 0) | (q_off >= query_len):
        return
    seq_len = tl.load(seq_lens_ptr + seq)
    context_len = seq_len - query_len

    rows = tl.arange(0, BLOCK_M)
    qi = q_off + rows // GROUP_PAD
    heads = kv_head * GROUP + rows % GROUP_PAD
    row_mask = (qi < query_len) & (rows % GROUP_PAD < GROUP)
    q_pos = context_len + qi
    dims = tl.arange(0, BLOCK_D)
    dim_mask = dims < HEAD_DIM
    io_mask = row_mask[:, None] & dim_mask[None, :]

    tok = (q_start + qi).to(tl.int64)
    q = tl.load(q_ptr + tok[:, None] * stride_qt + heads[:, None] * stride_qh + dims[None, :],
                mask=io_mask, other=0.0)
    m_i = tl.full([BLOCK_M], -1.0e30, dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)

    k_base = cache_ptr + kv_head * stride_ch
    v_base = k_base + stride_ckv
    # Positions < context_len + q_off are visible to every row: those whole tiles need no mask.
    # The rest, up to one past this block's last position, get the causal and length masks.
    # A sliding window also masks the tiles that start before the last row's window, and skips those
    # wholly before the first row's: [start, full_start) masked, [full_start, full_end) unmasked.
    first_pos = context_len + q_off
    full_end = first_pos // BLOCK_N * BLOCK_N
    kv_end = tl.minimum(first_pos + BLOCK_Q, seq_len)
    start = 0
    full_start = 0
    if WINDOW > 0:
        start = tl.maximum(first_pos - WINDOW + 1, 0) // BLOCK_N * BLOCK_N
        full_start = tl.minimum(tl.cdiv(tl.maximum(kv_end - WINDOW, 0), BLOCK_N) * BLOCK_N, full_end)
    table_ptr = block_tables_ptr + seq * stride_bt
    for tile in range(start, full_start, BLOCK_N):
        m_i, l_i, acc = _attend_tile(
            q, m_i, l_i, acc, k_base, v_base, table_ptr, tile, kv_end, q_pos,
            sm_scale_log2, stride_cb, stride_cs, dims, dim_mask,
            BLOCK_SIZE, BLOCK_N, DOT_PRECISION, True, BLOCK_D == HEAD_DIM, WINDOW, SOFTCAP,
        )
    for tile in range(full_start, full_end, BLOCK_N):
        m_i, l_i, acc = _attend_tile(
            q, m_i, l_i, acc, k_base, v_base, table_ptr, tile, kv_end, q_pos,
            sm_scale_log2, stride_cb, stride_cs, dims, dim_mask,
            BLOCK_SIZE, BLOCK_N, DOT_PRECISION, False, BLOCK_D == HEAD_DIM, WINDOW, SOFTCAP,
        )
    for tile in range(full_end, kv_end, BLOCK_N):
        m_i, l_i, acc = _attend_tile(
            q, m_i, l_i, acc, k_base, v_base, table_ptr, tile, kv_end, q_pos,
            sm_scale_log2, stride_cb, stride_cs, dims, dim_mask,
            BLOCK_SIZE, BLOCK_N, DOT_PRECISION, True, BLOCK_D == HEAD_DIM, WINDOW, SOFTCAP,
        )

    out = acc * (v_scale / tl.maximum(l_i, 1e-30))[:, None]
    tl.store(out_ptr + tok[:, None] * stride_ot + heads[:, None] * stride_oh + dims[None, :],
             out.to(out_ptr.dtype.element_ty), mask=io_mask)


def extend_attention(
    q: torch.Tensor,
    kv_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    query_start_loc: torch.Tensor,
    scale: float,
    block_m: int = 64,
    block_n: int = 64,
    num_warps: int = 4,
    num_stages: int = 2,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
    sliding_window: int | None = None,
    softcap: float | None = None,
) -> torch.Tensor:
    """q: [T, q_heads, head_dim] (sequences packed by query_start_loc [S+1]); the cache already holds
    the new K/V (q's dtype, or FP8 read as code * k_scale / code * v_scale). Returns [T, q_heads,
    head_dim]; tokens outside query_start_loc's range get zeros. sliding_window, softcap: as in
    engine.layers.attention.paged_attention.

    Defaults from an H100 sweep (bf16, head_dim 128, GQA 2-4): 64x64 tiles, 4 warps, 2 stages gave
    220-400 TFLOP/s on 1k-16k causal prefills, 0.55-0.7x of torch's contiguous flash SDPA."""
    num_tokens, num_q_heads, head_dim = q.shape
    _, _, block_size, num_kv_heads, cache_head_dim = kv_cache.shape
    num_seqs = seq_lens.shape[0]
    assert cache_head_dim == head_dim and num_q_heads % num_kv_heads == 0, (q.shape, kv_cache.shape)
    assert q.stride(2) == 1 and kv_cache.stride(4) == 1 and block_tables.stride(1) == 1  # any other strides
    assert query_start_loc.shape == (num_seqs + 1,) and block_tables.shape[0] == num_seqs
    assert block_n >= 16 and block_n & (block_n - 1) == 0, "block_n must be a power of 2 >= 16 (tl.dot)"
    group = num_q_heads // num_kv_heads
    group_pad = triton.next_power_of_2(group)
    block_m = max(block_m, group_pad, 16)
    block_q = block_m // group_pad
    out = torch.zeros(q.shape, dtype=q.dtype, device=q.device)
    if num_tokens == 0 or num_seqs == 0:
        return out
    grid = (num_tokens // block_q + num_seqs, num_kv_heads)
    _extend_kernel[grid](
        q, kv_cache, block_tables, seq_lens, query_start_loc, out,
        scale * LOG2E * k_scale, float(v_scale), num_seqs,
        q.stride(0), q.stride(1), out.stride(0), out.stride(1),
        kv_cache.stride(0), kv_cache.stride(1), kv_cache.stride(2), kv_cache.stride(3),
        block_tables.stride(0),
        GROUP=group, GROUP_PAD=group_pad, HEAD_DIM=head_dim, BLOCK_SIZE=block_size,
        BLOCK_Q=block_q, BLOCK_M=block_m, BLOCK_D=max(16, triton.next_power_of_2(head_dim)), BLOCK_N=block_n,
        DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
        WINDOW=int(sliding_window or 0), SOFTCAP=float(softcap or 0.0),
        num_warps=num_warps, num_stages=num_stages,
    )
    return out
