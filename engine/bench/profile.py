"""Where a step's time goes: torch.profiler over a few engine steps, GPU kernels grouped by name.

Windows: the first steps of the workload (prefill-heavy) and, once every prompt is in, steps of the
full decode batch. Per window: wall time (host clock, synchronized), GPU busy time per category
(attention kernels, GEMMs, sampling, other GPU work), and host/idle time = wall - GPU busy (the GPU
waiting on Python: scheduling, batch preparation, sampling bookkeeping, launches; and the gaps between
a CUDA graph's kernels). On a GPU only kernel records are collected (CUPTI): tracing every CPU-side op
as well slows the host and inflates host/idle (0.39 ms of a full-batch qwen3-0.6b step, where
gpu/step_profile.py's loop at 256 rows leaves 0.03 ms; gpu/busy_watch.py times a whole run's gaps).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("attention", ("decode_split", "decode_reduce", "extend_kernel", "store_kvcache", "flash", "fmha")),
    ("gemm", ("gemm", "gemv", "nvjet", "xmma", "cutlass", "splitk", "cublas", "matmul")),
    ("sampling", ("_sample_kernel", "softmax", "exponential", "distribution", "sort", "topk", "cumsum")),
)


def categorize(kernel_name: str) -> str:
    name = kernel_name.lower()
    for category, needles in CATEGORIES:
        if any(n in name for n in needles):
            return category
    return "other_gpu"


def kernel_intervals(prof: profile) -> list[tuple[int, int, str]]:
    """(start ns, end ns, name) of every GPU kernel / memcpy / memset record, in start order."""
    out = []
    for e in prof.profiler.kineto_results.events():
        if e.device_type() != DeviceType.CUDA:
            continue
        start = e.start_ns()
        out.append((start, start + e.duration_ns(), e.name()))
    return sorted(out)


def kernel_times(prof: profile) -> dict[str, float]:
    """Seconds per GPU kernel (and memcpy/memset) name over the profiled window."""
    out: dict[str, float] = {}
    for start, end, name in kernel_intervals(prof):
        out[name] = out.get(name, 0.0) + (end - start) / 1e9
    return out


def breakdown(kernels: dict[str, float], wall_s: float, num_steps: int, top: int = 12) -> dict[str, Any]:
    by_cat = {c: 0.0 for c, _ in CATEGORIES} | {"other_gpu": 0.0}
    for name, seconds in kernels.items():
        by_cat[categorize(name)] += seconds
    busy = sum(by_cat.values())
    ranked = sorted(kernels.items(), key=lambda kv: -kv[1])[:top]
    return {
        "steps": num_steps,
        "wall_ms_per_step": round(1e3 * wall_s / max(num_steps, 1), 3),
        "ms_per_step": {
            **{k: round(1e3 * v / max(num_steps, 1), 3) for k, v in by_cat.items()},
            "host_or_idle": round(1e3 * max(wall_s - busy, 0.0) / max(num_steps, 1), 3),
        },
        "share": {
            **{k: round(v / wall_s, 3) for k, v in by_cat.items()},
            "host_or_idle": round(max(wall_s - busy, 0.0) / wall_s, 3),
        }
        if wall_s > 0
        else {},
        "top_kernels_ms_per_step": [[n[:80], round(1e3 * s / max(num_steps, 1), 3)] for n, s in ranked],
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def profile_window(llm: Any, num_steps: int) -> dict[str, Any]:
    device = llm.model_runner.device
    activities = [ProfilerActivity.CUDA] if device.type == "cuda" else [ProfilerActivity.CPU]
    steps = 0
    _sync(device)
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        while steps < num_steps and llm.has_unfinished():
            llm.step(stream=False)
            steps += 1
        _sync(device)
        wall = time.perf_counter() - start
    return breakdown(kernel_times(prof), wall, steps)


def profile_engine(
    llm: Any, prompts: list[list[int]], params: list[Any], prefill_steps: int = 3, decode_steps: int = 20
) -> dict[str, Any]:
    """Submit the workload again, profile its first steps, run until every prompt is in, profile decode
    steps, then abort what is left. The prefix cache is emptied first, so the first steps are the
    workload's prefill (as in the timed run), not prefix hits on the prompts the timed run cached."""
    reset = llm.block_manager.reset_prefix_cache()
    ids = [f"profile-{i}" for i in range(len(prompts))]
    for request_id, prompt, p in zip(ids, prompts, params, strict=True):
        llm.add_request(request_id, prompt, p)
    try:
        first = profile_window(llm, prefill_steps)
        scheduler = llm.scheduler
        while llm.has_unfinished() and (
            scheduler.waiting or any(s.num_computed_tokens < s.num_tokens - 1 for s in scheduler.running)
        ):
            llm.step(stream=False)
        batch = len(scheduler.running)
        decode = profile_window(llm, decode_steps)
        decode["batch_size"] = batch
    finally:
        for request_id in ids:
            llm.abort_request(request_id)
    method = __doc__.split("\n\n")[1].replace("\n", " ")
    first["prefix_cache_reset"] = reset
    return {"first_steps": first, "decode_steps": decode, "method": method}
