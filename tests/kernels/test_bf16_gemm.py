"""engine/kernels/bf16_gemm.py: which 16-bit linears take the skinny kernel (the shipped H200 table:
qwen3-0.6b's o and down at decode sizes), F.linear for everything else, and the kernel's answer at a
table's tiling under the Triton interpreter (fp32 operands: the interpreter's bf16 maths is not the
GPU's)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from engine.kernels import bf16_gemm

H200_TABLE = str(bf16_gemm.SHIPPED_TABLES[(9, 0, 132)])


def config_for(m: int, n: int, k: int, dtype: torch.dtype = torch.bfloat16):
    return bf16_gemm.skinny_config(torch.empty(m, k, dtype=dtype), torch.empty(n, k, dtype=dtype), H200_TABLE)


def test_the_h200_table_routes_o_and_down_at_decode_sizes() -> None:
    o, down, qkv, gate_up = (1024, 2048), (1024, 3072), (4096, 1024), (6144, 1024)
    assert config_for(1, *o).split_k == 8 and config_for(8, *o).split_k == 8
    assert config_for(32, *o).split_k == 4
    assert config_for(64, *o) is None  # cuBLAS as fast from 64 rows
    assert all(config_for(m, *down) is not None for m in (1, 7, 33, 128))
    assert config_for(129, *down) is None and config_for(256, *down) is None
    assert config_for(1, *qkv) is None and config_for(16, *qkv) is not None
    assert config_for(40, *gate_up) is None


def test_unmeasured_shapes_dtypes_and_sizes_stay_on_f_linear() -> None:
    assert config_for(8, 4096, 4096) is None  # llama3-8b o: not in the bf16 table
    assert config_for(8, 1024, 2048, torch.float32) is None
    assert config_for(300, 1024, 3072) is None
    assert config_for(0, 1024, 3072) is None
    x, w = torch.randn(4, 2048), torch.randn(1024, 2048)
    assert bf16_gemm.skinny_config(x.bfloat16(), w.bfloat16()) is None  # a CPU: no table
    torch.testing.assert_close(bf16_gemm.linear(x, w), F.linear(x, w))


def test_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bf16_gemm, "BF16_SKINNY", False)
    assert config_for(8, 1024, 2048) is None


@pytest.mark.parametrize("m", [3, 32])
def test_the_tables_tiling_computes_the_linear(m: int) -> None:
    from engine.kernels.fp8_gemm import fp8_gemm_skinny

    config = config_for(m, 1024, 2048)
    gen = torch.Generator().manual_seed(m)
    x, w = torch.randn(m, 2048, generator=gen), torch.randn(1024, 2048, generator=gen) * 0.05
    bias = torch.randn(1024, generator=gen)
    y = fp8_gemm_skinny(x, None, w, None, bias, out_dtype=torch.float32, config=config)
    torch.testing.assert_close(y, F.linear(x, w, bias), rtol=1e-4, atol=1e-4)
