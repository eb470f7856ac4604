"""How busy the GPU is during a `teecube bench throughput` timed run: the timed run goes under a CUDA-only
torch.profiler (kernel records from CUPTI, no CPU-side op tracing, which would slow the host and make
it look like the bottleneck), then its kernels are laid on one timeline. Run from the repo root with the
bench's arguments:
    PYTHONPATH=$PWD python3 gpu/busy_watch.py throughput --shape qwen3-0.6b --random-weights --skip-hf
The bench's JSON goes to stdout as usual (its figures are for the profiled run: compare them with an
unprofiled run to see what the profiler costs); stderr ends with one JSON line: the first to last kernel
span, busy time (union of kernel intervals), idle time split into gaps under 5 µs (a CUDA graph's own
kernel-to-kernel latency), 5-50 µs and longer (the host late), and busy time per category
(engine.bench.profile.categorize) and per kernel name (top 15)."""

from __future__ import annotations

from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

from engine.bench.profile import categorize, kernel_intervals
from gpu.timed_run import run_bench, watch


def summarize(events: list[tuple[int, int, str]]) -> dict[str, Any]:
    if not events:
        return {"kernels": 0}
    busy = idle_small = idle_mid = idle_long = 0
    long_gaps = 0
    around: dict[str, list[float]] = {}  # "kernel before -> kernel after" of gaps over 50 µs: [count, s]
    deciles = [0.0] * 10  # their seconds by where in the span they fall
    span_ns = max(events[-1][1] - events[0][0], 1)
    prev_name = ""
    per_cat: dict[str, float] = {}
    per_name: dict[str, float] = {}
    cursor = events[0][0]
    for start, end, name in events:
        if start > cursor:
            gap = start - cursor
            if gap < 5_000:
                idle_small += gap
            elif gap < 50_000:
                idle_mid += gap
            else:
                idle_long += gap
                long_gaps += 1
                pair = around.setdefault(f"{prev_name[:40]} -> {name[:40]}", [0, 0.0])
                pair[0] += 1
                pair[1] += gap / 1e9
                deciles[min(9, (start - events[0][0]) * 10 // span_ns)] += gap / 1e9
        if end > cursor:
            busy += end - max(start, cursor)
            cursor = end
        per_cat[categorize(name)] = per_cat.get(categorize(name), 0.0) + (end - start) / 1e9
        per_name[name] = per_name.get(name, 0.0) + (end - start) / 1e9
        prev_name = name
    span = events[-1][1] - events[0][0]
    top = sorted(per_name.items(), key=lambda kv: -kv[1])[:15]
    pairs = sorted(([k, v[0], round(v[1], 4)] for k, v in around.items()), key=lambda r: -r[2])[:8]
    return {
        "kernels": len(events),
        "span_s": round(span / 1e9, 4),
        "busy_s": round(busy / 1e9, 4),
        "busy_share": round(busy / span, 4),
        "idle_s": {"gaps_under_5us": round(idle_small / 1e9, 4), "gaps_5_to_50us": round(idle_mid / 1e9, 4),
                   "gaps_over_50us": round(idle_long / 1e9, 4), "count_over_50us": long_gaps},
        "long_gaps_by_decile_s": [round(x, 4) for x in deciles],
        "long_gaps_around": pairs,
        "busy_by_category_s": {k: round(v, 4) for k, v in sorted(per_cat.items())},
        "top_kernels_s": [[k[:90], round(v, 4)] for k, v in top],
    }


def start(llm: Any) -> profile:
    torch.cuda.synchronize()
    prof = profile(activities=[ProfilerActivity.CUDA])
    prof.__enter__()
    return prof


def stop(prof: profile) -> dict[str, Any]:
    torch.cuda.synchronize()
    prof.__exit__(None, None, None)
    return summarize(kernel_intervals(prof))


if __name__ == "__main__":
    run_bench(watch(start, stop))
