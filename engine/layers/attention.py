"""Paged attention, reference PyTorch path (also the oracle for engine/kernels).

KV cache per layer: [2, num_blocks, block_size, num_kv_heads, head_dim]. New K/V are written by
`slot_mapping`; queries then attend over each sequence's cached + new tokens through its block table,
causally by position.

FP8 KV cache (`--kv-cache-dtype fp8`): the cache is float8_e4m3fn; K is stored as clamp(k / k_scale) and
read back as code * k_scale (V likewise), with one scale per layer for each.

Sliding window (Gemma, Phi-3): a query at position i sees keys at positions j with i - window < j <= i
(HF's convention). Logit soft-capping (Gemma 2): scores become cap * tanh(scores / cap) before the
softmax. The cache still holds every position; only what is read changes."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.attention_metadata import AttentionMetadata
from engine.layers.cuda_kernels import cuda_kernels
from engine.quantization.fp8 import FP8_DTYPE, to_fp8


def store_kvcache(
    k: torch.Tensor,
    v: torch.Tensor,
    kv_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
) -> None:
    """k, v: [T, num_kv_heads, head_dim]; writes token t to slot slot_mapping[t] unless it is -1.
    An FP8 cache gets k / k_scale and v / v_scale as e4m3 codes (saturated)."""
    keep = slot_mapping >= 0
    slots = slot_mapping[keep]
    num_kv_heads, head_dim = kv_cache.shape[-2:]
    for i, (x, scale) in enumerate(((k, k_scale), (v, v_scale))):
        target = kv_cache[i].view(-1, num_kv_heads, head_dim)
        if kv_cache.dtype == FP8_DTYPE:  # index_copy_ has no FP8 kernel on the CPU: copy the bytes
            target.view(torch.uint8).index_copy_(0, slots, to_fp8(x[keep], scale).view(torch.uint8))
        else:
            target.index_copy_(0, slots, x[keep].to(kv_cache.dtype))


def gather_context(
    kv_cache: torch.Tensor, block_tables: torch.Tensor, context_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `context_len` cached K and V of each sequence: [S, context_len, num_kv_heads, head_dim]."""
    block_size, num_kv_heads, head_dim = kv_cache.shape[-3:]
    offsets = torch.arange(context_len, device=block_tables.device)
    slots = block_tables.long()[:, offsets // block_size] * block_size + offsets % block_size
    k_flat = kv_cache[0].view(-1, num_kv_heads, head_dim)
    v_flat = kv_cache[1].view(-1, num_kv_heads, head_dim)
    return k_flat[slots], v_flat[slots]


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
    """q: [T, num_heads, head_dim] (new tokens, already stored in the cache) -> [T, num_heads, head_dim].

    Sequences with one new token are attended together; each longer chunk (prefill) on its own.
    k_scale, v_scale: an FP8 cache's dequantization scales. sliding_window: keys within this many
    positions of the query (itself included); softcap: scores capped by cap * tanh(s / cap)."""
    scales, max_seq_len = (k_scale, v_scale), meta.max_seq_len
    extra = dict(window=sliding_window, softcap=softcap)
    if meta.max_query_len == 1:
        return _decode_attention(
            q, kv_cache, meta.block_tables, meta.seq_lens, max_seq_len, scale, scales, **extra
        )
    out = torch.empty_like(q)
    query_lens = meta.query_start_loc.diff()
    is_decode = query_lens == 1
    if is_decode.any():
        rows = meta.query_start_loc[:-1][is_decode]
        block_tables, seq_lens = meta.block_tables[is_decode], meta.seq_lens[is_decode]
        out[rows] = _decode_attention(
            q[rows], kv_cache, block_tables, seq_lens, max_seq_len, scale, scales, **extra
        )
    starts, seq_lens = meta.query_start_loc.tolist(), meta.seq_lens.tolist()
    for i, query_len in enumerate(query_lens.tolist()):
        if query_len < 2:
            continue
        start, end, seq_len = starts[i], starts[i + 1], seq_lens[i]
        k, v = gather_context(kv_cache, meta.block_tables[i : i + 1], seq_len)
        query_pos = torch.arange(seq_len - query_len, seq_len, device=q.device)
        key_pos = torch.arange(seq_len, device=q.device)[None, :]
        mask = key_pos <= query_pos[:, None]
        if sliding_window is not None:
            mask &= key_pos > query_pos[:, None] - sliding_window
        out[start:end] = _sdpa(q[start:end].unsqueeze(0), k, v, mask[None, None], scale, scales, softcap)[0]
    return out


def _decode_attention(
    q: torch.Tensor,
    kv_cache: torch.Tensor,
    block_tables: torch.Tensor,
    seq_lens: torch.Tensor,
    max_seq_len: int,
    scale: float,
    kv_scales: tuple[float, float] = (1.0, 1.0),
    window: int | None = None,
    softcap: float | None = None,
) -> torch.Tensor:
    """One query per sequence, all sequences at once: padded context, masked past each seq_len
    (and before seq_len - window)."""
    k, v = gather_context(kv_cache, block_tables, max_seq_len)
    key_pos = torch.arange(max_seq_len, device=q.device)[None, :]
    mask = key_pos < seq_lens[:, None]
    if window is not None:
        mask &= key_pos >= seq_lens[:, None] - window
    return _sdpa(q.unsqueeze(1), k, v, mask[:, None, None, :], scale, kv_scales, softcap)[:, 0]


def _sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor,
    scale: float,
    kv_scales: tuple[float, float] = (1.0, 1.0),
    softcap: float | None = None,
) -> torch.Tensor:
    """q [B, Tq, Hq, D], k/v [B, Tk, Hkv, D], mask broadcastable to [B, Hq, Tq, Tk] -> [B, Tq, Hq, D].
    FP8 k/v are read as code * scale."""
    if k.dtype == FP8_DTYPE:
        k, v = k.float() * kv_scales[0], v.float() * kv_scales[1]
    q, k, v = q.transpose(1, 2), k.transpose(1, 2).to(q.dtype), v.transpose(1, 2).to(q.dtype)
    if softcap is not None:  # SDPA has no soft-capping: the scores by hand, in float32
        groups = q.shape[1] // k.shape[1]
        k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * scale
        scores = softcap * torch.tanh(scores / softcap)
        scores = scores.masked_fill(~mask, float("-inf"))
        return torch.matmul(scores.softmax(-1).to(v.dtype), v).transpose(1, 2)
    # enable_gqa: query head h reads KV head h // (Hq // Hkv), without materialising repeated K/V
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, scale=scale, enable_gqa=q.shape[1] != k.shape[1]
    )
    return out.transpose(1, 2)


