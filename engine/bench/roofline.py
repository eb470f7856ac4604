"""A lower bound on the workload's time on this GPU, from two ceilings measured in the same run.

Decode: every step reads the weights once plus the live KV cache once (all sequences start together;
sequence i is live for output_len[i] - 1 decode steps, its context growing from prompt_len[i] + 1), at
the measured device-to-device copy bandwidth. Prefill: 2 FLOPs per matmul parameter per prompt token
(plus the LM head once per sequence) at the measured bf16 matmul rate. Attention FLOPs are left out.
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


def roofline(
    prompt_lens: list[int],
    output_lens: list[int],
    decode_read_bytes: int,
    kv_bytes_per_token: int,
    matmul_params: int,
    lm_head_params: int,
    bandwidth: float,
    flops: float,
) -> dict[str, Any]:
    p = np.asarray(prompt_lens, dtype=np.float64)
    o = np.asarray(output_lens, dtype=np.int64)
    steps = int(o.max()) - 1 if len(o) else 0
    decode_s = 0.0
    for t in range(1, steps + 1):
        live = o > t
        decode_s += (decode_read_bytes + kv_bytes_per_token * float((p[live] + t).sum())) / bandwidth
    prefill_flops = 2.0 * (matmul_params * float(p.sum()) + lm_head_params * len(p))
    prefill_s = prefill_flops / flops
    total = decode_s + prefill_s
    return {
        "decode_s": round(decode_s, 4),
        "prefill_s": round(prefill_s, 4),
        "seconds": round(total, 4),
        "output_tok_per_s": round(float(o.sum()) / total, 1) if total else None,
        "decode_steps": steps,
        "copy_bandwidth_tb_s": round(bandwidth / 1e12, 3),
        "bf16_matmul_tflop_s": round(flops / 1e12, 1),
        "formula": "sum over decode steps of (weights + live KV) / copy bandwidth"
        " + prefill FLOPs / matmul rate",
    }
