"""Per-step GPU time at several decode batch sizes (qwen3-0.6b shape, random weights, bf16): wall ms
per step without the profiler, then kernels per step (name, launches, µs) with it. Shows the fixed
per-step cost that dominates the workload's tail (issue #13). Prints JSON; run from the repo root."""

from __future__ import annotations

import json
import random
import sys
import time

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from engine.bench.shapes import random_model
from engine.llm import LLM
from engine.sampling_params import SamplingParams

SHAPE = sys.argv[1] if len(sys.argv) > 1 else "qwen3-0.6b"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
BATCHES = (1, 8, 32, 64, 128, 256) if len(sys.argv) < 3 else tuple(int(b) for b in sys.argv[2].split(","))
PROMPT, STEPS = (512, 30) if len(sys.argv) < 4 else (int(sys.argv[3]), 3)


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def decode_ready(llm: LLM) -> bool:
    s = llm.scheduler
    return not s.waiting and all(q.num_computed_tokens >= q.num_tokens - 1 for q in s.running)


def main() -> None:
    dtype = torch.bfloat16 if DEVICE == "cuda" else torch.float32
    loaded = random_model(SHAPE, torch.device(DEVICE), dtype, 0)
    llm = LLM(SHAPE, loaded=loaded, device=DEVICE, max_num_seqs=256, max_num_batched_tokens=16384,
              max_model_len=4096)
    rng = random.Random(0)  # noqa: S311 (prompt ids)
    vocab = llm.spec.vocab_size
    params = SamplingParams(temperature=0.6, max_tokens=3 * STEPS + 64, ignore_eos=True)
    results = []
    for b in BATCHES:
        ids = [f"b{b}-{i}" for i in range(b)]
        for rid in ids:
            llm.add_request(rid, [rng.randrange(vocab) for _ in range(PROMPT)], params)
        while not decode_ready(llm):
            llm.step(stream=False)
        for _ in range(5):
            llm.step(stream=False)
        sync()
        t0 = time.perf_counter()
        for _ in range(STEPS):
            llm.step(stream=False)
        sync()
        wall_ms = 1e3 * (time.perf_counter() - t0) / STEPS
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(STEPS):
                llm.step(stream=False)
            sync()
        kernels = []
        for evt in prof.key_averages():
            if evt.device_type != DeviceType.CUDA:
                continue
            us = getattr(evt, "self_device_time_total", None) or getattr(evt, "self_cuda_time_total", 0.0)
            kernels.append((evt.key[:70], evt.count / STEPS, us / STEPS))
        kernels.sort(key=lambda k: -k[2])
        busy = sum(k[2] for k in kernels)
        launches = sum(k[1] for k in kernels)
        row = {"batch": len(llm.scheduler.running), "wall_ms_per_step": round(wall_ms, 3),
               "gpu_busy_ms_per_step": round(busy / 1e3, 3), "launches_per_step": round(launches, 1),
               "kernels": [[n, round(c, 1), round(us, 1)] for n, c, us in kernels[:25]]}
        print(json.dumps(row), flush=True)
        results.append(row)
        for rid in ids:
            llm.abort_request(rid)
        while llm.has_unfinished():
            llm.step(stream=False)
    gpu = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu"
    print(json.dumps({"shape": SHAPE, "gpu": gpu, "prompt": PROMPT, "results": results}))
    llm.shutdown()


if __name__ == "__main__":
    main()
