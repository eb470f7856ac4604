"""The skinny-M FP8 GEMM (engine/kernels/fp8_gemm.py) under the Triton interpreter, against the fp32
reference of the quantized GEMM (dequantize both operands, matmul): swap-AB and plain tiles, several M
tiles with a ragged tail, ragged N, K splits (one of them empty), bias, TMA loads, W8A16, the split-K
counters left at zero for the next launch, and the tuned-table lookup. The codes come from torch's
conversion, so no e4m3 rounding happens in the interpreter; the dots are exact products of e4m3
values summed in fp32."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from engine.kernels.fp8_gemm import _COUNTERS, SkinnyConfig, choose, fp8_gemm_skinny, pick_config
from engine.quantization.fp8 import quantize_per_channel, quantize_per_token
from engine.quantization.linear import reference_gemm


def operands(m: int, n: int, k: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, k, generator=gen) * torch.logspace(-2, 1, m)[:, None]
    w = torch.randn(n, k, generator=gen) * 0.05
    codes, scales = quantize_per_token(x)
    wq, ws = quantize_per_channel(w)
    return codes, scales, wq, ws


CONFIGS = [
    SkinnyConfig(16, 64, 128, 1, 2, 4, swap_ab=True),
    SkinnyConfig(16, 64, 128, 1, 2, 4, swap_ab=False),
    SkinnyConfig(32, 64, 128, 2, 2, 4, swap_ab=True),
    SkinnyConfig(16, 32, 128, 3, 2, 4, swap_ab=False),  # 4 K blocks over 3 splits: the last is empty
    SkinnyConfig(64, 128, 64, 4, 2, 4, swap_ab=True),
    SkinnyConfig(16, 64, 128, 2, 2, 4, swap_ab=True, tma=True),
    SkinnyConfig(32, 32, 128, 1, 2, 4, swap_ab=False, tma=True),
]


@pytest.mark.parametrize("m", [1, 16, 37])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_skinny_gemm_matches_the_reference(m: int, config: SkinnyConfig) -> None:
    n, k = 200, 512  # N is not a multiple of any BLOCK_N
    codes, scales, wq, ws = operands(m, n, k)
    y = fp8_gemm_skinny(codes, scales, wq, ws, out_dtype=torch.float32, config=config)
    expected = reference_gemm(codes, scales, wq, ws, torch.float32)
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)
    if config.split_k > 1:
        assert not _COUNTERS[torch.device("cpu")].any()  # reset for the next launch
        again = fp8_gemm_skinny(codes, scales, wq, ws, out_dtype=torch.float32, config=config)
        assert torch.equal(again, y)  # the splits are summed in a fixed order


def test_default_config_bias_and_bf16_out() -> None:
    m, n, k = 24, 96, 384
    codes, scales, wq, ws = operands(m, n, k, seed=1)
    bias = torch.randn(n, generator=torch.Generator().manual_seed(2)).to(torch.bfloat16)
    y = fp8_gemm_skinny(codes, scales, wq, ws, bias, out_dtype=torch.bfloat16)
    assert y.dtype == torch.bfloat16 and y.shape == (m, n)
    expected = reference_gemm(codes, scales, wq, ws, torch.float32) + bias.float()
    torch.testing.assert_close(y.float(), expected, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize(
    "m,n,k", [(1, 6144, 4096), (64, 4096, 4096), (128, 28672, 4096), (128, 4096, 14336), (256, 6144, 4096)]
)
def test_default_tiling_of_llama3_8b_shapes(m: int, n: int, k: int) -> None:
    cfg = pick_config(m, n, k, 132)
    assert cfg.block_m >= min(m, 128)  # at most two M tiles (running together, one weight read)
    tiles = -(-m // cfg.block_m) * -(-n // cfg.block_n)
    assert tiles * cfg.split_k >= 0.7 * 132  # enough programs to keep every SM streaming
    assert (k // cfg.block_k) // cfg.split_k >= 4  # and enough K steps per program to pipeline


@pytest.mark.parametrize("config", [None, CONFIGS[1], CONFIGS[3]], ids=str)
def test_w8a16_widens_the_weight_tiles(config: SkinnyConfig | None) -> None:
    """Unquantized activations (fp32 here: the interpreter's bf16 maths is not the GPU's)."""
    m, n, k = 37, 200, 512
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(m, k, generator=gen)
    wq, ws = quantize_per_channel(torch.randn(n, k, generator=gen) * 0.05)
    y = fp8_gemm_skinny(x, None, wq, ws, out_dtype=torch.float32, config=config)
    expected = x @ (wq.float() * ws[:, None]).t()
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[2], CONFIGS[3]], ids=str)
def test_16_bit_weights_without_scales(config: SkinnyConfig) -> None:
    """A plain 16-bit GEMM (gpu/bf16_gemm_bench.py's candidate against cuBLAS): no weight scales, a bias,
    K splits; fp32 operands (the interpreter's bf16 maths is not the GPU's). An FP8 weight without
    scales, or a 16-bit one with them, is refused."""
    m, n, k = 21, 96, 512
    gen = torch.Generator().manual_seed(6)
    x, w, bias = torch.randn(m, k, generator=gen), torch.randn(n, k, generator=gen) * 0.05, torch.randn(n)
    y = fp8_gemm_skinny(x, None, w, None, bias, out_dtype=torch.float32, config=config)
    torch.testing.assert_close(y, x @ w.t() + bias, rtol=1e-5, atol=1e-5)
    wq, ws = quantize_per_channel(w)
    with pytest.raises(AssertionError, match="scales go with FP8 weights"):
        fp8_gemm_skinny(x, None, wq, None, out_dtype=torch.float32, config=config)
    with pytest.raises(AssertionError, match="scales go with FP8 weights"):
        fp8_gemm_skinny(x, None, w, ws, out_dtype=torch.float32, config=config)


def test_tuned_table_picks_by_measured_m(tmp_path) -> None:
    """TEECUBE_FP8_SKINNY_TUNED: the entry of the smallest measured M >= m, its M tile shrunk to fit;
    null routes to _scaled_mm; shapes not in the table get the default tiling."""
    tiled = SkinnyConfig(128, 64, 128, 2, 4, 4, swap_ab=True, tma=True)
    entries = [
        {"m": 64, "n": 4096, "k": 4096, "config": dataclasses.asdict(tiled)},
        {"m": 256, "n": 4096, "k": 4096, "config": None},
        {"m": 128, "n": 4096, "k": 4096, "config": dataclasses.asdict(tiled)},
    ]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"tuned": entries}))
    assert choose(8, 4096, 4096, 132, str(path)) == dataclasses.replace(tiled, block_m=16)
    assert choose(100, 4096, 4096, 132, str(path)) == tiled
    assert choose(200, 4096, 4096, 132, str(path)) is None
    assert choose(512, 4096, 4096, 132, str(path)) is None  # past the largest: the largest's entry
    assert choose(100, 6144, 4096, 132, str(path)) == pick_config(100, 6144, 4096, 132)


def test_the_shipped_table_is_used_only_for_the_shapes_it_measured() -> None:
    from engine.kernels import fp8_gemm

    path = str(fp8_gemm.SHIPPED_TABLES[(9, 0, 132)])
    measured = fp8_gemm.choose(64, 4096, 14336, 132, path, measured_only=True)  # llama3-8b down_proj
    assert measured is not None and measured.split_k == 4  # session 16's H200 tuning
    assert fp8_gemm.choose(64, 1024, 2048, 132, path, measured_only=True) is None  # not measured: _scaled_mm
    assert fp8_gemm.choose(64, 1024, 2048, 132, path) is not None  # forced on: the default tiling
    assert fp8_gemm.choose(128, 28672, 4096, 132, path, measured_only=True) is None  # _scaled_mm won there
