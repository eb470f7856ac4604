"""Does a bf16 GEMM's first call at a new row count block the host until the GPU drains? (issue #13:
the LM head did, at 21 of 256 row counts, session 12; the last prefill chunk of a run waits ~37 ms.)

For each linear of qwen3-0.6b and llama3-8b (F.linear, cuBLAS): queue a ~3 ms GPU sleep, then time the
host side of one F.linear at M rows; a call that returns after > 1 ms waited for the sleep. Passes:
  warm:   M = 64, 128, ..., 16384 (a candidate set of padded prefill sizes)
  random: 300 random M in 1..16384 not in the warm set
  again:  the same random M (every shape met once)
JSON on stdout: per linear, the M that stalled in each pass, and the pass's host time.
Run from the repo root: PYTHONPATH=$PWD python3 gpu/first_call_probe.py (as gpu/lib.sh sets it)"""

from __future__ import annotations

import json
import random
import sys
import time

import torch
import torch.nn.functional as F

from gpu.bf16_gemm_bench import LINEARS  # name -> (in, out)

MAX_M = 16384
SLEEP_CYCLES = 6_000_000  # ~3 ms at ~2 GHz
STALL_S = 1e-3


def probe(x: torch.Tensor, w: torch.Tensor, ms: list[int]) -> dict:
    stalled, total = [], 0.0
    for m in ms:
        torch.cuda._sleep(SLEEP_CYCLES)
        t0 = time.perf_counter()
        F.linear(x[:m], w)
        dt = time.perf_counter() - t0
        total += dt
        if dt > STALL_S:
            stalled.append([m, round(dt * 1e3, 2)])
        torch.cuda.synchronize()
    return {"calls": len(ms), "stalled": stalled, "host_s": round(total, 4)}


def main() -> None:
    rng = random.Random(0)  # noqa: S311 (row counts, not secrets)
    warm = list(range(64, MAX_M + 1, 64))
    rand = rng.sample([m for m in range(1, MAX_M + 1) if m % 64], 300)
    out = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "linears": {}}
    for name, (k, n) in LINEARS.items():
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02
        x = torch.randn(MAX_M, k, device="cuda", dtype=torch.bfloat16)
        F.linear(x[:1], w)  # the library itself loaded
        torch.cuda.synchronize()
        out["linears"][name] = {
            "warm": probe(x, w, warm),
            "random": probe(x, w, rand),
            "again": probe(x, w, rand),
        }
        counts = {p: len(v["stalled"]) for p, v in out["linears"][name].items()}
        print(name, counts, flush=True, file=sys.stderr)
        del w, x
        torch.cuda.empty_cache()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