class Attention(nn.Module):
    """Store this step's K/V in the paged cache, then attend. Heads are [T, H, D]."""

    def __init__(
        self,
        num_heads: int,
        head_dim: int,
        scale: float,
        num_kv_heads: int,
        sliding_window: int | None = None,
        softcap: float | None = None,
    ) -> None:
        super().__init__()
        self.sliding_window = sliding_window
        self.softcap = softcap
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.scale = scale
        self.num_kv_heads = num_kv_heads
        # FP8 KV cache: stored = x / scale, read = stored * scale (the checkpoint's, else 1.0 as in vLLM)
        self.k_scale = 1.0
        self.v_scale = 1.0

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        kv_cache: torch.Tensor,
        meta: AttentionMetadata,
    ) -> torch.Tensor:
        scales = self.kv_scales(kv_cache)
        if q.is_cuda and (ops := cuda_kernels()) is not None:
            ops.store_kvcache(k, v, kv_cache, meta.slot_mapping, *scales)
        else:
            store_kvcache(k, v, kv_cache, meta.slot_mapping, *scales)
        return self.attend(q, kv_cache, meta)

    def kv_scales(self, kv_cache: torch.Tensor) -> tuple[float, float]:
        return (self.k_scale, self.v_scale) if kv_cache.dtype == FP8_DTYPE else (1.0, 1.0)

    def attend(self, q: torch.Tensor, kv_cache: torch.Tensor, meta: AttentionMetadata) -> torch.Tensor:
        """Attention only: this step's K/V are already in kv_cache (forward, or a fused store)."""
        scales = self.kv_scales(kv_cache)
        extra = {}
        if self.sliding_window is not None or self.softcap is not None:
            extra = dict(sliding_window=self.sliding_window, softcap=self.softcap)
        if q.is_cuda and (ops := cuda_kernels()) is not None:
            return ops.paged_attention(q, kv_cache, meta, self.scale, *scales, **extra)
        return paged_attention(q, kv_cache, meta, self.scale, *scales, **extra)
