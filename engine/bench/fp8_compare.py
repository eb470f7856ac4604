"""`teecube bench throughput --shape NAME --random-weights --quantization fp8 [--kv-cache-dtype fp8]
--compare-bf16`: the bf16 run and the FP8 runs of the same workload in one invocation, one JSON object.

Runs, in order (each a whole `run_shape`, the engine torn down in between): "bf16" (bf16 weights and KV);
"fp8" (FP8 weights, bf16 KV) when --quantization fp8; "fp8+kv-fp8" (FP8 weights and KV) when both flags
are given; "kv-fp8" (bf16 weights, FP8 KV) when only --kv-cache-dtype fp8 is. Each run carries its own
roofline, recomputed for what it reads (FP8 weight and KV bytes, the FP8 GEMM rate).

KV capacity: `tokens` is what the run allocated; the model runner caps it at max_num_seqs x max_model_len
(`capped`), which the FP8 runs can reach on a large GPU, so `tokens_in_bf16_kv_memory` also gives what
the bf16 run's KV bytes would hold at this run's bytes per token (the "same memory" comparison)."""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
from typing import Any

import torch

from engine.bench.shape_run import run_shape

TARGETS = {"fp8_weights_speedup": 1.4, "fp8_kv_tokens_ratio": 1.9}


def variants(args: argparse.Namespace) -> list[tuple[str, str | None, str]]:
    """(name, quantization, kv_cache_dtype) of each run."""
    kv_fp8 = args.kv_cache_dtype != "auto"
    runs: list[tuple[str, str | None, str]] = [("bf16", None, "auto")]
    if args.quantization == "fp8":
        runs.append(("fp8", "fp8", "auto"))
        if kv_fp8:
            runs.append(("fp8+kv-fp8", "fp8", args.kv_cache_dtype))
    elif kv_fp8:
        runs.append(("kv-fp8", None, args.kv_cache_dtype))
    return runs


def summarize(name: str, result: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    kv, engine, roof = result["kv_cache"], result["engine"], result["roofline"] or {}
    cfg = result["config"]
    cap_tokens = cfg["max_num_seqs"] * cfg["max_model_len"]
    summary: dict[str, Any] = {
        "output_tok_per_s": engine["output_tok_per_s"],
        "roofline_output_tok_per_s": roof.get("output_tok_per_s"),
        "fraction_of_roofline": result["fraction_of_roofline"],
        "weights_gib": result["weights_gib"],
        "kv_dtype": kv["dtype"],
        "kv_bytes_per_token": kv["bytes_per_token"],
        "kv_tokens": kv["tokens"],
        "kv_gib": kv["gib"],
        "kv_capped": kv["tokens"] >= cap_tokens,
    }
    if base is not None:
        base_kv = base["kv_cache"]
        same_memory = int(base_kv["num_blocks"] * base_kv["bytes_per_token"] * kv["block_size"])
        summary["tokens_in_bf16_kv_memory"] = same_memory // kv["bytes_per_token"]
        summary["speedup_vs_bf16"] = round(engine["output_tok_per_s"] / base["engine"]["output_tok_per_s"], 3)
        summary["kv_tokens_vs_bf16"] = round(kv["tokens"] / base_kv["tokens"], 3)
        summary["kv_tokens_same_memory_vs_bf16"] = round(
            base_kv["bytes_per_token"] / kv["bytes_per_token"], 3
        )
    return summary


def compare_with_bf16(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, dict[str, Any]] = {}
    for name, quantization, kv_dtype in variants(args):
        run_args = copy.copy(args)
        run_args.quantization, run_args.kv_cache_dtype, run_args.skip_hf = quantization, kv_dtype, True
        runs[name] = run_shape(run_args)
        # each run's figures on stderr as it ends: a later run that fails or times out loses nothing
        base = runs.get("bf16")
        partial = summarize(name, runs[name], None if name == "bf16" or base is None else base)
        print(json.dumps({"partial": name, "summary": partial}), file=sys.stderr, flush=True)
        gc.collect()  # the engine's reference cycles (layers <-> weight loaders) hold device memory
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    base = runs["bf16"]
    summary = {name: summarize(name, r, None if name == "bf16" else base) for name, r in runs.items()}
    targets: dict[str, Any] = {}
    if "fp8" in summary:
        best = max(s["speedup_vs_bf16"] for n, s in summary.items() if n.startswith("fp8"))
        targets["fp8_weights_speedup"] = {
            "target": TARGETS["fp8_weights_speedup"],
            "fp8": summary["fp8"]["speedup_vs_bf16"],
            "best_fp8_run": best,
        }
    kv_run = next((n for n in ("fp8+kv-fp8", "kv-fp8") if n in summary), None)
    if kv_run is not None:
        targets["fp8_kv_tokens_ratio"] = {
            "target": TARGETS["fp8_kv_tokens_ratio"],
            "same_memory": summary[kv_run]["kv_tokens_same_memory_vs_bf16"],
            "allocated": summary[kv_run]["kv_tokens_vs_bf16"],
            "allocated_capped": summary[kv_run]["kv_capped"],
        }
    return {
        "bench": "throughput-fp8-vs-bf16",
        "model": args.shape,
        "weights": "random",
        "summary": summary,
        "targets": targets,
        "runs": runs,
        "machine": base["machine"],
    }
