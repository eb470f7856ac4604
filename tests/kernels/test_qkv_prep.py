"""The fused q/k-norm + rotary + K/V store kernel against the separate kernels it replaces (bit for bit
without the norm, within one rounding step with it) and against the engine's PyTorch layers."""

from __future__ import annotations

import pytest
import torch

from engine.kernels import qkv_prep, rms_norm, rotary_embedding, store_kvcache
from engine.layers.attention import store_kvcache as torch_store_kvcache
from engine.layers.layernorm import RMSNorm
from engine.layers.rotary_embedding import RotaryEmbedding
from engine.quantization.fp8 import FP8_DTYPE

Q_HEADS, KV_HEADS, BLOCKS, BLOCK_SIZE = 4, 2, 6, 4
TOL = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float16: dict(atol=2e-3, rtol=2e-3)}


def _inputs(dtype: torch.dtype, head_dim: int, num_tokens: int = 7, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    qkv = (torch.randn(num_tokens, (Q_HEADS + 2 * KV_HEADS) * head_dim, generator=g) * 3).to(dtype)
    positions = torch.tensor([0, 1, 9, 300, 511, 3, 42][:num_tokens])
    slots = torch.tensor([0, 5, -1, 23, 7, -1, 12][:num_tokens])
    q_w = (torch.rand(head_dim, generator=g) + 0.5).to(dtype)
    k_w = (torch.rand(head_dim, generator=g) + 0.5).to(dtype)
    return qkv, positions, slots, q_w, k_w


def _unfused(qkv, positions, slots, q_w, k_w, rope, cache_dtype, head_dim, k_scale, v_scale, *, triton: bool):
    """What engine.models.decoder.DecoderAttention does without the fused kernel."""
    qkv = qkv.clone()
    cache = torch.zeros(2, BLOCKS, BLOCK_SIZE, KV_HEADS, head_dim, dtype=cache_dtype)
    q_size, kv_size = Q_HEADS * head_dim, KV_HEADS * head_dim
    q, k, v = qkv.split([q_size, kv_size, kv_size], dim=-1)
    q, k, v = (x.view(-1, n, head_dim) for x, n in ((q, Q_HEADS), (k, KV_HEADS), (v, KV_HEADS)))
    if q_w is not None:
        if triton:
            q, _ = rms_norm(q, q_w, 1e-6)
            k, _ = rms_norm(k, k_w, 1e-6)
        else:
            q_norm, k_norm = RMSNorm(head_dim, 1e-6).to(q.dtype), RMSNorm(head_dim, 1e-6).to(q.dtype)
            q_norm.weight.data, k_norm.weight.data = q_w, k_w
            q, _ = q_norm(q)
            k, _ = k_norm(k)
    if triton:
        q, k = rotary_embedding(positions, q, k, rope.cos_sin_cache)
        store_kvcache(k, v, cache, slots, k_scale, v_scale)
    else:
        q, k = rope(positions, q, k)
        torch_store_kvcache(k, v, cache, slots, k_scale, v_scale)
    return q, cache


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("qk_norm", [True, False])
@pytest.mark.parametrize("rotary_dim", [32, 24])  # 24: partial rotary (Phi-3 style), a head tail only normed
@pytest.mark.parametrize("fp8", [False, True])
def test_fused_equals_separate_kernels(dtype: torch.dtype, qk_norm: bool, rotary_dim: int, fp8: bool) -> None:
    head_dim = 32
    qkv, positions, slots, q_w, k_w = _inputs(dtype, head_dim)
    if not qk_norm:
        q_w = k_w = None
    rope = RotaryEmbedding(head_dim, max_position=512, base=10000.0, rotary_dim=rotary_dim)
    cache_dtype = FP8_DTYPE if fp8 else dtype
    k_scale, v_scale = (0.05, 0.02) if fp8 else (1.0, 1.0)
    expected_q, expected_cache = _unfused(
        qkv, positions, slots, q_w, k_w, rope, cache_dtype, head_dim, k_scale, v_scale, triton=True
    )
    fused_qkv = qkv.clone()
    cache = torch.zeros(2, BLOCKS, BLOCK_SIZE, KV_HEADS, head_dim, dtype=cache_dtype)
    q = qkv_prep(
        fused_qkv, positions, rope.cos_sin_cache, cache, slots, Q_HEADS, KV_HEADS, head_dim,
        q_w, k_w, 1e-6, k_scale, v_scale,
    )
    assert q.shape == (qkv.shape[0], Q_HEADS, head_dim) and q.data_ptr() == fused_qkv.data_ptr()
    if qk_norm:  # the sum of squares is reduced in another order: the last bit may differ
        torch.testing.assert_close(q, expected_q, **TOL[dtype])
        tol = dict(atol=0.0, rtol=0.13) if fp8 else TOL[dtype]  # at most one e4m3 step (2^-3)
        torch.testing.assert_close(cache.float(), expected_cache.float(), **tol)
    else:
        assert torch.equal(q, expected_q)
        assert torch.equal(cache.view(torch.uint8), expected_cache.view(torch.uint8))
    # k and v stay as the projection wrote them; only q is rewritten in place
    assert torch.equal(fused_qkv[:, Q_HEADS * head_dim :], qkv[:, Q_HEADS * head_dim :])


@pytest.mark.parametrize("qk_norm", [True, False])
def test_fused_matches_pytorch_layers(qk_norm: bool) -> None:
    head_dim = 64
    qkv, positions, slots, q_w, k_w = _inputs(torch.float32, head_dim, seed=3)
    if not qk_norm:
        q_w = k_w = None
    rope = RotaryEmbedding(head_dim, max_position=512, base=1e6)
    expected_q, expected_cache = _unfused(
        qkv, positions, slots, q_w, k_w, rope, torch.float32, head_dim, 1.0, 1.0, triton=False
    )
    cache = torch.zeros_like(expected_cache)
    q = qkv_prep(
        qkv.clone(), positions, rope.cos_sin_cache, cache, slots, Q_HEADS, KV_HEADS, head_dim, q_w, k_w
    )
    torch.testing.assert_close(q, expected_q, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cache, expected_cache, atol=1e-5, rtol=1e-5)
    # slot -1 rows (CUDA-graph padding) write nothing: their would-be slots stay zero
    written = torch.zeros(BLOCKS * BLOCK_SIZE, dtype=torch.bool)
    written[slots[slots >= 0]] = True
    assert not cache[:, ~written.view(BLOCKS, BLOCK_SIZE)].any()


def test_no_tokens() -> None:
    rope = RotaryEmbedding(32, max_position=16, base=10000.0)
    qkv = torch.empty(0, (Q_HEADS + 2 * KV_HEADS) * 32)
    cache = torch.zeros(2, BLOCKS, BLOCK_SIZE, KV_HEADS, 32)
    q = qkv_prep(qkv, torch.empty(0, dtype=torch.long), rope.cos_sin_cache, cache,
                 torch.empty(0, dtype=torch.long), Q_HEADS, KV_HEADS, 32)
    assert q.shape == (0, Q_HEADS, 32) and not cache.any()
