"""The 16-bit skinny GEMM route (engine/kernels/bf16_gemm.py) on a GPU: at qwen3-0.6b's linear shapes and
every decode batch size its output matches F.linear's within bf16 rounding, a split-K launch replays in a
CUDA graph, and LinearBase takes it where the shipped table says (a GPU without a table: F.linear).
With TEECUBE_BF16_SKINNY_TUNED=path the same checks run on that table (gpu/bf16_gemm_tune.py's), at
llama3-8b's shapes too.

Run: `pytest tests/gpu/test_bf16_gemm_gpu.py -m gpu -q`."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("triton")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")]

from engine.kernels import bf16_gemm, fp8_gemm  # noqa: E402
from engine.layers.linear import RowParallelLinear, prepare_split_k  # noqa: E402

CUDA = "cuda"
QWEN3 = {"qkv": (1024, 4096), "o": (2048, 1024), "gate_up": (1024, 6144), "down": (3072, 1024)}
LLAMA3 = {"llama3 qkv": (4096, 6144), "llama3 o": (4096, 4096), "llama3 gate_up": (4096, 28672),
          "llama3 down": (14336, 4096)}
SHAPES = QWEN3 | LLAMA3
TABLE = bf16_gemm.TUNED_PATH or str(bf16_gemm.SHIPPED_TABLES[(9, 0, 132)])


def operands(m: int, k: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator(device=CUDA).manual_seed(seed)
    x = torch.randn(m, k, device=CUDA, generator=gen).to(torch.bfloat16)
    w = (torch.randn(n, k, device=CUDA, generator=gen) * 0.02).to(torch.bfloat16)
    return x, w


@pytest.mark.parametrize("m", [1, 5, 8, 16, 31, 32, 64, 100, 128, 200, 256])
@pytest.mark.parametrize("name", list(SHAPES))
def test_table_tilings_match_f_linear(name: str, m: int) -> None:
    k, n = SHAPES[name]
    x, w = operands(m, k, n, seed=m)
    config = bf16_gemm.skinny_config(x, w, TABLE)
    if config is None:
        pytest.skip("cuBLAS at this size")
    fp8_gemm.prepare(torch.device(CUDA))
    from engine.kernels.fp8_gemm import fp8_gemm_skinny

    y = fp8_gemm_skinny(x, None, w, None, None, torch.bfloat16, config).float()
    ref = x.float() @ w.float().t()
    assert ((y - ref).norm() / ref.norm()).item() < 4e-3
    assert (y - ref).abs().max().item() < 0.02 * (k / 1024) ** 0.5


def test_split_k_replays_in_a_cuda_graph() -> None:
    k, n = QWEN3["down"]
    x, w = operands(8, k, n, seed=1)
    config = bf16_gemm.skinny_config(x, w, TABLE)
    assert config is not None
    if config.split_k == 1:  # a tuned table may not split here; the graph replay is what is tested
        config = dataclasses.replace(config, split_k=4)
    from engine.kernels.fp8_gemm import fp8_gemm_skinny

    fp8_gemm.prepare(torch.device(CUDA))
    eager = fp8_gemm_skinny(x, None, w, None, None, torch.bfloat16, config)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fp8_gemm_skinny(x, None, w, None, None, torch.bfloat16, config)
    for _ in range(3):
        out.zero_()
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(out, eager)


def test_linear_layers_take_the_route_where_the_table_says() -> None:
    k, n = QWEN3["down"]
    layer = RowParallelLinear(k, n).to(CUDA, torch.bfloat16)
    torch.nn.init.normal_(layer.weight, std=0.02)
    prepare_split_k(torch.device(CUDA))
    x = torch.randn(8, k, device=CUDA, dtype=torch.bfloat16)
    routed = bf16_gemm.skinny_config(x, layer.weight) is not None
    path = bf16_gemm.TUNED_PATH or bf16_gemm.shipped_table(x.device)
    sms = fp8_gemm.num_sms(x.device)
    expected = path is not None and fp8_gemm.choose(8, n, k, sms, path, measured_only=True) is not None
    assert routed == expected
    y = layer(x)
    ref = F.linear(x, layer.weight)
    assert ((y.float() - ref.float()).norm() / ref.float().norm()).item() < 4e-3
