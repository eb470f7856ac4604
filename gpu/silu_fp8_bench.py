"""Times the fused SiLU-and-mul + per-token FP8 quantizer (engine/kernels/activation.py) on one GPU: the
one-tile path at several warp counts against the chunked two-pass path, the unfused pair and plain
silu_and_mul, for decode and prefill row counts of llama3-8b, qwen3-0.6b and a 7B MLP width.
JSON on stdout."""

from __future__ import annotations

import json
import sys

import torch
from triton.testing import do_bench

from engine.kernels import silu_and_mul, silu_and_mul_fp8
from engine.quantization.kernels import quantize_rows


def us(fn) -> float | str:
    try:
        return round(do_bench(fn, warmup=10, rep=50, return_mode="median") * 1000, 2)
    except Exception as e:  # one failing variant must not hide the others
        return f"error: {type(e).__name__}: {str(e)[:160]}"


def time_rows(x: torch.Tensor) -> dict[str, object]:
    r: dict[str, object] = {
        "silu_bf16": us(lambda: silu_and_mul(x)),
        "unfused": us(lambda: quantize_rows(silu_and_mul(x))),
        "chunked_4k_w8": us(lambda: silu_and_mul_fp8(x, one_pass_max=4096, chunk=4096, num_warps=8)),
    }
    for warps in (8, 16, 32):
        r[f"one_tile_w{warps}"] = us(lambda w=warps: silu_and_mul_fp8(x, num_warps=w))
    r["default"] = us(lambda: silu_and_mul_fp8(x))
    ref = silu_and_mul_fp8(x, one_pass_max=4096, chunk=4096)
    got = silu_and_mul_fp8(x)
    r["same_codes"] = bool(torch.equal(ref.codes.view(torch.uint8), got.codes.view(torch.uint8)))
    return r


def main() -> None:
    out: dict[str, object] = {"gpu": torch.cuda.get_device_name()}
    for inter in (14336, 3072, 18944):
        for rows in (64, 128, 256, 1024, 4096, 16384):
            r = time_rows(torch.randn(rows, 2 * inter, device="cuda", dtype=torch.bfloat16))
            out[f"I{inter}_T{rows}"] = r
            print(f"I{inter}_T{rows}", r, file=sys.stderr)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
