"""Sliding-window attention and logit soft-capping (Gemma 2/3, Phi-3): the PyTorch reference against
a token-by-token loop, then the Triton kernels (interpreter, fp32) against the reference, with windows
smaller than, equal to and larger than the context. The NaN cache of test_paged_attention catches a
read outside a sequence's blocks."""

from __future__ import annotations

import pytest
import torch
from test_paged_attention import make_batch

from engine.attention_metadata import AttentionMetadata
from engine.kernels import decode_attention, extend_attention, paged_attention
from engine.layers import attention as ref

TOL = dict(atol=1e-5, rtol=1e-5)


def loop_reference(
    q: torch.Tensor, cache: torch.Tensor, meta: AttentionMetadata, scale: float,
    window: int | None, softcap: float | None,
) -> torch.Tensor:
    """Query by query, head by head, in float64: softmax over i - window < j <= i, scores capped."""
    block_size, num_kv_heads = cache.shape[2], cache.shape[3]
    group = q.shape[1] // num_kv_heads
    out = torch.zeros(q.shape, dtype=torch.float64)
    starts = meta.query_start_loc.tolist()
    for s, seq_len in enumerate(meta.seq_lens.tolist()):
        query_len = starts[s + 1] - starts[s]
        for j in range(query_len):
            pos = seq_len - query_len + j
            first = 0 if window is None else max(0, pos - window + 1)
            table = meta.block_tables[s]
            slots = [(int(table[p // block_size]), p % block_size) for p in range(first, pos + 1)]
            k = torch.stack([cache[0, b, o] for b, o in slots]).double()
            v = torch.stack([cache[1, b, o] for b, o in slots]).double()
            for h in range(q.shape[1]):
                scores = k[:, h // group] @ q[starts[s] + j, h].double() * scale
                if softcap is not None:
                    scores = softcap * torch.tanh(scores / softcap)
                out[starts[s] + j, h] = torch.softmax(scores, dim=0) @ v[:, h // group]
    return out


def engine_reference(q, cache, meta, scale, window, softcap):
    return ref.paged_attention(q, cache.nan_to_num(0.0), meta, scale, sliding_window=window, softcap=softcap)


# context lengths up to 37: windows 1, 5 and 16 are smaller, 37 equal to the longest, 64 larger than all
CASES = [(1, None), (5, None), (37, None), (64, None), (16, 2.0), (None, 2.0)]


@pytest.mark.parametrize(("window", "softcap"), CASES)
def test_reference_matches_loop(window: int | None, softcap: float | None) -> None:
    query_lens, seq_lens = [1, 12, 37, 1], [20, 30, 37, 9]
    cache, meta = make_batch(query_lens, seq_lens, num_kv_heads=2, head_dim=16)
    q = torch.randn(sum(query_lens), 4, 16) * 3
    expected = loop_reference(q, cache, meta, 0.4, window, softcap)
    out = engine_reference(q, cache, meta, 0.4, window, softcap)
    torch.testing.assert_close(out.double(), expected, **TOL)
    decode_q, decode_cache = q[[0]], cache  # the all-decode path of the reference too
    decode_meta = make_batch([1], [20], num_kv_heads=2, head_dim=16)[1]
    decode_meta.block_tables = meta.block_tables[:1]
    torch.testing.assert_close(
        engine_reference(decode_q, decode_cache, decode_meta, 0.4, window, softcap).double(),
        loop_reference(decode_q, decode_cache, decode_meta, 0.4, window, softcap), **TOL,
    )


@pytest.mark.parametrize(("window", "softcap"), [
    pytest.param(*case, marks=pytest.mark.slow) if case in ((37, None), (64, None), (None, 2.0)) else case
    for case in CASES])  # the rest are about 1 s each under the interpreter
def test_decode_kernel(window: int | None, softcap: float | None) -> None:
    seq_lens = [1, 16, 0, 37]  # a padded row (seq_len 0) stays zeros
    cache, meta = make_batch([1, 1, 0, 1], seq_lens, block_size=4, num_kv_heads=2, head_dim=16)
    meta.query_start_loc = torch.arange(len(seq_lens) + 1, dtype=torch.int32)
    meta.max_query_len = 1
    q = torch.randn(len(seq_lens), 4, 16) * 3
    for splits in (1, 4):
        out = decode_attention(q, cache, meta.block_tables, meta.seq_lens, 0.4, num_splits=splits,
                               block_n=16, sliding_window=window, softcap=softcap)
        expected = engine_reference(q, cache, meta, 0.4, window, softcap)
        expected[2] = 0.0
        assert not out.isnan().any()
        torch.testing.assert_close(out, expected, **TOL)


@pytest.mark.parametrize(("window", "softcap"), CASES)
def test_extend_kernel(window: int | None, softcap: float | None) -> None:
    # decode, chunk over a cached prefix, full prefill, decode: tiles wholly outside, straddling, inside
    query_lens, seq_lens = [1, 11, 37, 1], [7, 30, 37, 18]
    cache, meta = make_batch(query_lens, seq_lens, block_size=4, num_kv_heads=2, head_dim=16)
    q = torch.randn(sum(query_lens), 4, 16) * 3
    out = extend_attention(q, cache, meta.block_tables, meta.seq_lens, meta.query_start_loc, 0.4,
                           block_m=16, block_n=16, sliding_window=window, softcap=softcap)
    assert not out.isnan().any()
    torch.testing.assert_close(out, engine_reference(q, cache, meta, 0.4, window, softcap), **TOL)


def test_dispatch_passes_window_and_softcap() -> None:
    query_lens, seq_lens = [1, 6], [25, 6]
    cache, meta = make_batch(query_lens, seq_lens, num_kv_heads=1, head_dim=16)
    q = torch.randn(sum(query_lens), 2, 16) * 3
    out = paged_attention(q, cache, meta, 0.4, sliding_window=4, softcap=3.0)
    torch.testing.assert_close(out, engine_reference(q, cache, meta, 0.4, 4, 3.0), **TOL)
