"""The fused decode prologue (engine/kernels/qkv_prep.py decode_prep_attention: q/k norm, rotary, the
new token's K/V store and decode attention in one launch) against qkv_prep followed by decode_attention:
one split and many (the new token alone in its split, or after cached tiles), padded rows, longest-first
order, partial rotary, no q/k norm, sliding window and soft-capping; fp32 and fp16."""

from __future__ import annotations

import pytest
import torch

from engine.attention_metadata import AttentionMetadata, longest_first
from engine.kernels import decode_attention, decode_prep_attention, qkv_prep
from engine.layers.rotary_embedding import RotaryEmbedding

Q_HEADS, KV_HEADS, HEAD_DIM, BLOCK_SIZE, BLOCKS = 4, 2, 32, 4, 128
TOL = {torch.float32: dict(atol=2e-5, rtol=2e-5), torch.float16: dict(atol=3e-3, rtol=3e-3)}


def batch(dtype: torch.dtype, lens: list[int], seed: int):
    g = torch.Generator().manual_seed(seed)
    s = len(lens)
    qkv = (torch.randn(s, (Q_HEADS + 2 * KV_HEADS) * HEAD_DIM, generator=g) * 2).to(dtype)
    cache = torch.randn(2, BLOCKS, BLOCK_SIZE, KV_HEADS, HEAD_DIM, generator=g).to(dtype)
    width = max(1, -(-max(lens) // BLOCK_SIZE))
    tables = torch.randperm(BLOCKS, generator=g)[: s * width].view(s, width).to(torch.int32)
    positions = torch.tensor([max(n - 1, 0) for n in lens])
    slots = torch.tensor(
        [int(tables[i, (n - 1) // BLOCK_SIZE]) * BLOCK_SIZE + (n - 1) % BLOCK_SIZE if n else -1
         for i, n in enumerate(lens)]
    )
    seq_lens = torch.tensor(lens, dtype=torch.int32)
    meta = AttentionMetadata(
        query_start_loc=torch.arange(s + 1, dtype=torch.int32), seq_lens=seq_lens, slot_mapping=slots,
        block_tables=tables, max_query_len=1, max_seq_len=max(lens),
        decode_order=torch.from_numpy(longest_first(lens)).to(torch.int32),
    )
    return qkv, cache, positions, meta


def norms(dtype: torch.dtype, qk_norm: bool, seed: int):
    if not qk_norm:
        return None, None
    g = torch.Generator().manual_seed(seed + 1)
    q_w, k_w = (torch.rand(HEAD_DIM, generator=g) + 0.5 for _ in range(2))
    return q_w.to(dtype), k_w.to(dtype)


CASES = {
    # lens, num_splits, rotary_dim, qk_norm, window, softcap
    "one-split": ([9, 17, 0, 30, 1], 1, 32, True, None, None),
    "many-splits": ([9, 17, 0, 33, 1, 64], 8, 32, True, None, None),
    "default-splits": ([5, 40, 2], None, 32, True, None, None),
    "partial-rotary-no-norm": ([12, 3, 27], 2, 24, False, None, None),
    "window-softcap": ([25, 8, 31], 4, 32, True, 7, 30.0),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("case", list(CASES))
def test_fused_decode_equals_prep_then_decode(case: str, dtype: torch.dtype) -> None:
    lens, splits, rot, qk_norm, window, softcap = CASES[case]
    qkv, cache, positions, meta = batch(dtype, lens, seed=len(case))
    q_w, k_w = norms(dtype, qk_norm, seed=len(case))
    rope = RotaryEmbedding(HEAD_DIM, 512, 10000.0, None, rot)
    scale = HEAD_DIM**-0.5
    extra = dict(sliding_window=window, softcap=softcap)

    ref_cache, ref_qkv = cache.clone(), qkv.clone()
    q = qkv_prep(ref_qkv, positions, rope.cos_sin_cache, ref_cache, meta.slot_mapping, Q_HEADS, KV_HEADS,
                 HEAD_DIM, q_w, k_w, 1e-6)
    expected = decode_attention(q, ref_cache, meta.block_tables, meta.seq_lens, scale, num_splits=splits,
                                order=meta.decode_order, **extra)

    fused_cache = cache.clone()
    out = decode_prep_attention(qkv, positions, rope.cos_sin_cache, fused_cache, meta, Q_HEADS, KV_HEADS,
                                HEAD_DIM, scale, q_w, k_w, 1e-6, num_splits=splits, **extra)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    torch.testing.assert_close(fused_cache, ref_cache, **TOL[dtype])  # the new K/V went to their slots
    assert torch.equal(fused_cache[1], ref_cache[1])  # V is stored as it is
    assert torch.equal(qkv[:, Q_HEADS * HEAD_DIM :], ref_qkv[:, Q_HEADS * HEAD_DIM :])
    assert out[lens.index(0)].abs().sum() == 0 if 0 in lens else True  # a padded row: zeros


def test_padded_rows_store_nothing() -> None:
    qkv, cache, positions, meta = batch(torch.float32, [0, 0, 6], seed=3)
    rope = RotaryEmbedding(HEAD_DIM, 512, 10000.0, None, HEAD_DIM)
    before = cache.clone()
    decode_prep_attention(qkv, positions, rope.cos_sin_cache, cache, meta, Q_HEADS, KV_HEADS, HEAD_DIM, 0.1)
    changed = (cache != before).flatten(2).any(-1)  # [2, blocks, block_size]: positions written
    assert changed.sum() == 2  # the one real row's K and V slot, nothing else
