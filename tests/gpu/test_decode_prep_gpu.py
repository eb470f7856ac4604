"""The fused decode prologue (engine/kernels/qkv_prep.py decode_prep_attention) on a GPU at qwen3-0.6b's
heads (q/k norm, GQA 2) and llama3-8b's (no norm, GQA 4), bf16, full and small batches over ~1k-token
contexts, in row order and longest first: the output and the cache match qkv_prep followed by
decode_attention within bf16 rounding; and it replays in a CUDA graph.

Run: `pytest tests/gpu/test_decode_prep_gpu.py -m gpu -q`."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")]

from engine.attention_metadata import AttentionMetadata, longest_first  # noqa: E402
from engine.kernels import decode_attention, decode_prep_attention, qkv_prep  # noqa: E402
from engine.layers.rotary_embedding import RotaryEmbedding  # noqa: E402

CUDA = "cuda"
BLOCK_SIZE = 16
SHAPES = {"qwen3-0.6b": (16, 8, True, 1_000_000.0), "llama3-8b": (32, 8, False, 500_000.0)}


def batch(rows: int, hq: int, hkv: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    lens = torch.randint(100, 1200, (rows,), generator=g).tolist()
    lens[-1] = 0 if rows > 4 else lens[-1]  # a padded row
    width = -(-max(lens) // BLOCK_SIZE)
    blocks = rows * width + 1
    cache = torch.randn(2, blocks, BLOCK_SIZE, hkv, 128, generator=g).to(CUDA, torch.bfloat16)
    tables = torch.randperm(blocks, generator=g)[: rows * width].view(rows, width).to(torch.int32)
    slots = [int(tables[i, (n - 1) // BLOCK_SIZE]) * BLOCK_SIZE + (n - 1) % BLOCK_SIZE if n else -1
             for i, n in enumerate(lens)]
    qkv = torch.randn(rows, (hq + 2 * hkv) * 128, generator=g).to(CUDA, torch.bfloat16)
    meta = AttentionMetadata(
        query_start_loc=torch.arange(rows + 1, dtype=torch.int32, device=CUDA),
        seq_lens=torch.tensor(lens, dtype=torch.int32, device=CUDA),
        slot_mapping=torch.tensor(slots, device=CUDA), block_tables=tables.to(CUDA),
        max_query_len=1, max_seq_len=max(lens),
        decode_order=torch.from_numpy(longest_first(lens)).to(CUDA, torch.int32),
    )
    positions = torch.tensor([max(n - 1, 0) for n in lens], device=CUDA)
    return qkv, cache, positions, meta


@pytest.mark.parametrize("rows", [256, 64, 8])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_fused_decode_matches_prep_then_decode(shape: str, rows: int) -> None:
    hq, hkv, qk_norm, theta = SHAPES[shape]
    qkv, cache, positions, meta = batch(rows, hq, hkv, seed=rows)
    rope = RotaryEmbedding(128, 4096, theta, None, 128).to(CUDA)
    w = (torch.rand(2, 128, device=CUDA) + 0.5).to(torch.bfloat16) if qk_norm else None
    q_w, k_w = (w[0], w[1]) if w is not None else (None, None)
    ref_cache, ref_qkv = cache.clone(), qkv.clone()
    cos_sin, scale = rope.cos_sin_cache, 128**-0.5
    q = qkv_prep(ref_qkv, positions, cos_sin, ref_cache, meta.slot_mapping, hq, hkv, 128, q_w, k_w)
    order = meta.decode_order
    expected = decode_attention(q, ref_cache, meta.block_tables, meta.seq_lens, scale, order=order)
    out = decode_prep_attention(qkv, positions, cos_sin, cache, meta, hq, hkv, 128, scale, q_w, k_w)
    err = (out.float() - expected.float()).norm() / expected.float().norm()
    assert err < 5e-3, err
    assert (cache.float() - ref_cache.float()).abs().max() < 0.05  # the new k within a bf16 rounding or two
    assert torch.equal(cache[1], ref_cache[1])


def test_replays_in_a_cuda_graph() -> None:
    hq, hkv, _, theta = SHAPES["qwen3-0.6b"]
    qkv, cache, positions, meta = batch(32, hq, hkv, seed=7)
    cos_sin = RotaryEmbedding(128, 4096, theta, None, 128).to(CUDA).cos_sin_cache
    w = (torch.rand(2, 128, device=CUDA) + 0.5).to(torch.bfloat16)
    start = cache.clone()
    eager = decode_prep_attention(qkv, positions, cos_sin, cache, meta, hq, hkv, 128, 0.1, w[0], w[1])
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = decode_prep_attention(qkv, positions, cos_sin, cache, meta, hq, hkv, 128, 0.1, w[0], w[1])
    for _ in range(2):
        cache.copy_(start)
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(out, eager)
