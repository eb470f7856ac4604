"""engine/kernels/qkv_gemm.py: the QKV projection with qkv_prep in its epilogue, under the interpreter (fp16:
the interpreter's bf16 maths is not the GPU's), against F.linear followed by qkv_prep; with and without
the q/k norm, a bias, an FP8 cache, split-K and several token tiles; and where the route declines."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.kernels import qkv_gemm, qkv_prep
from engine.layers.rotary_embedding import RotaryEmbedding
from engine.quantization.fp8 import FP8_DTYPE, quantize_per_channel, quantize_per_token
from engine.quantization.linear import reference_gemm

Q_HEADS, KV_HEADS, HEAD_DIM, BLOCK_SIZE = 4, 2, 32, 4


@pytest.fixture(autouse=True)
def switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qkv_gemm, "FUSED_QKV_GEMM", True)


def case(m: int, k: int, seed: int, bias: bool):
    g = torch.Generator().manual_seed(seed)
    n = (Q_HEADS + 2 * KV_HEADS) * HEAD_DIM
    x = torch.randn(m, k, generator=g).half()
    w = (torch.randn(n, k, generator=g) * k**-0.5).half()
    b = (torch.randn(n, generator=g) * 0.1).half() if bias else None
    positions = torch.randint(0, 512, (m,), generator=g)
    blocks = m // BLOCK_SIZE + 4
    slots = torch.randperm(blocks * BLOCK_SIZE, generator=g)[:m]
    slots[::3] = -1  # padded rows store nothing
    norms = [(torch.rand(HEAD_DIM, generator=g) + 0.5).half() for _ in range(2)]
    return x, w, b, positions, slots, norms, blocks


@pytest.mark.parametrize(
    "m,k,qk_norm,fp8,bias",
    [
        (7, 128, True, False, False),  # qwen3-style norms
        (7, 128, False, False, True),  # llama / qwen2 (bias)
        (70, 128, True, True, False),  # two token tiles, an FP8 cache
        (5, 512, True, False, True),  # split-K (4 splits)
    ],
)
def test_fused_projection_equals_linear_then_qkv_prep(
    m: int, k: int, qk_norm: bool, fp8: bool, bias: bool
) -> None:
    x, w, b, positions, slots, norms, blocks = case(m, k, seed=m + k, bias=bias)
    rope = RotaryEmbedding(HEAD_DIM, max_position=512, base=1e6)
    cache_dtype = FP8_DTYPE if fp8 else torch.float16
    scales = (0.05, 0.02) if fp8 else (1.0, 1.0)
    caches = [torch.zeros(2, blocks, BLOCK_SIZE, KV_HEADS, HEAD_DIM, dtype=cache_dtype) for _ in "ab"]
    weights = norms if qk_norm else [None, None]
    qkv = F.linear(x.float(), w.float(), None if b is None else b.float()).half()
    expected_q = qkv_prep(
        qkv, positions, rope.cos_sin_cache, caches[0], slots, Q_HEADS, KV_HEADS, HEAD_DIM, *weights, 1e-6,
        *scales,
    )
    q = qkv_gemm.qkv_linear_prep(
        x, w, b, positions, rope.cos_sin_cache, caches[1], slots, Q_HEADS, KV_HEADS, HEAD_DIM,
        *weights, 1e-6, *scales,
    )
    assert q is not None and q.shape == (m, Q_HEADS, HEAD_DIM) and q.is_contiguous()
    torch.testing.assert_close(q.float(), expected_q.float(), atol=4e-3, rtol=4e-3)
    tol = dict(atol=0.0, rtol=0.13) if fp8 else dict(atol=4e-3, rtol=4e-3)  # FP8: one e4m3 step at most
    torch.testing.assert_close(caches[1].float(), caches[0].float(), **tol)
    assert (caches[1].float() != 0).any()


@pytest.mark.parametrize(
    "m,k,qk_norm,bias", [(7, 256, False, True), (70, 256, True, False), (5, 1024, False, False)]
)
def test_fp8_weights_equal_the_fp8_linear_then_qkv_prep(m: int, k: int, qk_norm: bool, bias: bool) -> None:
    """FP8 weights (per-channel scales) on an activation quantized per token, an FP8 cache: q and the cache
    as fp8_linear's reference GEMM (both scales, then the bias) followed by qkv_prep. (5, 1024): split-K."""
    x, w, b, positions, slots, norms, blocks = case(m, k, seed=3 * m + k, bias=bias)
    x_codes, x_scales = quantize_per_token(x.float())
    w_codes, w_scales = quantize_per_channel(w.float())
    rope = RotaryEmbedding(HEAD_DIM, max_position=512, base=1e6)
    caches = [torch.zeros(2, blocks, BLOCK_SIZE, KV_HEADS, HEAD_DIM, dtype=FP8_DTYPE) for _ in "ab"]
    weights = norms if qk_norm else [None, None]
    qkv = reference_gemm(x_codes, x_scales, w_codes, w_scales, torch.float32)
    qkv = (qkv if b is None else qkv + b.float()).half()
    expected_q = qkv_prep(
        qkv, positions, rope.cos_sin_cache, caches[0], slots, Q_HEADS, KV_HEADS, HEAD_DIM, *weights, 1e-6,
        0.05, 0.02,
    )
    q = qkv_gemm.qkv_linear_prep(
        x_codes, w_codes, b, positions, rope.cos_sin_cache, caches[1], slots, Q_HEADS, KV_HEADS, HEAD_DIM,
        *weights, 1e-6, 0.05, 0.02, fp8_scales=(x_scales, w_scales, torch.float16),
    )
    assert q is not None and q.dtype == torch.float16 and q.shape == (m, Q_HEADS, HEAD_DIM)
    torch.testing.assert_close(q.float(), expected_q.float(), atol=4e-3, rtol=4e-3)
    torch.testing.assert_close(caches[1].float(), caches[0].float(), atol=0.0, rtol=0.13)
    assert (caches[1].float() != 0).any()


