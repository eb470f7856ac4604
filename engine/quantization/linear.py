"""The FP8 GEMM of one linear layer: y = (x quantized) @ (FP8 weight)^T, rescaled, plus bias.

Weights are FP8 codes [out, in] with one float32 scale per output channel; activations are quantized
per token on the fly (dynamic) or with a static per-tensor scale from the checkpoint, or arrive already
quantized (`Fp8Activation`, from the fused RMSNorm / SiLU-and-mul kernels). On a CUDA device with FP8
support this is `torch._scaled_mm` with row-wise scales (scale_a [M, 1], scale_b [1, N], float32; the
CUTLASS row-wise kernel with fast accumulation; bf16 out, bf16 bias inside the kernel); the weight's
transpose is a free view in the column-major layout it wants. The activation quantizer is one Triton
launch. GEMMs of at most TEECUBE_FP8_SKINNY_MAX_M (256) tokens (decode batches) run the Triton
skinny-M kernel of engine/kernels/fp8_gemm.py instead where it was measured faster: by default on a GPU
with a shipped tiling table (engine/kernels/configs/), for the shapes in it; TEECUBE_FP8_SKINNY_GEMM=1
everywhere (tilings from TEECUBE_FP8_SKINNY_TUNED, gpu/fp8_gemm_bench.py's JSON, where given; with
TEECUBE_FP8_SKINNY_W8A16=1 unquantized bf16/fp16 inputs are taken as they are), =0 never.
Anywhere else, and for shapes the kernels refuse
(in or out features not a multiple of 16), the reference: dequantize both operands, multiply in fp32,
cast."""

from __future__ import annotations

import os
from functools import cache

import torch

from engine.quantization.fp8 import Fp8Activation, dequantize, quantize_per_tensor, quantize_per_token

# Hopper's FP8 MMA accumulates in reduced precision unless promoted every few k-steps; fast accumulation
# skips the promotion (vLLM, torchao and fbgemm use it for inference). TEECUBE_FP8_FAST_ACCUM=0 disables.
FAST_ACCUM = os.environ.get("TEECUBE_FP8_FAST_ACCUM", "1") != "0"
# The Triton skinny-M GEMM for decode-sized batches (fast accumulation only). Unset: on a GPU with a
# shipped tiling table (engine/kernels/configs/; H100/H200-class sm_90 with 132 SMs), for the shapes it
# measured; 1: everywhere it applies (pick_config where no table says otherwise); 0: off.
SKINNY_ENV = os.environ.get("TEECUBE_FP8_SKINNY_GEMM", "auto")
SKINNY = SKINNY_ENV in ("1", "auto") and FAST_ACCUM
SKINNY_AUTO = SKINNY_ENV == "auto"
SKINNY_MAX_M = int(os.environ.get("TEECUBE_FP8_SKINNY_MAX_M", "256"))
# With it, a bf16/fp16 input with dynamic scales (o_proj's: no fused quantizer before it) is not
# quantized: the kernel widens the weight tiles and runs a 16-bit dot (W8A16), one launch fewer.
SKINNY_W8A16 = os.environ.get("TEECUBE_FP8_SKINNY_W8A16", "0") == "1"


def fp8_linear(
    x: torch.Tensor | Fp8Activation,
    weight: torch.Tensor,
    weight_scale: torch.Tensor,
    bias: torch.Tensor | None = None,
    input_scale: torch.Tensor | None = None,
) -> torch.Tensor:
    """x [..., in] (bf16/fp16/fp32, or an Fp8Activation with dynamic per-token scales); weight FP8
    [out, in]; weight_scale float32 [out]; input_scale: a 0-dim float32 static activation scale, or None
    (dynamic, per token)."""
    if isinstance(x, Fp8Activation):
        assert input_scale is None, "a pre-quantized activation has dynamic per-token scales"
        lead, dtype = x.codes.shape[:-1], x.dtype
        codes = x.codes.reshape(-1, x.codes.shape[-1])
        scales = x.scales.reshape(-1, 1)
    else:
        lead, dtype = x.shape[:-1], x.dtype
        x2 = x.reshape(-1, x.shape[-1])
        a16 = SKINNY_W8A16 and input_scale is None and dtype in _A16_DTYPES
        if a16 and (skinny := _skinny_for(x2, weight)) is not None and not SKINNY_AUTO:
            y = skinny.fp8_gemm_skinny(x2.contiguous(), None, weight, weight_scale, bias, dtype)
            return y.reshape(*lead, weight.shape[0])
        codes, scales = quantize_activation(x2, input_scale)
    out_features, in_features = weight.shape
    skinny = _skinny_for(codes, weight)
    config = None
    if skinny is not None:  # None also where a tuned table prefers _scaled_mm
        config = _skinny_config(skinny, codes, out_features, in_features)
    if config is not None:
        y = skinny.fp8_gemm_skinny(codes, scales, weight, weight_scale, bias, dtype, config)
    elif codes.is_cuda and in_features % 16 == 0 and out_features % 16 == 0:
        y = scaled_mm(codes, scales, weight, weight_scale, bias, dtype)
    else:
        y = reference_gemm(codes, scales, weight, weight_scale, dtype)
        if bias is not None:
            y = y + bias
    return y.reshape(*lead, out_features)


