"""Triton paged attention (decode and extend) vs the PyTorch reference, under the interpreter.

The cache starts as NaN everywhere and only each sequence's real positions are written; block 0 is
never allocated, and padded block-table entries point at it. A kernel that reads a position past a
sequence's length, an unused block, or a padded row's table produces NaN and fails.
"""

from __future__ import annotations

import math

import pytest
import torch

from engine.attention_metadata import AttentionMetadata, build_attention_metadata, longest_first
from engine.kernels import attention as dispatch
from engine.kernels import decode_attention, extend_attention, paged_attention
from engine.layers import attention as ref

TOL = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float16: dict(atol=3e-3, rtol=1e-2)}


def make_batch(
    query_lens: list[int], seq_lens: list[int], block_size: int = 4, num_kv_heads: int = 1,
    head_dim: int = 16, dtype: torch.dtype = torch.float32, seed: int = 0,
) -> tuple[torch.Tensor, AttentionMetadata]:
    """A NaN cache holding K/V for positions [0, seq_len) of each sequence, in scrambled blocks >= 1."""
    gen = torch.Generator().manual_seed(seed)
    needed = [math.ceil(s / block_size) for s in seq_lens]
    num_blocks = sum(needed) + 3
    free = (torch.randperm(num_blocks - 1, generator=gen) + 1).tolist()
    tables = []
    for n in needed:
        tables.append(free[:n])
        free = free[n:]
    cache = torch.full((2, num_blocks, block_size, num_kv_heads, head_dim), float("nan"), dtype=dtype)
    full = build_attention_metadata(seq_lens, seq_lens, tables, block_size)
    num_ctx = int(full.slot_mapping.numel())
    k = torch.randn(num_ctx, num_kv_heads, head_dim, generator=gen).to(dtype)
    v = torch.randn(num_ctx, num_kv_heads, head_dim, generator=gen).to(dtype)
    ref.store_kvcache(k, v, cache, full.slot_mapping)
    return cache, build_attention_metadata(query_lens, seq_lens, tables, block_size)


def reference(q: torch.Tensor, cache: torch.Tensor, meta: AttentionMetadata, scale: float) -> torch.Tensor:
    return ref.paged_attention(q.float(), cache.float().nan_to_num(0.0), meta, scale)


