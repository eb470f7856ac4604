"""engine/kv_layout.py: a head-major cache ("hnd", "headfirst"), handed to every kernel as a permuted
view of the token-major ("nhd") shape, under the interpreter. Each kernel that writes the cache
(store_kvcache, qkv_prep, the fused QKV GEMM) leaves the same logical content in every layout, and each
kernel that reads it (decode, FP8 decode variants, extend) returns bit-identical outputs; the bytes really
are stored head-major. A kernel that still took a flat slot stride would write the wrong tokens here."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine import kv_layout
from engine.kernels import decode_attention, extend_attention, qkv_gemm, qkv_prep, store_kvcache
from engine.kernels.decode_attention_fp8 import decode_attention_variant
from engine.layers.rotary_embedding import RotaryEmbedding
from engine.quantization.fp8 import FP8_DTYPE
from tests.kernels.test_paged_attention import make_batch

BLOCKS, BLOCK_SIZE, KV_HEADS, HEAD_DIM = 6, 4, 2, 32


def head_major(cache: torch.Tensor) -> torch.Tensor:
    """The same logical cache stored head-major (what allocate_kv_cache("hnd") returns)."""
    return cache.permute(0, 1, 3, 2, 4).contiguous().permute(0, 1, 3, 2, 4)


def head_first(cache: torch.Tensor) -> torch.Tensor:
    """The same logical cache with each head's pool apart (allocate_kv_cache("headfirst"))."""
    return cache.permute(0, 3, 1, 2, 4).contiguous().permute(0, 2, 3, 1, 4)


RELAYOUTS = [head_major, head_first]


def test_allocation_stores_each_heads_block_contiguously() -> None:
    shape = (BLOCKS, BLOCK_SIZE, KV_HEADS, HEAD_DIM)
    nhd = kv_layout.allocate_kv_cache(*shape, torch.float16, torch.device("cpu"))
    hnd = kv_layout.allocate_kv_cache(*shape, torch.float16, torch.device("cpu"), layout="hnd")
    assert nhd.shape == hnd.shape == (2, BLOCKS, BLOCK_SIZE, KV_HEADS, HEAD_DIM)
    assert nhd.is_contiguous() and not hnd.is_contiguous() and not hnd.any()
    # head-major: the head stride spans a whole block of one head; tokens of one head are adjacent
    assert hnd.stride()[1:] == (KV_HEADS * BLOCK_SIZE * HEAD_DIM, HEAD_DIM, BLOCK_SIZE * HEAD_DIM, 1)
    first = kv_layout.allocate_kv_cache(*shape, torch.float16, torch.device("cpu"), layout="headfirst")
    pool = BLOCKS * BLOCK_SIZE * HEAD_DIM  # one head's whole pool
    assert first.shape == nhd.shape and first.stride()[1:] == (BLOCK_SIZE * HEAD_DIM, HEAD_DIM, pool, 1)
    assert kv_layout.layout_for(torch.device("cpu")) == "nhd"  # the torch reference path views it flat
    with pytest.raises(AssertionError):
        kv_layout.allocate_kv_cache(1, 1, 1, 1, torch.float16, torch.device("cpu"), layout="nope")


@pytest.mark.parametrize("relayout", RELAYOUTS)
@pytest.mark.parametrize("fp8", [False, True])
def test_store_kvcache_writes_the_same_tokens(fp8: bool, relayout) -> None:
    g = torch.Generator().manual_seed(1)
    k, v = (torch.randn(9, KV_HEADS, HEAD_DIM, generator=g).half() for _ in "kv")
    slots = torch.tensor([0, 5, -1, 23, 7, 13, 12, 1, -1])
    dtype = FP8_DTYPE if fp8 else torch.float16
    nhd = torch.zeros(2, BLOCKS, BLOCK_SIZE, KV_HEADS, HEAD_DIM, dtype=dtype)
    hnd = relayout(nhd)
    for cache in (nhd, hnd):
        store_kvcache(k, v, cache, slots, 0.05, 0.02)
    assert torch.equal(hnd.view(torch.uint8), nhd.view(torch.uint8)) and nhd.view(torch.uint8).any()


