"""`paged_attention(q, kv_cache, meta, scale)`: the Triton twin of engine.layers.attention.paged_attention.

All queries of length 1 (a decode step, possibly padded for a CUDA graph) go to the split-KV decode
kernel; anything else (prefill, chunked prefill, prefix hits, mixed prefill + decode) goes to the
extend kernel, which handles any query lengths including 1. The choice uses host-side ints only.
"""

from __future__ import annotations

import torch

from engine.attention_metadata import AttentionMetadata
from engine.kernels.decode_attention import decode_attention, default_num_splits
from engine.kernels.prefill_attention import extend_attention

# The most splits per sequence at which starting the longest contexts first (decode_order) was measured
# faster, per cache dtype (gpu/decode_order_bench.py, docs/bench/h200-2026-12-04-session11/): with one
# program per (row, KV head) a batch's long rows otherwise start late and run alone at the end.
ORDER_MAX_SPLITS = {False: 8, True: 4}  # keyed by "the cache is FP8"


def orders_help(num_seqs: int, num_kv_heads: int, fp8: bool) -> bool:
    """Whether a decode batch of this shape launches its longest rows first (from shapes only, so a CUDA
    graph captures one choice per batch size)."""
    return default_num_splits(num_seqs, num_kv_heads) <= ORDER_MAX_SPLITS[fp8]


def paged_attention(
    q: torch.Tensor,
    kv_cache: torch.Tensor,
    meta: AttentionMetadata,
    scale: float,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
    sliding_window: int | None = None,
    softcap: float | None = None,
) -> torch.Tensor:
    """q: [T, q_heads, head_dim], new tokens already stored in kv_cache -> [T, q_heads, head_dim].
    k_scale, v_scale: an FP8 cache's scales (1.0 otherwise); sliding_window, softcap: as in
    engine.layers.attention.paged_attention."""
    extra = dict(k_scale=k_scale, v_scale=v_scale, sliding_window=sliding_window, softcap=softcap)
    if meta.max_query_len <= 1 and q.shape[0] == meta.seq_lens.shape[0]:
        order = meta.decode_order
        if order is not None and not orders_help(q.shape[0], kv_cache.shape[3], kv_cache.element_size() == 1):
            order = None
        return decode_attention(q, kv_cache, meta.block_tables, meta.seq_lens, scale, order=order, **extra)
    return extend_attention(
        q, kv_cache, meta.block_tables, meta.seq_lens, meta.query_start_loc, scale, **extra
    )
