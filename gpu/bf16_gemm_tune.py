"""A finer tiling table for the 16-bit skinny-M GEMM (issue #13; engine/kernels/bf16_gemm.py): per
qwen3-0.6b (and, with --only llama3 or all, llama3-8b) linear and decode batch size (8, 16, 32, 64, 96,
..., 256 rows), gpu/fp8_gemm_tune.py's coordinate search from the shipped table's tiling (or pick_config),
timed the same way (CUDA-graph median, weight copies cycled past L2) and checked against F.linear (cuBLAS).
A row keeps the kernel only where it beats cuBLAS by MIN_GAIN; elsewhere its config is null (F.linear).

Run from the repo root: PYTHONPATH=$PWD python3 gpu/bf16_gemm_tune.py [--budget-s 120] [--only qwen3].
Prints one JSON object; writes $OUT/bf16_tuned.json in the shipped table's format ("tuned": [{m, n, k,
config}]), which the engine takes with TEECUBE_BF16_SKINNY_TUNED=<path>."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

from engine.kernels.bf16_gemm import shipped_table
from engine.kernels.fp8_gemm import choose, fp8_gemm_skinny, num_sms, pick_config, prepare
from gpu.bf16_gemm_bench import LINEARS
from gpu.fp8_gemm_bench import ROTATE_BYTES, errors, us
from gpu.fp8_gemm_tune import FIELDS, M_LIST, coordinate_search, per_m_sums, save

DEV = "cuda"
MIN_GAIN = 1.02  # the kernel goes in the table only where it beats cuBLAS by at least this
FIELDS_16 = {f: v for f, v in FIELDS.items() if f != "tma"}  # 16-bit activations never take TMA


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget-s", type=float, default=120.0)
    parser.add_argument("--only", default="qwen3", help="shape name prefix (qwen3 / llama3), or all")
    args = parser.parse_args()
    torch.manual_seed(0)
    t0 = time.monotonic()
    device = torch.device(DEV)
    prepare(device)
    sms, shipped = num_sms(device), shipped_table(device)
    linears = {k: v for k, v in LINEARS.items() if args.only == "all" or k.startswith(args.only)}
    rows: list[dict[str, object]] = []
    tuned: list[dict[str, object]] = []
    result: dict[str, object] = {
        "gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "sms": sms, "shipped": shipped,
        "min_gain": MIN_GAIN, "tuned": tuned, "rows": rows,
    }
    per_search = args.budget_s / (len(M_LIST) * len(linears))
    for name, (k, n) in linears.items():
        w = (torch.randn(n, k, device=DEV) * 0.02).to(torch.bfloat16)
        weights = [(w, None)] + [(w.clone(), None) for _ in range(math.ceil(ROTATE_BYTES / (2 * n * k)) - 1)]
        for m in M_LIST:
            t_s = time.monotonic()
            x = torch.randn(m, k, device=DEV).to(torch.bfloat16)
            ref = F.linear(x, w)
            t_cublas = us(lambda x, w, _: F.linear(x, w), (x,), weights)
            now = choose(m, n, k, sms, shipped, measured_only=True) if shipped else None  # None: cuBLAS
            start = now or pick_config(m, n, k, sms, a16=True)
            t_start = us(fp8_gemm_skinny, (x, None), weights, config=start)
            t_now = t_start if now is not None else t_cublas  # what the engine runs today
            best, t_best, tried = coordinate_search(
                lambda c, x=x, weights=weights: us(fp8_gemm_skinny, (x, None), weights, config=c),
                lambda c, a=(ref, x, None, w, None): errors(fp8_gemm_skinny, *a, config=c)["max_rel_err"],
                start, t_start, m, k, t_s + per_search, FIELDS_16,
            )
            wins = isinstance(t_cublas, float) and t_best * MIN_GAIN <= t_cublas
            tuned.append({"m": m, "n": n, "k": k, "config": dataclasses.asdict(best) if wins else None})
            rows.append({"linear": name, "m": m, "cublas_us": t_cublas, "now_us": t_now,
                         "best_us": round(t_best, 2), "tried": tried, "best": dataclasses.asdict(best)})
            print(name, m, "cublas", t_cublas, "now", t_now, "best", round(t_best, 2), "tried", tried,
                  file=sys.stderr, flush=True)
            save(result, "bf16_tuned.json")
    result["seconds"] = round(time.monotonic() - t0, 1)
    result |= per_m_sums(rows, "cublas_us")
    save(result, "bf16_tuned.json")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
