"""Triton RMSNorm (+ residual), rotary embedding and SiLU-and-mul vs the engine's PyTorch layers."""

from __future__ import annotations

import pytest
import torch

from engine.kernels import rms_norm, rotary_embedding, silu_and_mul
from engine.layers.activation import SiluAndMul
from engine.layers.layernorm import RMSNorm
from engine.layers.rotary_embedding import RotaryEmbedding

TOL = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float16: dict(atol=2e-3, rtol=2e-3)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("with_residual", [False, True])
def test_rms_norm(dtype: torch.dtype, with_residual: bool) -> None:
    hidden = 48  # not a power of two: the tile is masked
    layer = RMSNorm(hidden, eps=1e-5).to(dtype)
    layer.weight.data = torch.randn(hidden).to(dtype)
    x = torch.randn(5, hidden).to(dtype) * 3
    residual = torch.randn(5, hidden).to(dtype) if with_residual else None
    x_before = x.clone()
    expected_out, expected_res = layer(x, residual)
    out, new_residual = rms_norm(x, layer.weight, layer.eps, residual)
    assert out.dtype == expected_out.dtype
    torch.testing.assert_close(out, expected_out, **TOL[dtype])
    torch.testing.assert_close(new_residual, expected_res, **TOL[dtype])
    assert torch.equal(x, x_before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize(
    "rope_scaling",
    [None, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64}],
)
def test_rotary_in_place(dtype: torch.dtype, rope_scaling: dict | None) -> None:
    num_tokens, q_heads, kv_heads, head_dim = 6, 4, 2, 32
    rope = RotaryEmbedding(head_dim, max_position=512, base=10000.0, rope_scaling=rope_scaling)
    positions = torch.tensor([0, 1, 7, 300, 511, 3])
    # q and k as views of one qkv output, as the model splits them; v must stay untouched.
    qkv = torch.randn(num_tokens, (q_heads + 2 * kv_heads) * head_dim).to(dtype)
    q = qkv[:, : q_heads * head_dim].view(num_tokens, q_heads, head_dim)
    k = qkv[:, q_heads * head_dim : (q_heads + kv_heads) * head_dim].view(num_tokens, kv_heads, head_dim)
    v_before = qkv[:, (q_heads + kv_heads) * head_dim :].clone()
    expected_q, expected_k = rope(positions, q.clone(), k.clone())
    out_q, out_k = rotary_embedding(positions, q, k, rope.cos_sin_cache)
    assert out_q.data_ptr() == q.data_ptr() and out_k.data_ptr() == k.data_ptr()
    torch.testing.assert_close(q, expected_q, **TOL[dtype])
    torch.testing.assert_close(k, expected_k, **TOL[dtype])
    assert torch.equal(qkv[:, (q_heads + kv_heads) * head_dim :], v_before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("inter", [40, 1100])  # 1100: more than one 1024-column program per row
def test_silu_and_mul(dtype: torch.dtype, inter: int) -> None:
    x = torch.randn(3, 2 * inter).to(dtype) * 4
    out = silu_and_mul(x)
    assert out.shape == (3, inter) and out.dtype == dtype
    torch.testing.assert_close(out.float(), SiluAndMul()(x.float()), **TOL[dtype])
