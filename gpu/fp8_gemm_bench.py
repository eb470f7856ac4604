"""Decode-shaped FP8 GEMMs on one GPU: torch._scaled_mm (row-wise, fast accumulation) against the Triton
skinny-M kernel (engine/kernels/fp8_gemm.py), default tiling and a sweep of variants around it
(issue #19). Run from the repo root; JSON on stdout and in $OUT/fp8_gemm_bench.json; under a minute.

For llama3-8b's linears (qkv 4096->6144, o 4096->4096, gate_up 4096->28672, down 14336->4096) and
M in (64, 128, 256): microseconds (CUDA-graph timing, median, cycling through weight copies that
overflow L2, so the weights come from HBM as in a decode step), effective TB/s (weight bytes / time),
the max abs and relative error of the kernel against _scaled_mm, and per M the four GEMMs summed; also
the activation quantizer alone and the W8A16 variant (bf16 input, no quantizer) for comparison.
"tuned": per shape and M the fastest tiling, or null where _scaled_mm was faster; the engine takes it
with TEECUBE_FP8_SKINNY_TUNED=<this JSON>."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable

import torch
from triton.testing import do_bench_cudagraph

from engine.kernels.fp8_gemm import SkinnyConfig, fp8_gemm_skinny, num_sms, pick_config
from engine.quantization.fp8 import quantize_per_channel
from engine.quantization.kernels import quantize_rows
from engine.quantization.linear import scaled_mm

DEV = "cuda"
LINEARS = {"qkv": (4096, 6144), "o": (4096, 4096), "gate_up": (4096, 28672), "down": (14336, 4096)}
SWEEP_BUDGET_S = 12.0  # per M: variants stop after this; the defaults are always measured
MAX_REL_ERR = 0.02  # a tiling whose worst error against _scaled_mm is larger is never the best
ROTATE_BYTES = 200e6  # weight copies per shape: 4x H200's 50 MB L2


def us(
    fn: Callable[..., object],
    head: tuple[object, ...],
    weights: list[tuple[torch.Tensor, torch.Tensor]],
    *tail: object,
    **kwargs: object,
) -> float | str:
    """Median microseconds of fn(*head, weight, weight_scale, *tail, **kwargs), replayed in a CUDA graph
    that cycles through `weights` (copies that together overflow L2, so every call streams its weight
    from HBM as a decode step does); an error string instead of raising (one failing variant must not
    hide the others)."""
    calls = itertools.count()

    def call() -> object:
        return fn(*head, *weights[next(calls) % len(weights)], *tail, **kwargs)

    try:
        return round(do_bench_cudagraph(call, rep=10, return_mode="median") * 1000, 2)
    except Exception as e:
        return f"error: {type(e).__name__}: {str(e)[:200]}"


def variants(cfg: SkinnyConfig, m: int, n: int, k: int) -> dict[str, SkinnyConfig]:
    """Single-field changes of the default tiling."""
    other_n = 64 if cfg.block_n == 128 else 128
    tiles = -(-m // cfg.block_m) * -(-n // other_n)
    out = {
        "tma" if not cfg.tma else "no_tma": dataclasses.replace(cfg, tma=not cfg.tma),
        "plain_ab": dataclasses.replace(cfg, swap_ab=False),
        "stages3": dataclasses.replace(cfg, num_stages=3),
        "stages4": dataclasses.replace(cfg, num_stages=4),
        "stages5": dataclasses.replace(cfg, num_stages=5),
        "warps8": dataclasses.replace(cfg, num_warps=8),
        f"bn{other_n}": dataclasses.replace(cfg, block_n=other_n, split_k=max(1, min(8, -(-132 // tiles)))),
        "split1": dataclasses.replace(cfg, split_k=1),
        "split_x2": dataclasses.replace(cfg, split_k=min(cfg.split_k * 2, k // cfg.block_k // 2)),
        "bk256": dataclasses.replace(cfg, block_k=256, num_stages=3),
    }
    if m > 64:
        out["bm64"] = dataclasses.replace(cfg, block_m=64)
    return {name: c for name, c in out.items() if c != cfg}


def errors(fn: Callable[..., torch.Tensor], ref: torch.Tensor, *args: object, **kwargs: object) -> dict:
    """Errors of fn(*args, **kwargs) against ref (an infinite error where it raises)."""
    try:
        y = fn(*args, **kwargs)
    except Exception as e:
        return {"max_rel_err": math.inf, "norm_rel_err": math.inf, "error": f"{type(e).__name__}: {e}"[:200]}
    diff = (y.float() - ref.float()).abs()
    return {
        "max_abs_err": round(diff.max().item(), 5),
        "max_rel_err": round((diff.max() / ref.float().abs().max()).item(), 6),
        "norm_rel_err": round((diff.norm() / ref.float().norm()).item(), 6),
    }


def main() -> None:
    torch.manual_seed(0)
    t0 = time.monotonic()
    sms = num_sms(torch.device(DEV))
    result: dict[str, object] = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "sms": sms}
    tuned: list[dict[str, object]] = []  # TEECUBE_FP8_SKINNY_TUNED reads this list
    result["tuned"] = tuned
    for m in (64, 128, 256):
        per_m: dict[str, object] = {}
        t_m = time.monotonic()
        totals = {"scaled_mm_us": 0.0, "skinny_us": 0.0, "best_us": 0.0}
        for name, (k, n) in LINEARS.items():
            x = torch.randn(m, k, device=DEV).to(torch.bfloat16)
            wq, ws = quantize_per_channel((torch.randn(n, k, device=DEV) * 0.02).to(torch.bfloat16))
            weights = [(wq, ws)] + [(wq.clone(), ws) for _ in range(math.ceil(ROTATE_BYTES / (n * k)) - 1)]
            codes, scales = quantize_rows(x)
            gbytes = n * k / 1e9
            cfg = pick_config(m, n, k, sms)
            r: dict[str, object] = {"config": dataclasses.asdict(cfg)}
            ref = scaled_mm(codes, scales, wq, ws, None, torch.bfloat16)
            r["scaled_mm_us"] = t_mm = us(scaled_mm, (codes, scales), weights, None, torch.bfloat16)
            r["skinny_us"] = t_sk = us(fp8_gemm_skinny, (codes, scales), weights)
            r.update(errors(fp8_gemm_skinny, ref, codes, scales, wq, ws))
            # o_proj's input has no fused quantizer: its own launch, or none with the W8A16 variant
            r["quant_us"] = us(quantize_rows, (x,), [()])
            r["w8a16_us"] = us(fp8_gemm_skinny, (x, None), weights)
            r["w8a16_norm_rel_err"] = errors(fp8_gemm_skinny, ref, x, None, wq, ws)["norm_rel_err"]
            best, best_cfg = (t_sk, cfg) if r["max_rel_err"] < MAX_REL_ERR else ("wrong results", cfg)
            if isinstance(t_mm, float) and isinstance(t_sk, float):
                r["scaled_mm_tb_s"] = round(gbytes / t_mm * 1e3, 2)
                r["skinny_tb_s"] = round(gbytes / t_sk * 1e3, 2)
                r["speedup"] = round(t_mm / t_sk, 3)
            sweep: dict[str, object] = {}
            for vname, vcfg in variants(cfg, m, n, k).items():
                if time.monotonic() - t_m > SWEEP_BUDGET_S:
                    sweep["stopped"] = "time budget"
                    break
                t = us(fp8_gemm_skinny, (codes, scales), weights, config=vcfg)
                sweep[vname] = t
                if isinstance(t, float):
                    err = errors(fp8_gemm_skinny, ref, codes, scales, wq, ws, config=vcfg)["max_rel_err"]
                    sweep[vname + "_max_rel_err"] = err
                    if err < MAX_REL_ERR and (not isinstance(best, float) or t < best):
                        best, best_cfg = t, vcfg
                        r["best_variant"] = {"name": vname, **dataclasses.asdict(vcfg)}
            r["variants_us"] = sweep
            r["best_us"] = best
            if isinstance(best, float):
                r["best_tb_s"] = round(gbytes / best * 1e3, 2)
            faster = isinstance(best, float) and (not isinstance(t_mm, float) or best < t_mm)
            tuned.append({"m": m, "n": n, "k": k, "config": dataclasses.asdict(best_cfg) if faster else None})
            for key in totals:
                totals[key] = totals[key] + r[key] if isinstance(r[key], float) else float("nan")
            per_m[name] = r
            del weights
        per_m["sum_of_4"] = {key: round(v, 2) for key, v in totals.items()}
        result[f"M{m}"] = per_m
        if os.environ.get("OUT"):
            with open(os.path.join(os.environ["OUT"], "fp8_gemm_bench.json"), "w") as f:
                json.dump(result, f, indent=1)
    result["elapsed_s"] = round(time.monotonic() - t0, 1)
    print(json.dumps(result, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
