"""Decode-sized 16-bit linears through the skinny-M kernel (engine/kernels/fp8_gemm.py with 16-bit weights:
swap-AB, split-K with a ticket, one launch) where a table measured on this kind of GPU says it beats
cuBLAS; F.linear everywhere else.

A decode step at 1-128 rows is a chain of small GEMMs whose time is latency. On an H200, qwen3-0.6b's o
(1024 x 2048) and down (1024 x 3072) take 5.8-12.5 and 7.6-8.2 us in cuBLAS at 1-128 rows against the
kernel's 4.8-6.2 and 5.3-6.9 us (gpu/bf16_gemm_bench.py, session 11): cuBLAS tiles their 1024 output rows
into too few programs for 132 SMs; the kernel splits K. The table (configs/bf16_skinny_sm90_132sm.json)
holds, per (N, K) and measured M, the fastest tiling or null where cuBLAS was as fast; the kernel runs
only for shapes it measured, at the entry of the smallest measured M >= the batch.
TEECUBE_BF16_SKINNY=0 turns it off (the A/B switch); TEECUBE_BF16_SKINNY_TUNED=path takes another table
in the same format (gpu/bf16_gemm_tune.py writes one) instead of the shipped one.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import torch
import torch.nn.functional as F

from engine.kernels import fp8_gemm
from engine.kernels.fp8_gemm import SkinnyConfig

BF16_SKINNY = os.environ.get("TEECUBE_BF16_SKINNY", "1") != "0"
TUNED_PATH = os.environ.get("TEECUBE_BF16_SKINNY_TUNED") or None
MAX_ROWS = 256  # the largest M the tables measure
SHIPPED_TABLES = {(9, 0, 132): Path(__file__).with_name("configs") / "bf16_skinny_sm90_132sm.json"}
_DTYPES = (torch.bfloat16, torch.float16)


@cache
def shipped_table(device: torch.device) -> str | None:
    """The path of the table measured on this kind of GPU, or None (CPUs, unmeasured GPUs)."""
    return fp8_gemm.table_for(device, SHIPPED_TABLES)


def skinny_config(x: torch.Tensor, weight: torch.Tensor, table: str | None = None) -> SkinnyConfig | None:
    """The kernel's tiling for x [M, K] @ weight [N, K]^T, or None for F.linear. table: a table's path
    (default: TEECUBE_BF16_SKINNY_TUNED's, else the one shipped for x's GPU)."""
    m = x.shape[0]
    if not BF16_SKINNY or m == 0 or m > MAX_ROWS or x.dtype not in _DTYPES or weight.dtype != x.dtype:
        return None
    path = table or TUNED_PATH or shipped_table(x.device)
    if path is None or (x.is_cuda and not fp8_gemm.ready(x.device)):
        return None
    n, k = weight.shape
    if not fp8_gemm.supported(n, k):
        return None
    return fp8_gemm.choose(m, n, k, fp8_gemm.num_sms(x.device), path, measured_only=True)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear's contract; the skinny kernel where skinny_config picks it."""
    x2 = x.reshape(-1, x.shape[-1])
    config = skinny_config(x2, weight)
    if config is None:
        return F.linear(x, weight, bias)
    y = fp8_gemm.fp8_gemm_skinny(x2.contiguous(), None, weight, None, bias, x.dtype, config)
    return y.reshape(*x.shape[:-1], weight.shape[0])