def loop_reference(
    q: torch.Tensor, cache: torch.Tensor, meta: AttentionMetadata, scale: float
) -> torch.Tensor:
    """Token by token, head by head: softmax over the positions <= the query's own, via the block table."""
    block_size, num_kv_heads = cache.shape[2], cache.shape[3]
    group = q.shape[1] // num_kv_heads
    out = torch.zeros(q.shape, dtype=torch.float64)
    starts = meta.query_start_loc.tolist()
    for s, seq_len in enumerate(meta.seq_lens.tolist()):
        query_len = starts[s + 1] - starts[s]
        for j in range(query_len):
            pos = seq_len - query_len + j
            blocks = [int(meta.block_tables[s, p // block_size]) for p in range(pos + 1)]
            k = torch.stack([cache[0, b, p % block_size] for p, b in enumerate(blocks)]).double()
            v = torch.stack([cache[1, b, p % block_size] for p, b in enumerate(blocks)]).double()
            for h in range(q.shape[1]):
                w = torch.softmax(k[:, h // group] @ q[starts[s] + j, h].double() * scale, dim=0)
                out[starts[s] + j, h] = w @ v[:, h // group]
    return out


def assert_close(out: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    assert not out.isnan().any()
    torch.testing.assert_close(out.float(), expected.float(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("group", [1, pytest.param(2, marks=pytest.mark.slow), 4])
def test_decode_ragged_gqa(dtype: torch.dtype, group: int) -> None:
    # Lengths not multiples of the block size; one padded row (seq_len 0) in the middle.
    seq_lens = [1, 13, 0, 40]
    cache, meta = make_batch([1, 1, 0, 1], seq_lens, block_size=4, num_kv_heads=2, head_dim=16, dtype=dtype)
    meta.query_start_loc = torch.arange(len(seq_lens) + 1, dtype=torch.int32)  # padded rows keep a q row
    meta.max_query_len = 1
    q = torch.randn(len(seq_lens), 2 * group + 4, 16).to(dtype)[:, : 2 * group]  # a view of a qkv output
    out = decode_attention(q, cache, meta.block_tables, meta.seq_lens, 0.3, num_splits=4, block_n=16)
    expected = reference(q, cache, meta, 0.3)
    expected[2] = 0.0
    assert_close(out, expected, dtype)
    assert out[2].eq(0).all()


@pytest.mark.parametrize("num_splits", [1, 2, 8, pytest.param(None, marks=pytest.mark.slow)])
def test_decode_splits(num_splits: int | None) -> None:
    # More splits than tiles leaves empty splits; they must merge to the same answer.
    cache, meta = make_batch([1, 1], [37, 5], block_size=8, num_kv_heads=1, head_dim=32, dtype=torch.float32)
    q = torch.randn(2, 2, 32)
    out = decode_attention(q, cache, meta.block_tables, meta.seq_lens, 0.2, num_splits=num_splits, block_n=16)
    assert_close(out, reference(q, cache, meta, 0.2), torch.float32)


def test_decode_all_padded_rows_give_zeros() -> None:
    cache, meta = make_batch([0, 0], [0, 0], block_size=4, num_kv_heads=1, head_dim=16, dtype=torch.float16)
    q = torch.randn(2, 2, 16).to(torch.float16)
    out = decode_attention(q, cache, torch.zeros(2, 3, dtype=torch.int32), meta.seq_lens, 0.25, num_splits=2)
    assert out.eq(0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("group", [1, 2, 4])
def test_extend_mixed_batch(dtype: torch.dtype, group: int) -> None:
    # decode, extend over a cached prefix (chunked prefill / prefix hit), full prefill, empty row, decode.
    query_lens = [1, 11, 9, 0, 1]
    seq_lens = [7, 30, 9, 0, 18]
    cache, meta = make_batch(query_lens, seq_lens, block_size=4, num_kv_heads=2, head_dim=16, dtype=dtype)
    q = torch.randn(sum(query_lens), 2 * group + 4, 16).to(dtype)[:, : 2 * group]  # a view of a qkv output
    out = extend_attention(q, cache, meta.block_tables, meta.seq_lens, meta.query_start_loc, 0.25,
                           block_m=16, block_n=16)
    assert_close(out, reference(q, cache, meta, 0.25), dtype)


def test_extend_matches_loop_reference_and_engine_reference() -> None:
    # Independent check of the oracle itself, plus a head_dim that is not a power of two (padded to 32).
    query_lens, seq_lens = [3, 1, 6], [10, 4, 6]
    cache, meta = make_batch(query_lens, seq_lens, num_kv_heads=2, head_dim=24)
    q = torch.randn(sum(query_lens), 4, 24)
    expected = loop_reference(q, cache, meta, 0.3)
    torch.testing.assert_close(reference(q, cache, meta, 0.3).double(), expected, atol=1e-5, rtol=1e-5)
    out = extend_attention(q, cache, meta.block_tables, meta.seq_lens, meta.query_start_loc, 0.3, block_m=16)
    torch.testing.assert_close(out.double(), expected, atol=1e-5, rtol=1e-5)


def test_extend_extra_tokens_are_zero() -> None:
    # Tokens past query_start_loc[-1] (batch padding) belong to no sequence: zeros, no NaN.
    cache, meta = make_batch([5, 2], [5, 9], block_size=4, num_kv_heads=1, head_dim=16, dtype=torch.float32)
    q = torch.randn(10, 1, 16)
    out = extend_attention(q, cache, meta.block_tables, meta.seq_lens, meta.query_start_loc, 0.25, block_m=16)
    assert_close(out[:7], reference(q[:7], cache, meta, 0.25), torch.float32)
    assert out[7:].eq(0).all()


def test_extend_with_unit_queries_equals_decode() -> None:
    cache, meta = make_batch([1, 1, 1], [3, 17, 8], num_kv_heads=2)
    q = torch.randn(3, 4, 16)
    a = decode_attention(q, cache, meta.block_tables, meta.seq_lens, 0.25, num_splits=2)
    b = extend_attention(q, cache, meta.block_tables, meta.seq_lens, meta.query_start_loc, 0.25)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("query_lens", [[1, 1, 1], [1, 4, 1]])
def test_paged_attention_dispatch(query_lens: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    called = []
    for name, fn in (("decode", decode_attention), ("extend", extend_attention)):
        monkeypatch.setattr(
            dispatch, f"{name}_attention", lambda *a, n=name, f=fn, **kw: called.append(n) or f(*a, **kw)
        )
    seq_lens = [5, 9, 2]
    cache, meta = make_batch(query_lens, seq_lens)
    q = torch.randn(sum(query_lens), 2, 16)
    out = paged_attention(q, cache, meta, 0.25)
    assert called == ["decode" if max(query_lens) == 1 else "extend"]
    assert_close(out, reference(q, cache, meta, 0.25), torch.float32)


@pytest.mark.parametrize("num_splits", [1, 4])
def test_decode_longest_first_order_gives_the_same_rows(num_splits: int) -> None:
    """decode_order only changes which programs start first: every row's output is the row-order one,
    including a padded row; a non-identity order must not move outputs between rows."""
    seq_lens = [5, 40, 0, 13, 27]
    cache, meta = make_batch([1, 1, 0, 1, 1], seq_lens, block_size=4, num_kv_heads=2, head_dim=16)
    q = torch.randn(len(seq_lens), 4, 16)
    order = torch.from_numpy(longest_first(seq_lens))
    assert order.tolist() == [1, 4, 3, 0, 2]
    kw = dict(num_splits=num_splits, block_n=16)
    expected = decode_attention(q, cache, meta.block_tables, meta.seq_lens, 0.3, **kw)
    out = decode_attention(q, cache, meta.block_tables, meta.seq_lens, 0.3, order=order, **kw)
    assert torch.equal(out, expected)
    assert out[2].eq(0).all() and out[1].ne(0).any()


@pytest.fixture
def seen_orders(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The `order` each decode_attention call of the dispatch gets."""
    seen: list[object] = []
    real = dispatch.decode_attention

    def spy(*args, **kwargs):
        seen.append(kwargs.get("order"))
        return real(*args, **kwargs)

    monkeypatch.setattr(dispatch, "decode_attention", spy)
    return seen


def ordered_pair() -> tuple[torch.Tensor, AttentionMetadata]:
    """Two decode rows (9 and 30 tokens, one KV head) carrying their longest-first order."""
    cache, meta = make_batch([1, 1], [9, 30], block_size=4, num_kv_heads=1, head_dim=16)
    meta.decode_order = torch.from_numpy(longest_first([9, 30]))
    return cache, meta


def test_dispatch_passes_the_decode_order(seen_orders: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "ORDER_MAX_SPLITS", {False: 64, True: 64})  # a tiny batch: many splits
    cache, meta = ordered_pair()
    q = torch.randn(2, 2, 16)
    out = paged_attention(q, cache, meta, 0.25)
    assert seen_orders and seen_orders[0] is meta.decode_order
    assert_close(out, reference(q, cache, meta, 0.25), torch.float32)


def test_decode_order_is_dropped_where_it_was_measured_slower(seen_orders: list[object]) -> None:
    """Batches up to 8 splits per row (16-bit cache) or 4 (FP8) take the order; smaller ones (more splits,
    already balanced) do not."""
    assert dispatch.orders_help(256, 8, fp8=False) and dispatch.orders_help(64, 8, fp8=False)
    assert dispatch.orders_help(16, 8, fp8=False)  # 8 splits
    assert not dispatch.orders_help(8, 8, fp8=False)  # 16 splits
    assert dispatch.orders_help(32, 8, fp8=True) and not dispatch.orders_help(16, 8, fp8=True)  # 4 / 8 splits
    cache, meta = ordered_pair()
    paged_attention(torch.randn(2, 2, 16), cache, meta, 0.25)  # 2 rows x 1 KV head: many splits
    assert seen_orders == [None]