@pytest.mark.parametrize("relayout", RELAYOUTS)
@pytest.mark.parametrize("qk_norm", [True, False])
def test_qkv_prep_and_the_fused_qkv_gemm_write_the_same_tokens(
    qk_norm: bool, relayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qkv_gemm, "FUSED_QKV_GEMM", True)
    g = torch.Generator().manual_seed(2)
    q_heads, m, k = 4, 7, 128
    n = (q_heads + 2 * KV_HEADS) * HEAD_DIM
    x = torch.randn(m, k, generator=g).half()
    w = (torch.randn(n, k, generator=g) * k**-0.5).half()
    positions = torch.randint(0, 512, (m,), generator=g)
    slots = torch.tensor([0, 5, -1, 23, 7, 13, 12])
    norms = [(torch.rand(HEAD_DIM, generator=g) + 0.5).half() for _ in "qk"] if qk_norm else [None, None]
    rope = RotaryEmbedding(HEAD_DIM, max_position=512, base=1e6)
    qkv = F.linear(x.float(), w.float()).half()
    for write in ("prep", "gemm"):
        caches = []
        for layout in ("nhd", "hnd"):
            cache = torch.zeros(2, BLOCKS, BLOCK_SIZE, KV_HEADS, HEAD_DIM, dtype=torch.float16)
            cache = relayout(cache) if layout == "hnd" else cache
            heads = (q_heads, KV_HEADS, HEAD_DIM)
            if write == "prep":
                qkv_prep(qkv.clone(), positions, rope.cos_sin_cache, cache, slots, *heads, *norms)
            else:
                rope_args = (positions, rope.cos_sin_cache, cache, slots)
                out = qkv_gemm.qkv_linear_prep(x, w, None, *rope_args, *heads, *norms)
                assert out is not None
            caches.append(cache)
        assert torch.equal(caches[0], caches[1]) and caches[0].any(), write


@pytest.mark.parametrize("relayout", RELAYOUTS)
@pytest.mark.parametrize("num_splits", [1, 4])
def test_decode_and_extend_read_the_same_values(num_splits: int, relayout) -> None:
    seq_lens = [1, 13, 0, 40, 22]
    cache, meta = make_batch([1 if s else 0 for s in seq_lens], seq_lens, block_size=4, num_kv_heads=2,
                             head_dim=16)
    q = torch.randn(len(seq_lens), 4, 16, generator=torch.Generator().manual_seed(3))
    outs = [decode_attention(q, c, meta.block_tables, meta.seq_lens, 0.25, num_splits=num_splits)
            for c in (cache, relayout(cache))]
    assert not outs[0].isnan().any() and torch.equal(outs[0], outs[1])

    query_lens = [3, 1, 5]
    cache, meta = make_batch(query_lens, [9, 1, 30], block_size=4, num_kv_heads=2, head_dim=16, seed=4)
    q = torch.randn(sum(query_lens), 4, 16, generator=torch.Generator().manual_seed(5))
    outs = [extend_attention(q, c, meta.block_tables, meta.seq_lens, meta.query_start_loc, 0.25)
            for c in (cache, relayout(cache))]
    assert not outs[0].isnan().any() and torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("relayout", RELAYOUTS)
@pytest.mark.parametrize("name", ["best", "k16_ci_s3"])
def test_fp8_decode_variants_read_the_same_values(name: str, relayout) -> None:
    seq_lens = [30, 9, 21]
    _, meta = make_batch([1, 1, 1], seq_lens, block_size=4, num_kv_heads=2, head_dim=16)
    g = torch.Generator().manual_seed(6)
    codes = (torch.randn(2, int(meta.block_tables.max()) + 1, 4, 2, 16, generator=g) * 40).to(FP8_DTYPE)
    q = torch.randn(3, 8, 16, generator=g)
    outs = [decode_attention_variant(name, q, c, meta.block_tables, meta.seq_lens, 0.5, 4, 0.02, 0.5)
            for c in (codes, relayout(codes))]
    assert not outs[0].isnan().any() and torch.equal(outs[0], outs[1])
