"""Triton kernels vs the PyTorch reference on a CUDA GPU, at realistic shapes.

Run: `pytest tests/gpu -m gpu -q` (skipped without CUDA). Attention is checked against the engine's
reference in fp32 over a cache that is NaN wherever no real K/V was written (block 0 is never
allocated; padded block-table entries point at it), so any out-of-range read shows up as NaN.
"""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("triton")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

from engine.attention_metadata import AttentionMetadata, build_attention_metadata  # noqa: E402
from engine.kernels import (  # noqa: E402
    decode_attention,
    paged_attention,
    qkv_prep,
    rms_norm,
    rotary_embedding,
    silu_and_mul,
    store_kvcache,
)
from engine.layers import attention as ref  # noqa: E402
from engine.layers.activation import SiluAndMul  # noqa: E402
from engine.layers.layernorm import RMSNorm  # noqa: E402
from engine.layers.rotary_embedding import RotaryEmbedding  # noqa: E402

CUDA = "cuda"
NUM_KV_HEADS = 8
ATTN_TOL = {torch.bfloat16: dict(atol=2e-2, rtol=2e-2), torch.float16: dict(atol=4e-3, rtol=1e-2)}
EW_TOL = {torch.bfloat16: dict(atol=2e-2, rtol=1.6e-2), torch.float16: dict(atol=2e-3, rtol=2e-3)}
DTYPES = [torch.bfloat16, torch.float16]


def make_batch(
    query_lens: list[int], seq_lens: list[int], block_size: int, head_dim: int, dtype: torch.dtype,
    seed: int = 0,
) -> tuple[torch.Tensor, AttentionMetadata]:
    gen = torch.Generator().manual_seed(seed)
    needed = [math.ceil(s / block_size) for s in seq_lens]
    num_blocks = sum(needed) + 5
    free = (torch.randperm(num_blocks - 1, generator=gen) + 1).tolist()
    tables = []
    for n in needed:
        tables.append(free[:n])
        free = free[n:]
    shape = (2, num_blocks, block_size, NUM_KV_HEADS, head_dim)
    cache = torch.full(shape, float("nan"), dtype=dtype, device=CUDA)
    full = build_attention_metadata(seq_lens, seq_lens, tables, block_size, device=CUDA)
    k = torch.randn(full.slot_mapping.numel(), NUM_KV_HEADS, head_dim, device=CUDA).to(dtype)
    v = torch.randn(full.slot_mapping.numel(), NUM_KV_HEADS, head_dim, device=CUDA).to(dtype)
    ref.store_kvcache(k, v, cache, full.slot_mapping)
    return cache, build_attention_metadata(query_lens, seq_lens, tables, block_size, device=CUDA)


def reference(q: torch.Tensor, cache: torch.Tensor, meta: AttentionMetadata, scale: float) -> torch.Tensor:
    return ref.paged_attention(q.float(), cache.float().nan_to_num(0.0), meta, scale)


