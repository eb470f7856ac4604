"""The skinny-M Triton FP8 GEMM (engine/kernels/fp8_gemm.py) on an FP8-capable GPU: against
torch._scaled_mm (row-wise scales, fast accumulation) and the fp32 reference at llama3-8b's layer shapes
and decode batch sizes; a few non-default tilings; bias; CUDA-graph replays of a split-K launch (the
ticket counters reset); and fp8_linear routing to it with the switch on.

Run: `pytest tests/gpu/test_fp8_gemm_gpu.py -m gpu -q` (skipped without compute capability >= 8.9)."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton")
FP8_GPU = torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 9)
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not FP8_GPU, reason="needs a GPU with compute capability >= 8.9"),
]

from engine.kernels.fp8_gemm import SkinnyConfig, fp8_gemm_skinny, pick_config  # noqa: E402
from engine.quantization import linear  # noqa: E402
from engine.quantization.fp8 import quantize_per_channel  # noqa: E402
from engine.quantization.kernels import quantize_rows  # noqa: E402

CUDA = "cuda"
LLAMA3_8B = {"qkv": (4096, 6144), "o": (4096, 4096), "gate_up": (4096, 28672), "down": (14336, 4096)}


def operands(m: int, k: int, n: int, seed: int = 0):
    gen = torch.Generator(device=CUDA).manual_seed(seed)
    x = torch.randn(m, k, device=CUDA, generator=gen).to(torch.bfloat16)
    w = (torch.randn(n, k, device=CUDA, generator=gen) * 0.02).to(torch.bfloat16)
    codes, scales = quantize_rows(x)
    wq, ws = quantize_per_channel(w)
    return codes, scales, wq, ws


def assert_matches(y: torch.Tensor, codes, scales, wq, ws) -> None:
    k = codes.shape[1]
    expected = linear.reference_gemm(codes, scales, wq, ws, torch.float32)
    mm = linear.scaled_mm(codes, scales, wq, ws, None, torch.bfloat16).float()
    # the fast-accumulation bounds of tests/gpu/test_fp8_gpu.py, against the reference and _scaled_mm
    for ref in (expected, mm):
        worst = (y.float() - ref).abs().max().item()
        assert worst < 0.08 * (k / 4096) ** 0.5, worst
        assert ((y.float() - ref).norm() / ref.norm()).item() < 4e-3


@pytest.mark.parametrize("tma", [False, True])
@pytest.mark.parametrize("m", [1, 16, 64, 128, 256])
@pytest.mark.parametrize("name", list(LLAMA3_8B))
def test_skinny_gemm_matches_scaled_mm(name: str, m: int, tma: bool) -> None:
    k, n = LLAMA3_8B[name]
    codes, scales, wq, ws = operands(m, k, n)
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    y = fp8_gemm_skinny(codes, scales, wq, ws, config=pick_config(m, n, k, sms, tma=tma))
    assert y.dtype == torch.bfloat16 and y.shape == (m, n)
    assert_matches(y, codes, scales, wq, ws)


VARIANTS = [
    SkinnyConfig(64, 128, 128, 1, 4, 4, swap_ab=False),
    SkinnyConfig(128, 128, 128, 4, 3, 8, swap_ab=True),
    SkinnyConfig(32, 64, 256, 2, 3, 4, swap_ab=True),
    SkinnyConfig(16, 64, 128, 5, 5, 4, swap_ab=False),
    SkinnyConfig(128, 64, 128, 3, 4, 4, swap_ab=True, tma=True),
    SkinnyConfig(16, 128, 128, 1, 4, 4, swap_ab=True, tma=True),
    SkinnyConfig(64, 128, 128, 2, 4, 4, swap_ab=False, tma=True),
]


@pytest.mark.parametrize("config", VARIANTS, ids=str)
@pytest.mark.parametrize("m", [7, 100])
def test_other_tilings(config: SkinnyConfig, m: int) -> None:
    codes, scales, wq, ws = operands(m, 4096, 3072 + 80, seed=1)  # N not a multiple of BLOCK_N
    assert_matches(fp8_gemm_skinny(codes, scales, wq, ws, config=config), codes, scales, wq, ws)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_bias_and_output_dtype(dtype: torch.dtype) -> None:
    codes, scales, wq, ws = operands(33, 1024, 640, seed=2)
    bias = torch.randn(640, device=CUDA).to(dtype)
    y = fp8_gemm_skinny(codes, scales, wq, ws, bias, dtype)
    assert y.dtype == dtype
    expected = linear.reference_gemm(codes, scales, wq, ws, torch.float32) + bias.float()
    torch.testing.assert_close(y.float(), expected, atol=3e-2, rtol=2e-2)


def test_split_k_replays_in_a_cuda_graph() -> None:
    k, n = LLAMA3_8B["down"]
    codes, scales, wq, ws = operands(128, k, n, seed=3)
    cfg = pick_config(128, n, k, torch.cuda.get_device_properties(0).multi_processor_count)
    assert cfg.split_k > 1
    eager = fp8_gemm_skinny(codes, scales, wq, ws)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        fp8_gemm_skinny(codes, scales, wq, ws)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fp8_gemm_skinny(codes, scales, wq, ws)
    for _ in range(3):
        out.zero_()
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(out, eager)  # deterministic split order, counters reset after each launch


@pytest.mark.parametrize("m", [1, 64, 128, 256])
@pytest.mark.parametrize("name", ["o", "down"])
def test_w8a16_matches_the_bf16_matmul_of_the_dequantized_weight(name: str, m: int) -> None:
    k, n = LLAMA3_8B[name]
    gen = torch.Generator(device=CUDA).manual_seed(5)
    x = torch.randn(m, k, device=CUDA, generator=gen).to(torch.bfloat16)
    wq, ws = quantize_per_channel(torch.randn(n, k, device=CUDA, generator=gen) * 0.02)
    y = fp8_gemm_skinny(x, None, wq, ws)
    expected = x.float() @ (wq.float() * ws[:, None]).t()  # products exact in bf16 x e4m3, fp32 sums
    torch.testing.assert_close(y.float(), expected, rtol=1e-2, atol=1e-2)


def test_fp8_linear_routes_small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    k, n = LLAMA3_8B["qkv"]
    gen = torch.Generator(device=CUDA).manual_seed(4)
    x = torch.randn(64, k, device=CUDA, generator=gen).to(torch.bfloat16)
    wq, ws = quantize_per_channel(torch.randn(n, k, device=CUDA, generator=gen) * 0.02)
    monkeypatch.setattr(linear, "SKINNY_AUTO", False)  # forced on (=1), not the shipped table's choice
    monkeypatch.setattr(linear, "SKINNY", False)
    off = linear.fp8_linear(x, wq, ws)
    monkeypatch.setattr(linear, "SKINNY", True)
    on = linear.fp8_linear(x, wq, ws)
    codes, scales = quantize_rows(x)
    assert torch.equal(on, fp8_gemm_skinny(codes, scales, wq, ws))
    assert ((on.float() - off.float()).norm() / off.float().norm()).item() < 4e-3
    monkeypatch.setattr(linear, "SKINNY_W8A16", True)  # a bf16 input is not quantized
    assert torch.equal(linear.fp8_linear(x, wq, ws), fp8_gemm_skinny(x, None, wq, ws))
    monkeypatch.setattr(linear, "SKINNY_MAX_M", 32)  # above the threshold: _scaled_mm again
    assert torch.equal(linear.fp8_linear(x, wq, ws), off)
