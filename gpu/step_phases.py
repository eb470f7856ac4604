"""Where the host's time goes, step by step, in a real `teecube bench throughput` timed run: each
EngineCore.step and its phases (schedule, prepare, forward launch, sampler, collect = waiting for the
step before's tokens and reading them, update) on the wall clock, plus the time between two steps (the
LLM's own output handling). Run from the repo root with the bench's arguments:
    PYTHONPATH=$PWD python3 gpu/step_phases.py throughput --shape qwen3-0.6b --random-weights --skip-hf
The bench's JSON goes to stdout as usual; stderr ends with one JSON line: totals per phase, and the steps
whose host work (everything but collect, which mostly waits for the GPU) is over 3x its median, with
their phases and batch sizes: the candidates for the GPU's idle gaps that gpu/busy_watch.py finds.
Inside the forward phase, `in_forward:*` splits it into graph fill, graph replay, eager model and LM head
(session 12 found the LM head's first call at some row counts waiting for the GPU this way); every garbage
collection (generation, microseconds) is filed with its step, and the CUDA allocator's device mallocs
during the run are counted (each one synchronizes).
On a CPU (the bundled model) it runs too, synchronously: a check of the tool, not a GPU figure."""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import torch

import engine.bench.host_profile as host_profile
from gpu.timed_run import run_bench, watch

WAITING = "collect"  # the phase that mostly waits for the GPU (step N's tokens)


def summarize(steps: list[dict[str, Any]]) -> dict[str, Any]:
    if not steps:
        return {"steps": 0}
    for s in steps:  # host_profile's label for the stand-in forward: here the real one (its launch)
        if "forward_stand_in" in s["phases"]:
            s["phases"]["forward"] = s["phases"].pop("forward_stand_in")
    phases: dict[str, float] = {}
    for s in steps:
        for k, v in s["phases"].items():
            phases[k] = phases.get(k, 0.0) + v
    own = [s["wall"] - s["phases"].get(WAITING, 0.0) for s in steps]
    median = statistics.median(own)
    slow = [(o, s) for o, s in zip(own, steps, strict=True) if o > 3 * median]
    return {
        "steps": len(steps),
        "in_steps_s": round(sum(s["wall"] for s in steps), 4),
        "between_steps_s": round(sum(s["before"] for s in steps), 4),
        "phases_s": {k: round(v, 4) for k, v in sorted(phases.items())},
        "host_work_median_us": round(median * 1e6, 1),
        "host_work_p99_us": round(sorted(own)[int(0.99 * (len(own) - 1))] * 1e6, 1),
        "slow_steps": len(slow),
        "slow_steps_excess_s": round(sum(o - median for o, _ in slow), 4),
        "slowest": [
            {"step": s["index"], "host_us": round(o * 1e6, 1), "seqs": s["seqs"],
             "before_us": round(s["before"] * 1e6, 1),
             "phases_us": {k: round(v * 1e6, 1) for k, v in s["phases"].items()}}
            for o, s in sorted(slow, key=lambda r: -r[0])[:12]
        ],
        # decode steps (every prompt in) whose host work is slow, in order, with the GC's work inside them
        "slow_decode_steps": [
            {"step": s["index"], "host_us": round(o * 1e6, 1), "seqs": s["seqs"],
             "gc": s["gc"], "phases_us": {k: round(v * 1e6) for k, v in s["phases"].items()}}
            for o, s in slow if s["index"] > 12
        ][:40],
        "by_batch": by_batch(steps),
        "gc_s": round(sum(g[1] for s in steps for g in s["gc"]) / 1e6, 4),
        "gc_collections": [sum(1 for s in steps for g in s["gc"] if g[0] == gen) for gen in range(3)],
        "gc_older": [[s["index"], g] for s in steps for g in s["gc"] if g[0] > 0],  # [step, [gen, us]]
    }


BATCH_BINS = ((1, 8), (9, 16), (17, 32), (33, 64), (65, 128), (129, 192), (193, 256))


def by_batch(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decode steps (index > 12) by running sequences: mean host work, wait in collect (near 0: the GPU
    was done first, the host is the bottleneck) and time between steps, in microseconds."""
    rows = []
    for lo, hi in BATCH_BINS:
        sel = [s for s in steps if s["index"] > 12 and lo <= s["seqs"] <= hi]
        if not sel:
            continue
        wait = [s["phases"].get(WAITING, 0.0) for s in sel]
        rows.append({
            "seqs": f"{lo}-{hi}", "steps": len(sel),
            "host_us": round(statistics.mean(s["wall"] - w for s, w in zip(sel, wait, strict=True)) * 1e6),
            "collect_us": round(statistics.mean(wait) * 1e6),
            "between_us": round(statistics.mean(s["before"] for s in sel) * 1e6),
            "wall_s": round(sum(s["wall"] + s["before"] for s in sel), 4),
        })
    return rows


def start(llm: Any) -> dict[str, Any]:
    """Time every EngineCore.step of the timed run (and its phases) on the wall clock."""
    core = llm.core
    timer = host_profile.instrument(core)
    runner = core.model_runner  # inside the forward phase: which path a step took, and where it waited
    if runner.graphs is not None:
        timer.wrap(runner.graphs, "run", "in_forward:graph_run")
        timer.wrap(runner.graphs.buffers, "fill", "in_forward:graph_fill")
    timer.wrap(runner.model, "forward", "in_forward:eager_model")
    timer.wrap(runner.model, "compute_logits", "in_forward:lm_head")
    steps: list[dict[str, Any]] = []
    real_step = core.step
    last = [time.perf_counter()]
    collections: list[list[int]] = []  # [generation, microseconds] of each collection since the last step
    began = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            collections.append([info["generation"], round((time.perf_counter() - began[0]) * 1e6)])

    def step() -> Any:
        t0 = time.perf_counter()
        out = real_step()
        t1 = time.perf_counter()
        steps.append({"index": len(steps), "wall": t1 - t0, "before": t0 - last[0],
                      "phases": timer.take(), "seqs": len(core.scheduler.running), "gc": list(collections)})
        collections.clear()
        last[0] = t1
        return out

    core.step = step
    gc.callbacks.append(on_gc)
    return {"core": core, "real_step": real_step, "steps": steps, "on_gc": on_gc, "alloc": allocator()}


def allocator() -> dict[str, int]:
    """The CUDA caching allocator's counters (device mallocs and frees synchronize)."""
    if not torch.cuda.is_available():
        return {}
    stats = torch.cuda.memory_stats()
    keys = ("num_alloc_retries", "num_device_alloc", "num_device_free", "num_sync_all_streams")
    return {k: int(stats.get(k, 0)) for k in keys}


def stop(state: dict[str, Any]) -> dict[str, Any]:
    state["core"].step = state["real_step"]
    gc.callbacks.remove(state["on_gc"])
    after = allocator()
    summary = summarize(state["steps"])
    summary["allocator_during_run"] = {k: after[k] - state["alloc"].get(k, 0) for k in after}
    return summary


if __name__ == "__main__":
    host_profile.CLOCK[0] = time.perf_counter  # wall time: waits count
    run_bench(watch(start, stop))