def check(out: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    assert not out.isnan().any()
    torch.testing.assert_close(out.float(), expected, **ATTN_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block_size", [16, 32])
@pytest.mark.parametrize("group", [1, 2, 4, 8])
@pytest.mark.parametrize("head_dim", [64, 128])
def test_decode(head_dim: int, group: int, block_size: int, dtype: torch.dtype) -> None:
    seq_lens = [1, 17, 1000, 4097, 32768, 0, 333]  # ragged, with a padded row
    cache, meta = make_batch([min(s, 1) for s in seq_lens], seq_lens, block_size, head_dim, dtype)
    meta.query_start_loc = torch.arange(len(seq_lens) + 1, dtype=torch.int32, device=CUDA)  # padded row too
    q = torch.randn(len(seq_lens), NUM_KV_HEADS * group, head_dim, device=CUDA).to(dtype)
    scale = head_dim**-0.5
    out = paged_attention(q, cache, meta, scale)
    expected = reference(q, cache, meta, scale)
    expected[5] = 0.0
    check(out, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("block_size", [16, 32])
@pytest.mark.parametrize("group", [1, 2, 4, 8])
@pytest.mark.parametrize("head_dim", [64, 128])
def test_extend_mixed(head_dim: int, group: int, block_size: int, dtype: torch.dtype) -> None:
    # decode rows, a 32k-context chunk over a cached prefix, a fresh prefill, a prefix hit, an empty row.
    query_lens = [1, 1024, 1, 777, 0, 300]
    seq_lens = [5000, 32768, 93, 777, 0, 2350]
    cache, meta = make_batch(query_lens, seq_lens, block_size, head_dim, dtype, seed=1)
    q = torch.randn(sum(query_lens), NUM_KV_HEADS * group, head_dim, device=CUDA).to(dtype)
    scale = head_dim**-0.5
    out = paged_attention(q, cache, meta, scale)
    check(out, reference(q, cache, meta, scale), dtype)


@pytest.mark.parametrize("num_splits", [1, 16])
def test_decode_split_counts(num_splits: int) -> None:
    seq_lens = [31, 20000, 1]
    cache, meta = make_batch([1, 1, 1], seq_lens, 16, 128, torch.float16)
    q = torch.randn(3, 32, 128, device=CUDA).half()
    out = decode_attention(q, cache, meta.block_tables, meta.seq_lens, 128**-0.5, num_splits=num_splits)
    check(out, reference(q, cache, meta, 128**-0.5), torch.float16)


@pytest.mark.parametrize("fp8", [False, True])
@pytest.mark.parametrize("batch", [256, 8])
def test_decode_longest_first_order_gives_the_same_rows(batch: int, fp8: bool) -> None:
    """decode_order (longest context first) only changes which programs start first: bit-identical rows,
    one split (a full batch) and many (8 rows), bf16 and FP8 caches."""
    from engine.attention_metadata import longest_first

    gen = torch.Generator().manual_seed(batch)
    seq_lens = torch.randint(1, 1500, (batch,), generator=gen).tolist()
    cache, meta = make_batch([1] * batch, seq_lens, 16, 128, torch.bfloat16)
    if fp8:
        cache = cache.nan_to_num(0.0).to(torch.float8_e4m3fn)
    q = torch.randn(batch, 32, 128, device=CUDA).to(torch.bfloat16)
    order = torch.from_numpy(longest_first(seq_lens)).to(CUDA)
    args = (q, cache, meta.block_tables, meta.seq_lens, 128**-0.5)
    expected = decode_attention(*args)
    out = decode_attention(*args, order=order)
    assert torch.equal(out, expected)
    if not fp8:
        check(out, reference(q, cache, meta, 128**-0.5), torch.bfloat16)


def test_decode_cuda_graph_replay() -> None:
    """Capture store + decode once for a padded batch of 8, replay with new tokens, lengths and tables."""
    head_dim, block_size, group, batch, max_blocks = 128, 16, 4, 8, 64
    dtype = torch.bfloat16
    num_blocks = batch * max_blocks + 1
    cache = torch.randn(2, num_blocks, block_size, NUM_KV_HEADS, head_dim, device=CUDA).to(dtype)
    static_q = torch.zeros(batch, NUM_KV_HEADS * group, head_dim, device=CUDA, dtype=dtype)
    static_k = torch.zeros(batch, NUM_KV_HEADS, head_dim, device=CUDA, dtype=dtype)
    static_v = torch.zeros_like(static_k)
    meta = AttentionMetadata(
        query_start_loc=torch.arange(batch + 1, dtype=torch.int32, device=CUDA),
        seq_lens=torch.zeros(batch, dtype=torch.int32, device=CUDA),
        slot_mapping=torch.full((batch,), -1, dtype=torch.int64, device=CUDA),
        block_tables=torch.zeros(batch, max_blocks, dtype=torch.int32, device=CUDA),
        max_query_len=1,
        max_seq_len=max_blocks * block_size,
    )
    scale = head_dim**-0.5

    def step() -> torch.Tensor:
        store_kvcache(static_k, static_v, cache, meta.slot_mapping)
        return paged_attention(static_q, cache, meta, scale)

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        step()  # warm-up compiles the kernels outside the capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = step()

    gen = torch.Generator().manual_seed(3)
    for live in (3, 8, 5):  # live rows; the rest are padding (seq_len 0, slot -1)
        seq_lens = torch.randint(1, max_blocks * block_size, (live,), generator=gen).tolist()
        perm = (torch.randperm(num_blocks - 1, generator=gen) + 1).view(batch, max_blocks)[:live]
        tables = [perm[i, : math.ceil(s / block_size)].tolist() for i, s in enumerate(seq_lens)]
        live_meta = build_attention_metadata([1] * live, seq_lens, tables, block_size, device=CUDA)
        q = torch.randn(live, NUM_KV_HEADS * group, head_dim, generator=gen).to(dtype).to(CUDA)
        k = torch.randn(live, NUM_KV_HEADS, head_dim, generator=gen).to(dtype).to(CUDA)
        v = torch.randn(live, NUM_KV_HEADS, head_dim, generator=gen).to(dtype).to(CUDA)
        static_q.zero_()[:live] = q
        static_k[:live], static_v[:live] = k, v
        meta.seq_lens.zero_()[:live] = live_meta.seq_lens
        meta.slot_mapping.fill_(-1)[:live] = live_meta.slot_mapping
        meta.block_tables.zero_()[:live, : live_meta.block_tables.shape[1]] = live_meta.block_tables
        graph.replay()
        torch.cuda.synchronize()
        expected = reference(q, cache, live_meta, scale)  # the graph stored this step's K/V too
        check(static_out[:live], expected, dtype)
        assert static_out[live:].eq(0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_store_kvcache(dtype: torch.dtype) -> None:
    num_blocks, block_size, head_dim, num_tokens = 300, 16, 128, 2000
    slots = torch.randperm(num_blocks * block_size, device=CUDA)[:num_tokens]
    slots[::7] = -1
    qkv = torch.randn(num_tokens, 48, head_dim, device=CUDA).to(dtype)
    k, v = qkv[:, 32:40], qkv[:, 40:48]
    cache = torch.randn(2, num_blocks, block_size, NUM_KV_HEADS, head_dim, device=CUDA).to(dtype)
    expected = cache.clone()
    ref.store_kvcache(k, v, expected, slots)
    store_kvcache(k, v, cache, slots)
    assert torch.equal(cache, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [1024, 4096, 5120])
def test_rms_norm(dtype: torch.dtype, hidden: int) -> None:
    layer = RMSNorm(hidden, eps=1e-6).to(CUDA, dtype)
    layer.weight.data = torch.randn(hidden, device=CUDA).to(dtype)
    x = torch.randn(513, hidden, device=CUDA).to(dtype)
    residual = torch.randn(513, hidden, device=CUDA).to(dtype)
    for res in (None, residual):
        out, new_res = rms_norm(x, layer.weight, layer.eps, res)
        expected_out, expected_res = layer(x, res)
        torch.testing.assert_close(new_res, expected_res, atol=0, rtol=0)
        torch.testing.assert_close(out, expected_out, **EW_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("head_dim,q_heads,kv_heads", [(64, 9, 3), (128, 32, 8)])
def test_rotary(dtype: torch.dtype, head_dim: int, q_heads: int, kv_heads: int) -> None:
    llama3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
              "original_max_position_embeddings": 8192}
    rope = RotaryEmbedding(head_dim, max_position=32768, base=500000.0, rope_scaling=llama3).to(CUDA)
    num_tokens = 1000
    positions = torch.randint(0, 32768, (num_tokens,), device=CUDA)
    qkv = torch.randn(num_tokens, (q_heads + 2 * kv_heads) * head_dim, device=CUDA).to(dtype)
    q = qkv[:, : q_heads * head_dim].view(num_tokens, q_heads, head_dim)
    k = qkv[:, q_heads * head_dim : (q_heads + kv_heads) * head_dim].view(num_tokens, kv_heads, head_dim)
    expected_q, expected_k = rope(positions, q.clone(), k.clone())
    rotary_embedding(positions, q, k, rope.cos_sin_cache)
    torch.testing.assert_close(q, expected_q, **EW_TOL[dtype])
    torch.testing.assert_close(k, expected_k, **EW_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("qk_norm", [True, False])
@pytest.mark.parametrize("kv_fp8", [False, True])
@pytest.mark.parametrize("q_heads,rot_dim", [(16, 128), (32, 96)])  # qwen3-0.6b; partial rotary (Phi-3)
def test_qkv_prep_matches_the_separate_kernels(
    dtype: torch.dtype, qk_norm: bool, kv_fp8: bool, q_heads: int, rot_dim: int
) -> None:
    head_dim, kv_heads, num_tokens, block_size = 128, 8, 1000, 16
    rope = RotaryEmbedding(head_dim, max_position=32768, base=1e6, rotary_dim=rot_dim).to(CUDA)
    positions = torch.randint(0, 32768, (num_tokens,), device=CUDA)
    qkv = torch.randn(num_tokens, (q_heads + 2 * kv_heads) * head_dim, device=CUDA).to(dtype) * 4
    weights = [torch.rand(head_dim, device=CUDA).to(dtype) + 0.5 for _ in range(2)]
    if not qk_norm:
        weights = [None, None]
    blocks = num_tokens // block_size + 8
    slots = torch.randperm(blocks * block_size, device=CUDA)[:num_tokens]
    slots[::7] = -1  # padded rows store nothing
    cache_dtype = torch.float8_e4m3fn if kv_fp8 else dtype
    scales = (0.03, 0.02) if kv_fp8 else (1.0, 1.0)
    shape = (2, blocks, block_size, kv_heads, head_dim)
    caches = [torch.zeros(shape, device=CUDA, dtype=cache_dtype) for _ in "ab"]
    q, k, v = qkv.clone().split([q_heads * head_dim, kv_heads * head_dim, kv_heads * head_dim], dim=-1)
    q, k, v = (x.reshape(num_tokens, -1, head_dim) for x in (q, k, v))
    if qk_norm:
        q, _ = rms_norm(q, weights[0], 1e-6)
        k, _ = rms_norm(k, weights[1], 1e-6)
    rotary_embedding(positions, q, k, rope.cos_sin_cache)
    store_kvcache(k, v, caches[0], slots, *scales)
    fused_q = qkv_prep(
        qkv, positions, rope.cos_sin_cache, caches[1], slots, q_heads, kv_heads, head_dim,
        *weights, 1e-6, *scales,
    )
    torch.testing.assert_close(fused_q, q, **EW_TOL[dtype])
    # FP8 codes may differ by one e4m3 step where the bf16 inputs differ in the last bit
    tol = dict(atol=0.0, rtol=0.13) if kv_fp8 else EW_TOL[dtype]
    torch.testing.assert_close(caches[1].float(), caches[0].float(), **tol)


def assert_cache_close(got: torch.Tensor, expected: torch.Tensor, scales: tuple[float, float]) -> None:
    """K/V caches written from projections whose sums differ in order (the fused GEMM against cuBLAS or
    _scaled_mm): compared as values (FP8 codes times their scale), within q's tolerance plus one e4m3
    step. In code space a last-bit bf16 difference of a value near zero is that ulp over the scale, many
    subnormal steps, so codes alone cannot be compared with a relative tolerance."""
    scale = torch.tensor(scales, device=got.device).view(2, *[1] * (got.dim() - 1))
    rtol = 0.13 if got.dtype == torch.float8_e4m3fn else 3e-2
    torch.testing.assert_close(got.float() * scale, expected.float() * scale, atol=5e-2, rtol=rtol)


@pytest.mark.parametrize("m", [1, 8, 33, 128, 256])
@pytest.mark.parametrize("kv_fp8", [False, True])
def test_qkv_gemm_prep_matches_the_projection_then_qkv_prep(
    m: int, kv_fp8: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """engine/kernels/qkv_gemm.py at qwen3-0.6b's shapes and every decode size: q and the cache as the
    projection (F.linear) followed by qkv_prep, within bf16 rounding (its sums are the skinny kernel's),
    eagerly and replayed in a CUDA graph (split-K counters reset)."""
    from engine.kernels import fp8_gemm, qkv_gemm

    monkeypatch.setattr(qkv_gemm, "FUSED_QKV_GEMM", True)
    fp8_gemm.prepare(torch.device(CUDA))
    q_heads, kv_heads, head_dim, hidden, block_size = 16, 8, 128, 1024, 16
    gen = torch.Generator(device=CUDA).manual_seed(m)
    x = torch.randn(m, hidden, device=CUDA, generator=gen).to(torch.bfloat16)
    n = (q_heads + 2 * kv_heads) * head_dim
    w = (torch.randn(n, hidden, device=CUDA, generator=gen) * 0.03).to(torch.bfloat16)
    norms = [torch.rand(head_dim, device=CUDA, generator=gen).to(torch.bfloat16) + 0.5 for _ in "qk"]
    rope = RotaryEmbedding(head_dim, max_position=32768, base=1e6).to(CUDA)
    positions = torch.randint(0, 32768, (m,), device=CUDA, generator=gen)
    blocks = m // block_size + 8
    slots = torch.randperm(blocks * block_size, device=CUDA, generator=gen)[:m]
    slots[::7] = -1
    cache_dtype = torch.float8_e4m3fn if kv_fp8 else torch.bfloat16
    scales = (0.03, 0.02) if kv_fp8 else (1.0, 1.0)
    shape = (2, blocks, block_size, kv_heads, head_dim)
    caches = [torch.zeros(shape, device=CUDA, dtype=cache_dtype) for _ in "abc"]
    args = (rope.cos_sin_cache, caches[0], slots, q_heads, kv_heads, head_dim, *norms, 1e-6, *scales)
    expected = qkv_prep(torch.nn.functional.linear(x, w), positions, *args)
    fused = qkv_gemm.qkv_linear_prep(x, w, None, positions, rope.cos_sin_cache, caches[1], slots, q_heads,
                                     kv_heads, head_dim, *norms, 1e-6, *scales)
    assert fused is not None
    torch.testing.assert_close(fused, expected, atol=5e-2, rtol=3e-2)
    assert_cache_close(caches[1], caches[0], scales)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        replayed = qkv_gemm.qkv_linear_prep(x, w, None, positions, rope.cos_sin_cache, caches[2], slots,
                                            q_heads, kv_heads, head_dim, *norms, 1e-6, *scales)
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(replayed, fused)
    assert torch.equal(caches[2].view(torch.uint8), caches[1].view(torch.uint8))


@pytest.mark.parametrize("m", [1, 16, 100, 256])
def test_qkv_gemm_prep_fp8_weights_match_fp8_linear_then_qkv_prep(
    m: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """engine/kernels/qkv_gemm.py with FP8 weights at llama3-8b's shapes (no q/k norm, an FP8 cache): q and
    the cache as fp8_linear (the engine's FP8 GEMM route) followed by qkv_prep, within bf16 rounding of
    sums taken in another order; eagerly and replayed in a CUDA graph."""
    from engine.kernels import fp8_gemm, qkv_gemm
    from engine.quantization.fp8 import Fp8Activation, quantize_per_channel, quantize_per_token
    from engine.quantization.linear import fp8_linear

    monkeypatch.setattr(qkv_gemm, "FUSED_QKV_GEMM", True)
    fp8_gemm.prepare(torch.device(CUDA))
    q_heads, kv_heads, head_dim, hidden, block_size = 32, 8, 128, 4096, 16
    gen = torch.Generator(device=CUDA).manual_seed(m)
    x = torch.randn(m, hidden, device=CUDA, generator=gen).to(torch.bfloat16)
    n = (q_heads + 2 * kv_heads) * head_dim
    w = (torch.randn(n, hidden, device=CUDA, generator=gen) * 0.02).to(torch.bfloat16)
    x_codes, x_scales = quantize_per_token(x)
    w_codes, w_scales = quantize_per_channel(w)
    rope = RotaryEmbedding(head_dim, max_position=8192, base=5e5).to(CUDA)
    positions = torch.randint(0, 8192, (m,), device=CUDA, generator=gen)
    blocks = m // block_size + 8
    slots = torch.randperm(blocks * block_size, device=CUDA, generator=gen)[:m]
    slots[::7] = -1
    shape = (2, blocks, block_size, kv_heads, head_dim)
    caches = [torch.zeros(shape, device=CUDA, dtype=torch.float8_e4m3fn) for _ in "abc"]
    scales = (0.05, 0.03)
    qkv = fp8_linear(Fp8Activation(x_codes, x_scales, torch.bfloat16), w_codes, w_scales)
    expected = qkv_prep(qkv, positions, rope.cos_sin_cache, caches[0], slots, q_heads, kv_heads, head_dim,
                        None, None, 1e-6, *scales)

    def fused(cache: torch.Tensor) -> torch.Tensor | None:
        return qkv_gemm.qkv_linear_prep(
            x_codes, w_codes, None, positions, rope.cos_sin_cache, cache, slots, q_heads, kv_heads, head_dim,
            None, None, 1e-6, *scales, fp8_scales=(x_scales, w_scales, torch.bfloat16),
        )

    q = fused(caches[1])
    assert q is not None
    torch.testing.assert_close(q, expected, atol=5e-2, rtol=3e-2)
    assert_cache_close(caches[1], caches[0], scales)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        replayed = fused(caches[2])
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    assert replayed is not None and torch.equal(replayed, q)
    assert torch.equal(caches[2].view(torch.uint8), caches[1].view(torch.uint8))


@pytest.mark.parametrize("dtype", DTYPES)
def test_silu_and_mul(dtype: torch.dtype) -> None:
    x = torch.randn(777, 2 * 14336, device=CUDA).to(dtype)
    torch.testing.assert_close(silu_and_mul(x), SiluAndMul()(x), **EW_TOL[dtype])
