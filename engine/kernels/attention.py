"""`paged_attention(q, kv_cache, meta, scale)`: the Triton twin of engine.layers.attention.paged_attention.

All queries of length 1 (a decode step, possibly padded for a CUDA graph) go to the split-KV decode
kernel; anything else (prefill, chunked prefill, prefix hits, mixed prefill + decode) goes to the
extend kernel, which handles any query lengths including 1. The choice uses host-side ints only.
"""

from __future__ import annotations

import torch

from engine.attention_metadata import AttentionMetadata
from engine.kernels.decode_attention import decode_attention
from engine.kernels.prefill_attention import extend_attention


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
        return decode_attention(q, kv_cache, meta.block_tables, meta.seq_lens, scale, **extra)
    return extend_attention(
        q, kv_cache, meta.block_tables, meta.seq_lens, meta.query_start_loc, scale, **extra
    )