def test_the_route_declines_what_it_does_not_cover(monkeypatch: pytest.MonkeyPatch) -> None:
    x, w, _, positions, slots, _, blocks = case(7, 128, seed=1, bias=False)
    cache = torch.zeros(2, blocks, BLOCK_SIZE, KV_HEADS, HEAD_DIM, dtype=torch.float16)
    rope = RotaryEmbedding(HEAD_DIM, max_position=512, base=1e6)

    def run(x: torch.Tensor, w: torch.Tensor, cos_sin: torch.Tensor = rope.cos_sin_cache):
        n = x.shape[0]
        return qkv_gemm.qkv_linear_prep(
            x, w, None, positions[:n].repeat(n // 7 + 1)[:n], cos_sin, cache, slots.repeat(n // 7 + 1)[:n],
            Q_HEADS, KV_HEADS, HEAD_DIM,
        )

    assert run(x, w) is not None
    assert run(x.float(), w.float()) is None  # fp32 models keep the unfused path
    assert run(x.repeat(40, 1), w) is None  # 280 tokens: past decode sizes
    assert run(x[:0], w) is None  # no tokens (the tiling, asked first, divided by zero)
    partial = RotaryEmbedding(HEAD_DIM, max_position=512, base=1e6, rotary_dim=16).cos_sin_cache
    assert run(x, w, partial) is None  # partial rotary
    x_codes, x_scales = quantize_per_token(x.float())
    w_codes, w_scales = quantize_per_channel(w.float())

    def run_fp8(w_scales: torch.Tensor, x_scales: torch.Tensor = x_scales) -> torch.Tensor | None:
        return qkv_gemm.qkv_linear_prep(
            x_codes, w_codes, None, positions, rope.cos_sin_cache, cache, slots, Q_HEADS, KV_HEADS, HEAD_DIM,
            fp8_scales=(x_scales, w_scales, torch.float16),
        )

    assert run_fp8(w_scales) is not None
    assert run_fp8(w_scales.view(-1, 1).expand(-1, 2)) is None  # a block-scale grid, not per channel
    assert run_fp8(w_scales, x_scales.double()) is None
    assert run(x_codes, w_codes) is None  # FP8 codes without their scales
    monkeypatch.setattr(qkv_gemm, "FUSED_QKV_GEMM", False)
    assert run(x, w) is None