_A16_DTYPES = (torch.bfloat16, torch.float16)


def _skinny_for(x: torch.Tensor, weight: torch.Tensor):
    """engine.kernels.fp8_gemm when it takes this GEMM (switch on, CUDA, M small, shape supported, not
    capturing before its counters exist), else None."""
    if not (SKINNY and x.is_cuda and x.shape[0] <= SKINNY_MAX_M):
        return None
    skinny = _skinny_kernel()
    if skinny is None or not skinny.supported(*weight.shape) or not skinny.ready(x.device):
        return None
    return skinny


def _skinny_config(skinny, codes: torch.Tensor, n: int, k: int):
    """The kernel's tiling for this GEMM, or None for _scaled_mm: the user's table
    (TEECUBE_FP8_SKINNY_TUNED) or, unset, the one shipped for this GPU (measured shapes only in auto)."""
    sms = skinny.num_sms(codes.device)
    path = skinny.TUNED_PATH
    if path is None and SKINNY_AUTO:
        path = skinny.shipped_table(codes.device)
        if path is None:
            return None
    return skinny.choose(codes.shape[0], n, k, sms, path, measured_only=SKINNY_AUTO)


def quantize_activation(
    x: torch.Tensor, input_scale: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """x [T, in] -> (codes, float32 scales [T, 1]): the Triton quantizer on CUDA, else the PyTorch ops."""
    quantize = _triton_quantizer() if x.is_cuda else None
    if quantize is not None:
        return quantize(x.contiguous(), None if input_scale is None else input_scale.reshape(1))
    return quantize_input(x, input_scale)


def quantize_input(x: torch.Tensor, input_scale: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes [T, in], scales [T, 1]) with the PyTorch ops: per token, or the static scale on every row."""
    if input_scale is None:
        return quantize_per_token(x)
    codes, scale = quantize_per_tensor(x, input_scale)
    return codes, scale.expand(x.shape[0], 1).contiguous()  # _scaled_mm wants a [T, 1] column


def reference_gemm(
    codes: torch.Tensor,
    scales: torch.Tensor,
    weight: torch.Tensor,
    weight_scale: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Dequantize both operands, matmul in fp32, cast to dtype."""
    w = dequantize(weight, weight_scale.view(-1, 1))
    return (dequantize(codes, scales) @ w.t()).to(dtype)


def reference_fp8_linear(
    x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, input_scale: torch.Tensor | None
) -> torch.Tensor:
    """The same quantization as the CUDA path, then dequantize and matmul in fp32 (tests, CPU)."""
    codes, scales = quantize_input(x, input_scale)
    return reference_gemm(codes, scales, weight, weight_scale, x.dtype)


def scaled_mm(
    codes: torch.Tensor,
    scales: torch.Tensor,
    weight: torch.Tensor,
    weight_scale: torch.Tensor,
    bias: torch.Tensor | None,
    dtype: torch.dtype,
    fast_accum: bool = FAST_ACCUM,
) -> torch.Tensor:
    """codes [M, K] FP8, scales [M, 1] float32, weight FP8 [N, K], weight_scale [N] -> [M, N] in dtype.
    Row-wise scaling writes bf16 only; other model dtypes get a cast (and the bias after it)."""
    fused_bias = bias if bias is not None and bias.dtype == torch.bfloat16 and bias_fusable() else None
    y = torch._scaled_mm(
        codes,
        weight.t(),
        scale_a=scales,
        scale_b=weight_scale.view(1, -1),
        bias=fused_bias,
        out_dtype=torch.bfloat16,
        use_fast_accum=fast_accum,
    )
    if dtype != torch.bfloat16:
        y = y.to(dtype)
    if bias is not None and fused_bias is None:
        y = y + bias
    return y


@cache
def bias_fusable() -> bool:
    """Whether this torch's row-wise _scaled_mm takes a bf16 bias (checked once, on a 16 x 16 GEMM;
    LinearBase asks when it turns FP8, so the check never runs inside a CUDA-graph capture)."""
    a = torch.zeros((16, 16), device="cuda").to(torch.float8_e4m3fn)
    one = torch.ones((16, 1), device="cuda")
    try:
        torch._scaled_mm(
            a,
            a.t(),
            scale_a=one,
            scale_b=one.view(1, -1),
            bias=torch.zeros(16, device="cuda", dtype=torch.bfloat16),
            out_dtype=torch.bfloat16,
        )
    except RuntimeError:
        return False
    return True


@cache
def _triton_quantizer():
    try:
        from engine.quantization.kernels import quantize_rows
    except ImportError:
        return None
    return quantize_rows


@cache
def _skinny_kernel():
    """engine.kernels.fp8_gemm, or None without Triton."""
    try:
        from engine.kernels import fp8_gemm
    except ImportError:
        return None
    return fp8_gemm


def prepare_skinny(device: torch.device) -> None:
    """Make the skinny GEMM's split-K counters on a device (outside CUDA-graph capture)."""
    kernel = _skinny_kernel() if SKINNY else None
    if kernel is not None:
        kernel.prepare(device)
