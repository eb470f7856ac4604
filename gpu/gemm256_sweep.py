"""Full-batch decode GEMMs (M = 128..256 rows) on one GPU: cuBLAS (F.linear) against a wide sweep of the
Triton skinny-M kernel's tilings with 16-bit weights (engine/kernels/fp8_gemm.py: swap-AB or not, split-K
with an in-kernel ticket instead of cuBLAS's separate reduce launch, 4 or 8 warps), issue #13.

At 256 rows llama3-8b's linears are compute-bound and cuBLAS leaves SMs idle: qkv (6144 x 4096) and o
(4096 x 4096) have 48-64 output tiles of 128 x 128 for 132 SMs, down splits K and reduces in a second
kernel, gate_up's 224 tiles make 1.7 waves (session 10's profile: 584 TFLOP/s on average against 791 for
an 8192^3 matmul). gpu/bf16_gemm_bench.py swept only 4-warp tilings of at most 128 x 128.

Prints one JSON line per (shape, M): cuBLAS µs, the best tiling's µs, speedup, TFLOP/s of both, the
ideal µs at 791 TFLOP/s, and the top 3 tilings; then {"tuned": [...]} in engine/kernels/configs/'s format
(config null where cuBLAS was within MIN_GAIN). --seconds caps the sweep (shapes left are skipped).
Run from the repo root: PYTHONPATH=$PWD python3 gpu/gemm256_sweep.py [--only llama3] [--ms 128,256]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time

import torch
import torch.nn.functional as F

from engine.kernels.fp8_gemm import SkinnyConfig, fp8_gemm_skinny, prepare
from gpu.bf16_gemm_bench import LINEARS, ROTATE_BYTES, median_us

DEV = "cuda"
MIN_GAIN = 1.03
SMEM_BYTES = 220 * 1024
SMS = 132


def tilings(m: int, n: int, k: int) -> list[SkinnyConfig]:
    """Tilings that fit shared memory and registers (an fp32 accumulator of at most 128 values a thread),
    with a K split only where the unsplit grid is under two waves."""
    out = []
    sizes = (64, 128, 256)
    for swap, bm, bn, bk, stages in itertools.product((True, False), sizes, sizes, (64,), (3, 4)):
        if swap and bm == 256:  # swap-AB puts tokens on the MMA's N side: at most 128 here
            continue
        warps = 4 if bm * bn <= 64 * 128 else 8
        if bm * bn > warps * 32 * 128:
            continue
        if stages * (bm + bn) * bk * 2 > SMEM_BYTES:
            continue
        tiles = -(-m // bm) * -(-n // bn)
        for split in (1, 2, 4):
            if split > 1 and (tiles * (split - 1) >= 2 * SMS or k // bk < 4 * split):
                continue
            out.append(SkinnyConfig(bm, bn, bk, split, stages, warps, swap_ab=swap))
    return out


def one(name: str, k: int, n: int, m: int, deadline: float) -> dict[str, object]:
    copies = max(2, int(ROTATE_BYTES // (n * k * 2)))
    weights = [torch.randn(n, k, device=DEV).to(torch.bfloat16) * 0.02 for _ in range(copies)]
    x = torch.randn(m, k, device=DEV).to(torch.bfloat16)
    expected = F.linear(x, weights[0]).float()
    cublas = median_us(lambda w: F.linear(x, w), weights)
    results = []
    for cfg in tilings(m, n, k):
        if time.time() > deadline:
            break

        def kernel(w: torch.Tensor, cfg: SkinnyConfig = cfg) -> torch.Tensor:
            return fp8_gemm_skinny(x, None, w, None, None, torch.bfloat16, cfg)

        try:
            err = float((kernel(weights[0]).float() - expected).abs().max() / expected.abs().max())
            if err > 0.02:
                continue
            results.append((median_us(kernel, weights), cfg))
        except Exception as e:  # out of resources for this tiling: the others still count
            print(json.dumps({"skipped": dataclasses.asdict(cfg), "error": str(e)[:120]}), file=sys.stderr)
    results.sort(key=lambda r: r[0])
    flop = 2 * m * n * k
    row: dict[str, object] = {
        "shape": name, "m": m, "n": n, "k": k, "cublas_us": round(cublas, 2),
        "cublas_tflop_s": round(flop / cublas / 1e6, 1), "ideal_us_at_791": round(flop / 791e6, 2),
        "tilings_timed": len(results),
    }
    if results:
        best_us, best = results[0]
        row |= {"kernel_us": round(best_us, 2), "kernel_tflop_s": round(flop / best_us / 1e6, 1),
                "speedup": round(cublas / best_us, 3), "config": dataclasses.asdict(best),
                "top3": [[round(t, 2), dataclasses.asdict(c)] for t, c in results[:3]]}
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="shape name prefix (qwen3 / llama3)")
    parser.add_argument("--ms", default="128,256")
    parser.add_argument("--seconds", type=float, default=240)
    args = parser.parse_args()
    prepare(torch.device(DEV))
    t0 = time.time()
    deadline = t0 + args.seconds
    rows = []
    for name, (k, n) in LINEARS.items():
        if args.only and not name.startswith(args.only):
            continue
        for m in (int(v) for v in args.ms.split(",")):
            if time.time() > deadline:
                break
            rows.append(one(name, k, n, m, deadline))
            print(json.dumps(rows[-1]), flush=True)
    tuned = [{"m": r["m"], "n": r["n"], "k": r["k"],
              "config": r["config"] if r.get("speedup", 0) >= MIN_GAIN else None} for r in rows]
    print(json.dumps({"gpu": torch.cuda.get_device_name(), "seconds": round(time.time() - t0, 1),
                      "min_gain": MIN_GAIN, "tuned": tuned}))


if __name__ == "__main__":
    main()
