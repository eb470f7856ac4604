"""Micro-benchmark of the FP8 path on one GPU (run from the repo root; JSON on stdout and in $OUT).

- llama3-8b decoder linears (qkv 4096->6144, o 4096->4096, gate_up 4096->28672, down 14336->4096) at
  M = 256 (decode batch) and 4096 (prefill chunk): bf16 F.linear; the FP8 path (Triton quantizer +
  _scaled_mm, fast accumulation); _scaled_mm alone with and without fast accumulation; per-tensor
  scaled_mm (cuBLASLt) for reference; the quantizer alone.
- the norm / activation ops: rms_norm vs rms_norm + quantizer vs fused rms_norm_fp8; silu_and_mul vs
  silu_and_mul + quantizer vs fused silu_and_mul_fp8 (chunked, and one 16k tile).
- one decoder layer's norms + activation + linears, summed: bf16, the old FP8 path, the new one.
- decode attention over a bf16 and an FP8 cache (block_n, num_warps variants), with achieved GB/s;
  extend attention (prefill chunks) over both."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F
from triton.testing import do_bench

from engine.kernels import (
    decode_attention,
    extend_attention,
    rms_norm,
    rms_norm_fp8,
    silu_and_mul,
    silu_and_mul_fp8,
)
from engine.quantization.fp8 import FP8_DTYPE, quantize_per_channel
from engine.quantization.kernels import quantize_rows
from engine.quantization.linear import fp8_linear, scaled_mm

DEV = "cuda"
BF16 = torch.bfloat16
# decode attention variants per cache dtype: (block_n, num_warps, f16_math, num_stages); FP8: the old path
# (gpu/fp8_attn_bench.py measures the new one)
VARIANTS = {
    "bf16": [(32, 4, False, 2), (64, 4, False, 2), (32, 8, False, 2)],
    "fp8": [
        (32, 4, False, 2),
        (64, 4, False, 2),
        (64, 8, False, 2),
        (128, 4, False, 2),
        (128, 8, False, 2),
        (64, 4, False, 3),
        (32, 4, True, 2),
        (64, 4, True, 2),
        (128, 4, True, 2),
        (64, 4, True, 3),
    ],
}
LINEARS = {"qkv": (4096, 6144), "o": (4096, 4096), "gate_up": (4096, 28672), "down": (14336, 4096)}


def us(fn: Callable[..., object], *args: object, **kwargs: object) -> float | str:
    """Median microseconds of fn(*args, **kwargs); an error string instead of raising (one failing
    variant must not hide the others)."""
    try:
        return round(do_bench(lambda: fn(*args, **kwargs), warmup=10, rep=50, return_mode="median") * 1000, 2)
    except Exception as e:
        return f"error: {type(e).__name__}: {str(e)[:200]}"


def linears(m: int) -> dict[str, dict[str, float | str]]:
    out = {}
    for name, (k, n) in LINEARS.items():
        x = torch.randn(m, k, device=DEV).to(BF16)
        w = (torch.randn(n, k, device=DEV) * 0.02).to(BF16)
        wq, ws = quantize_per_channel(w)
        codes, scales = quantize_rows(x)
        one = torch.ones((), device=DEV)
        r = {
            "bf16": us(F.linear, x, w),
            "fp8_path": us(fp8_linear, x, wq, ws),
            "quant": us(quantize_rows, x),
            "mm_fast_accum": us(scaled_mm, codes, scales, wq, ws, None, BF16, fast_accum=True),
            "mm_slow_accum": us(scaled_mm, codes, scales, wq, ws, None, BF16, fast_accum=False),
            "mm_tensorwise_fast": us(
                torch._scaled_mm, codes, wq.t(), scale_a=one, scale_b=one, out_dtype=BF16, use_fast_accum=True
            ),
        }
        if all(isinstance(r[key], float) for key in ("bf16", "fp8_path", "mm_fast_accum")):
            r["speedup_path"] = round(r["bf16"] / r["fp8_path"], 3)
            r["speedup_mm"] = round(r["bf16"] / r["mm_fast_accum"], 3)
            r["bf16_tflops"] = round(2 * m * k * n / r["bf16"] / 1e6, 1)
            r["fp8_mm_tflops"] = round(2 * m * k * n / r["mm_fast_accum"] / 1e6, 1)
        y = fp8_linear(x, wq, ws).float()
        ref = x.float() @ w.float().t()
        r["cosine_vs_bf16"] = round(F.cosine_similarity(y.flatten(), ref.flatten(), dim=0).item(), 5)
        out[name] = r
    return out


def elementwise(m: int) -> dict[str, float | str]:
    x = torch.randn(m, 4096, device=DEV).to(BF16)
    res = torch.randn(m, 4096, device=DEV).to(BF16)
    w = torch.ones(4096, device=DEV, dtype=BF16)
    gu = torch.randn(m, 2 * 14336, device=DEV).to(BF16)
    return {
        "rms_norm": us(rms_norm, x, w, 1e-5, res),
        "rms_norm+quant": us(lambda: quantize_rows(rms_norm(x, w, 1e-5, res)[0])),
        "rms_norm_fp8": us(rms_norm_fp8, x, w, 1e-5, res),
        "silu_and_mul": us(silu_and_mul, gu),
        "silu_and_mul+quant": us(lambda: quantize_rows(silu_and_mul(gu))),
        "silu_and_mul_fp8": us(silu_and_mul_fp8, gu),
        "silu_and_mul_fp8_one_tile_16k": us(silu_and_mul_fp8, gu, one_pass_max=16384),
        "quant_4096": us(quantize_rows, x),
    }


def layer_totals(lin: dict, ew: dict) -> dict[str, float | str]:
    try:
        mm = sum(lin[n]["mm_fast_accum"] for n in LINEARS)
        mm_slow = sum(lin[n]["mm_slow_accum"] for n in LINEARS)
        quants = sum(lin[n]["quant"] for n in LINEARS)
        bf16 = sum(lin[n]["bf16"] for n in LINEARS) + 2 * ew["rms_norm"] + ew["silu_and_mul"]
        old = mm_slow + quants + 2 * ew["rms_norm"] + ew["silu_and_mul"]
        new = mm + lin["o"]["quant"] + 2 * ew["rms_norm_fp8"] + ew["silu_and_mul_fp8"]
        return {
            "bf16_us": round(bf16, 1),
            "fp8_old_us": round(old, 1),
            "fp8_new_us": round(new, 1),
            "speedup_old": round(bf16 / old, 3),
            "speedup_new": round(bf16 / new, 3),
        }
    except TypeError as e:
        return {"error": str(e)}


def decode(batch: int, ctx: int) -> dict[str, float | str]:
    q_heads, kv_heads, hd, bs = 32, 8, 128, 16
    blocks_per_seq = ctx // bs
    num_blocks = batch * blocks_per_seq + 1
    tables = (torch.randperm(num_blocks - 1, device=DEV) + 1)[: batch * blocks_per_seq]
    tables = tables.view(batch, blocks_per_seq).to(torch.int32)
    seq_lens = torch.full((batch,), ctx, dtype=torch.int32, device=DEV)
    q = torch.randn(batch, q_heads, hd, device=DEV).to(BF16)
    out: dict[str, float | str] = {}
    for dtype, name in ((BF16, "bf16"), (FP8_DTYPE, "fp8")):
        cache = torch.randn(2, num_blocks, bs, kv_heads, hd, device=DEV).to(dtype)
        gbytes = 2 * batch * ctx * kv_heads * hd * cache.element_size() / 1e9
        for block_n, warps, f16, stages in VARIANTS[name]:
            kwargs = dict(block_n=block_n, num_warps=warps, f16_math=f16, num_stages=stages)
            if name == "fp8":
                kwargs["fp8_path"] = "old"
            t = us(decode_attention, q, cache, tables, seq_lens, hd**-0.5, **kwargs)
            key = f"{name}_n{block_n}_w{warps}_s{stages}" + ("_f16" if f16 else "")
            out[key] = t
            if isinstance(t, float):
                out[key + "_gb_s"] = round(gbytes / (t / 1e6), 1)
        out[f"{name}_default"] = us(decode_attention, q, cache, tables, seq_lens, hd**-0.5)
        if name == "fp8":
            a = decode_attention(q, cache, tables, seq_lens, hd**-0.5, fp8_path="old").float()
            b = decode_attention(q, cache, tables, seq_lens, hd**-0.5).float()
            out["fp8_new_vs_old_max_abs_diff"] = (a - b).abs().max().item()
        del cache
    return out


def extend(num_seqs: int, query_len: int) -> dict[str, float | str]:
    """A prefill chunk: num_seqs sequences of query_len new tokens (no prefix), bf16 vs FP8 cache."""
    q_heads, kv_heads, hd, bs = 32, 8, 128, 16
    blocks_per_seq = query_len // bs
    num_blocks = num_seqs * blocks_per_seq + 1
    tables = (torch.randperm(num_blocks - 1, device=DEV) + 1).view(num_seqs, blocks_per_seq).to(torch.int32)
    seq_lens = torch.full((num_seqs,), query_len, dtype=torch.int32, device=DEV)
    starts = torch.arange(num_seqs + 1, dtype=torch.int32, device=DEV) * query_len
    q = torch.randn(num_seqs * query_len, q_heads, hd, device=DEV).to(BF16)
    flops = 4 * num_seqs * query_len * query_len / 2 * q_heads * hd
    out: dict[str, float | str] = {}
    for dtype, name in ((BF16, "bf16"), (FP8_DTYPE, "fp8")):
        cache = torch.randn(2, num_blocks, bs, kv_heads, hd, device=DEV).to(dtype)
        t = us(extend_attention, q, cache, tables, seq_lens, starts, hd**-0.5)
        out[name] = t
        if isinstance(t, float):
            out[name + "_tflops"] = round(flops / t / 1e6, 1)
    return out


def save(result: dict[str, object]) -> None:
    """After every section, so a timeout keeps what was measured."""
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "fp8_micro.json"), "w") as f:
            json.dump(result, f, indent=1)


def main() -> None:
    torch.manual_seed(0)
    result: dict[str, object] = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__}
    for m in (256, 4096):
        lin, ew = linears(m), elementwise(m)
        result[f"M{m}"] = {"linears": lin, "elementwise": ew, "layer": layer_totals(lin, ew)}
        save(result)
    result["decode_attention"] = {"b256_ctx1024": decode(256, 1024)}
    save(result)
    result["extend_attention"] = {"s8_q1024": extend(8, 1024), "s2_q8192": extend(2, 8192)}
    save(result)
    result["decode_attention"]["b64_ctx4096"] = decode(64, 4096)
    save(result)
    print(json.dumps(result, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
