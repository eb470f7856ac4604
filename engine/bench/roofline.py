"""A lower bound on the workload's time on this GPU, from two ceilings measured in the same run.

Decode: every step reads the weights once plus the live KV cache once (all sequences start together;
sequence i is live for output_len[i] - 1 decode steps, its context growing from prompt_len[i] + 1), at
the measured device-to-device copy bandwidth. Prefill: 2 FLOPs per matmul parameter per prompt token
(plus the LM head once per sequence) at the measured bf16 matmul rate. Attention FLOPs are left out.

FP8 (`--quantization fp8`, `--kv-cache-dtype fp8`): the bytes come from the model and the cache as built
(1-byte weights plus their float32 per-channel scales, 1-byte K/V), and prefill runs at the measured FP8
rate (`torch._scaled_mm`, row-wise scales: the GEMM the engine runs).

Mixture of experts (`moe`): a decode step over B live sequences reads, in each MoE layer, the experts
its B * top_k routing choices hit: E * (1 - (1 - top_k / E)^B) of them in expectation under uniform
routing, each expert_bytes; prefill counts top_k experts' parameters per token (in matmul_params).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def measure_copy_bandwidth(device: torch.device | str, nbytes: int = 1 << 30, iters: int = 10) -> float:
    """Bytes per second of a large device-to-device copy, counting bytes read plus bytes written."""
    src = torch.empty(nbytes // 2, dtype=torch.bfloat16, device=device).normal_()
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        dst.copy_(src)
    end.record()
    end.synchronize()
    seconds = start.elapsed_time(end) / 1e3
    return 2 * src.numel() * src.element_size() * iters / seconds


def measure_matmul_flops(device: torch.device | str, n: int = 8192, iters: int = 10) -> float:
    """bf16 FLOP/s of an n x n x n matrix product on random data."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        a @ b
    end.record()
    end.synchronize()
    return 2 * n**3 * iters / (start.elapsed_time(end) / 1e3)


def measure_fp8_matmul_flops(device: torch.device | str, n: int = 8192, iters: int = 10) -> float:
    """FP8 e4m3 FLOP/s of an n x n x n `torch._scaled_mm` with row-wise scales and bf16 output."""
    a = torch.randn(n, n, device=device).to(torch.float8_e4m3fn)
    b = torch.randn(n, n, device=device).to(torch.float8_e4m3fn).t()  # column-major, as cuBLASLt wants
    scale_a = torch.ones(n, 1, device=device)
    scale_b = torch.ones(1, n, device=device)

    def mm() -> torch.Tensor:
        return torch._scaled_mm(a, b, scale_a=scale_a, scale_b=scale_b, out_dtype=torch.bfloat16)

    for _ in range(3):
        mm()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        mm()
    end.record()
    end.synchronize()
    return 2 * n**3 * iters / (start.elapsed_time(end) / 1e3)


def roofline(
    prompt_lens: list[int],
    output_lens: list[int],
    decode_read_bytes: int,
    kv_bytes_per_token: int,
    matmul_params: int,
    lm_head_params: int,
    bandwidth: float,
    flops: float,
    matmul_dtype: str = "bf16",
    moe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """matmul_dtype: what `flops` measured ("bf16", or "fp8" for FP8 GEMMs); it names the output key.
    moe: engine.bench.shapes.weight_bytes' "moe" entry (decode_read_bytes then excludes the experts)."""
    p = np.asarray(prompt_lens, dtype=np.float64)
    o = np.asarray(output_lens, dtype=np.int64)
    steps = int(o.max()) - 1 if len(o) else 0
    decode_s = 0.0
    decode_flops_s = 0.0  # the same steps, each at least its GEMM FLOPs at the matmul rate
    expert_bytes_total = 0.0
    for t in range(1, steps + 1):
        live = o > t
        kv_bytes = kv_bytes_per_token * float((p[live] + t).sum())
        weight_bytes = float(decode_read_bytes)
        if moe is not None:
            experts = active_experts(moe["num_experts"], moe["top_k"], int(live.sum()))
            expert_bytes_total += moe["layers"] * moe["expert_bytes"] * experts
            weight_bytes += moe["layers"] * moe["expert_bytes"] * experts
        decode_s += (weight_bytes + kv_bytes) / bandwidth
        step_flops = 2.0 * (matmul_params + lm_head_params) * float(live.sum())
        decode_flops_s += max(weight_bytes / bandwidth, step_flops / flops) + kv_bytes / bandwidth
    prefill_flops = 2.0 * (matmul_params * float(p.sum()) + lm_head_params * len(p))
    prefill_s = prefill_flops / flops
    total = decode_s + prefill_s
    result = {
        "decode_s": round(decode_s, 4),
        "prefill_s": round(prefill_s, 4),
        "seconds": round(total, 4),
        "output_tok_per_s": round(float(o.sum()) / total, 1) if total else None,
        "decode_steps": steps,
        "copy_bandwidth_tb_s": round(bandwidth / 1e12, 3),
        f"{matmul_dtype}_matmul_tflop_s": round(flops / 1e12, 1),
        "decode_read_bytes_per_step": decode_read_bytes,
        "kv_bytes_per_token": kv_bytes_per_token,
        "formula": "sum over decode steps of (weights + live KV) / copy bandwidth"
        " + prefill FLOPs / matmul rate",
        # Not the target's bound, printed beside it. The formula above lets a step's GEMMs hide under
        # its KV read; one stream runs them in turn, and above ~190 live sequences (bf16 on an H200)
        # the GEMMs take longer at the matmul rate than reading the weights does.
        "with_decode_flops": {
            "seconds": round(decode_flops_s + prefill_s, 4),
            "output_tok_per_s": round(float(o.sum()) / (decode_flops_s + prefill_s), 1) if total else None,
            "formula": "sum over decode steps of max(weights / copy bandwidth, 2 * matmul params * live"
            " sequences / matmul rate) + live KV / copy bandwidth, + prefill as above",
        },
    }
    if moe is not None:
        result["moe"] = {
            **moe,
            "mean_expert_bytes_per_step": round(expert_bytes_total / steps) if steps else 0,
            "formula": "experts read per MoE layer and step: E * (1 - (1 - top_k / E)^live sequences)",
        }
    return result


def active_experts(num_experts: int, top_k: int, num_tokens: int) -> float:
    """Expected distinct experts hit by num_tokens tokens choosing top_k of num_experts uniformly."""
    return num_experts * (1.0 - (1.0 - top_k / num_experts) ** num_tokens)
