"""The fused FP8 activation kernels under the Triton interpreter: RMSNorm and SiLU-and-mul writing
per-token e4m3 codes and scales, against the unfused kernel followed by the PyTorch quantizer.

As in test_fp8_kv.py, the interpreter's float -> e4m3 conversion is not the GPU's, so the exact tests
use inputs whose quantized form is exactly representable (power-of-two scales); random inputs are
checked against the unfused kernel followed by the Triton quantizer (the same conversion): equal bytes.
Rounding on the GPU: tests/gpu/test_fp8_gpu.py."""

from __future__ import annotations

import pytest
import torch

from engine.kernels import rms_norm, rms_norm_fp8, silu_and_mul, silu_and_mul_fp8
from engine.layers.activation import SiluAndMul
from engine.layers.layernorm import RMSNorm
from engine.quantization.fp8 import FP8_DTYPE, FP8_MAX, Fp8Activation, quantize_per_token
from engine.quantization.kernels import quantize_rows
from engine.quantization.linear import fp8_linear
from tests.kernels.test_fp8_kv import representable


def assert_same_codes(got: Fp8Activation, codes: torch.Tensor, scales: torch.Tensor) -> None:
    assert got.codes.dtype == FP8_DTYPE and got.scales.dtype == torch.float32
    assert got.scales.shape == (codes.shape[0], 1)
    torch.testing.assert_close(got.scales, scales, rtol=0, atol=0)
    assert torch.equal(got.codes.view(torch.uint8), codes.view(torch.uint8))


@pytest.mark.parametrize("with_residual", [False, True])
@pytest.mark.parametrize("hidden", [48, 96])
def test_rms_norm_fp8_exact_codes(hidden: int, with_residual: bool) -> None:
    # rows of +-2^k (eps 0): the norm is exactly +-1, so y = +-w, and w holds e4m3 codes times 2^-3
    # with its max |w| at 448 * 2^-3: a power-of-two scale, every code exact
    signs = torch.randn(5, hidden, generator=torch.Generator().manual_seed(1)).sign()
    x = signs * 2.0 ** torch.tensor([-3.0, 0.0, 2.0, 5.0, -1.0])[:, None]
    w = representable((hidden,), 2.0**-3, 2).clamp(-FP8_MAX / 8, FP8_MAX / 8)
    w[hidden // 3] = FP8_MAX / 8
    residual = x / 2 if with_residual else None
    x_in = x / 2 if with_residual else x
    got, new_residual = rms_norm_fp8(x_in, w, 0.0, residual)
    normed, expected_residual = rms_norm(x_in, w, 0.0, residual)
    codes, scales = quantize_per_token(normed)
    assert_same_codes(got, codes, scales)
    assert (scales == 2.0**-3).all()
    assert got.dtype == torch.float32
    torch.testing.assert_close(new_residual, expected_residual, rtol=0, atol=0)


@pytest.mark.parametrize("with_residual", [False, True])
def test_rms_norm_fp8_random_rows_track_the_unfused_norm(with_residual: bool) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(7, 200, generator=gen) * 3
    residual = torch.randn(7, 200, generator=gen) if with_residual else None
    w = torch.rand(200, generator=gen) + 0.5
    got, new_residual = rms_norm_fp8(x, w, 1e-5, residual)
    normed, expected_residual = rms_norm(x, w, 1e-5, residual)
    torch.testing.assert_close(got.scales, quantize_per_token(normed)[1], rtol=0, atol=0)  # max |y| / 448
    assert_same_codes(got, *quantize_rows(normed))
    torch.testing.assert_close(new_residual, expected_residual, rtol=0, atol=0)


@pytest.mark.parametrize(
    "inter,one_pass_max,chunk",
    [(48, 16384, 4096), (3000, 16384, 4096), (9000, 16384, 4096), (3000, 1024, 512)],
)
def test_silu_and_mul_fp8_exact_codes(inter: int, one_pass_max: int, chunk: int) -> None:
    """One tile per row (9000: a 16k tile on 16 warps), and the chunked two-pass path with a ragged last
    chunk."""
    # gate = 32: silu(32) is 32 in fp32, so y = 32 * up, with up e4m3 codes times 2^e / 32 and the row
    # max at 448 * 2^e: power-of-two scales, exact codes
    exps = torch.tensor([-6.0, 0.0, 3.0, -2.0])
    up = torch.cat([representable((1, inter), 2.0**e / 32, 20 + i) for i, e in enumerate(exps.tolist())])
    bound = FP8_MAX * 2 ** exps[:, None] / 32
    up = up.clamp(-bound, bound)
    up[torch.arange(4), torch.arange(4) * (inter // 5)] = bound[:, 0]
    x = torch.cat([torch.full_like(up, 32.0), up], dim=-1)
    got = silu_and_mul_fp8(x, one_pass_max=one_pass_max, chunk=chunk)
    codes, scales = quantize_per_token(silu_and_mul(x))
    assert_same_codes(got, codes, scales)
    torch.testing.assert_close(scales[:, 0], 2.0**exps, rtol=0, atol=0)


def test_silu_and_mul_fp8_random_rows_track_the_unfused_op() -> None:
    x = torch.randn(2, 5, 2 * 300, generator=torch.Generator().manual_seed(5)) * 2
    got = silu_and_mul_fp8(x, one_pass_max=256, chunk=128)
    assert got.codes.shape == (2, 5, 300) and got.scales.shape == (2, 5, 1) and got.dtype == torch.float32
    got = Fp8Activation(got.codes.reshape(10, 300), got.scales.reshape(10, 1), got.dtype)
    y = silu_and_mul(x).reshape(10, 300)
    torch.testing.assert_close(got.scales, quantize_per_token(y)[1], rtol=0, atol=0)
    assert_same_codes(got, *quantize_rows(y))


def test_layers_hand_fp8_activations_to_the_linear_on_the_cpu() -> None:
    """The PyTorch paths of RMSNorm / SiluAndMul with fp8_out give what fp8_linear would quantize itself."""
    gen = torch.Generator().manual_seed(6)
    w_codes, w_scale = quantize_per_token(torch.randn(32, 64, generator=gen))
    w_scale = w_scale.view(-1)
    norm = RMSNorm(64, 1e-6)
    x, residual = torch.randn(2, 3, 64, generator=gen), torch.randn(2, 3, 64, generator=gen)
    act, new_residual = norm(x, residual, fp8_out=True)
    normed, expected_residual = norm(x, residual)
    assert isinstance(act, Fp8Activation)
    assert torch.equal(new_residual, expected_residual)
    expected = fp8_linear(normed, w_codes, w_scale)
    assert torch.equal(fp8_linear(act, w_codes, w_scale), expected) and expected.shape == (2, 3, 32)
    gate_up = torch.randn(6, 128, generator=gen)
    act = SiluAndMul()(gate_up, fp8_out=True)
    assert torch.equal(fp8_linear(act, w_codes, w_scale), fp8_linear(SiluAndMul()(gate_up), w_codes, w_scale))
