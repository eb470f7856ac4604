"""Host time of the engine's one loop, per step and per phase, with a stand-in model (no GPU needed).

The real EngineCore (async scheduling on, one step in flight), Scheduler, BlockManager (prefix caching
on), ModelRunner.prepare/_build, staging, Sampler and collect run at the throughput bench's sizes; only
the forward is a stand-in (zeros of the right shapes), so what is timed is the host work the GPU waits
for when it is not hidden. Scenarios:
- prefill: the first step of ~40 new prompts filling max_num_batched_tokens (16384) tokens;
- prefix_hit: the same prompts submitted again (every full block cached: the bench's --profile window);
- decode: steps of 256 running sequences, one token each;
- `--workload`: instead, PERFORMANCE.md's whole offline workload (256 prompts, 100-1024 tokens in and
  out) from the first step to the last: host time over the run, its median step, and the steps over
  three times that median (what would leave the GPU waiting mid-run), with their phases.
Prints one JSON object: host microseconds per step (this thread's CPU time by default, steadier than wall
time on a shared machine; median and min over repeats; the stand-in forward left out) and per phase.
The real forward's own host time (kernel launches) is not in these figures.

    python -m engine.bench.host_profile [--repeats 5] [--cprofile prefill|prefix_hit|decode]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from engine import fast_sampling
from engine.bench.throughput import random_workload
from engine.config import EngineConfig
from engine.engine_core import EngineCore
from engine.loader import LoadedModel, ModelSpec
from engine.outputs import RequestMetrics
from engine.sampler import SampledTokens
from engine.sampling_params import SamplingParams

CLOCK = [time.thread_time]  # this thread's CPU time: steadier than wall time on a shared machine
VOCAB = 16384  # the sampler's device work is not what is measured: a small vocabulary keeps it cheap


class StandInModel(nn.Module):
    """Hidden states and logits of the right shapes, computed from nothing (the GPU's part)."""

    def __init__(self, hidden: int = 8, vocab: int = VOCAB) -> None:
        super().__init__()
        self.hidden, self.vocab = hidden, vocab

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor, kv: Any, meta: Any) -> torch.Tensor:
        return torch.empty(input_ids.shape[0], self.hidden)

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.empty(hidden.shape[0], self.vocab)


class StandInSamplingKernels:
    """engine.kernels.sampling's stand-in: the fused sampling kernel's output shape, no work."""

    @staticmethod
    def sample_tokens(logits: torch.Tensor, inv_temperature: torch.Tensor, seed: int) -> torch.Tensor:
        return torch.zeros(logits.shape[0], dtype=torch.int64)


def use_fast_sampler(core: EngineCore) -> None:
    """The sampler takes its CUDA fast path (host side real: FastSampler.sample_device) on the CPU."""
    sampler = core.model_runner.sampler
    plain = sampler.sample
    fast_sampling._kernels = lambda: StandInSamplingKernels  # type: ignore[assignment]

    def sample(
        logits: torch.Tensor, seqs: list[Any], pending: Any = None, bitmask: Any = None, and_mask: Any = None
    ) -> Any:
        tokens = sampler.fast.sample_device(logits, seqs) if bitmask is None else None
        if tokens is None:
            return plain(logits, seqs, pending, bitmask, and_mask)
        return SampledTokens(tokens, None, [s.params.logprobs for s in seqs])

    sampler.sample = sample  # type: ignore[method-assign]


def make_core(max_num_seqs: int = 256, max_num_batched_tokens: int = 16384) -> EngineCore:
    spec = ModelSpec("StandIn", 1, 1, 1, 8, 8, VOCAB, 40960, [VOCAB - 1], torch.float32)
    config = EngineConfig(
        model="stand-in", device="cpu", max_num_seqs=max_num_seqs, max_model_len=4096,
        max_num_batched_tokens=max_num_batched_tokens, num_kv_blocks=max_num_seqs * 256 + 1,
    )
    loaded = LoadedModel(StandInModel(), spec, None)  # type: ignore[arg-type]
    core = EngineCore(config, loaded, async_scheduling=True)
    use_fast_sampler(core)
    return core


class PhaseTimer:
    """Wraps methods of live objects; accumulates their wall time per step."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    def wrap(self, obj: Any, name: str, label: str) -> None:
        fn: Callable[..., Any] = getattr(obj, name)
        current = self.current

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = CLOCK[0]()
            try:
                return fn(*args, **kwargs)
            finally:
                current[label] += CLOCK[0]() - t0

        setattr(obj, name, timed)

    def take(self) -> dict[str, float]:
        out = dict(self.current)
        self.current.clear()
        return out


def instrument(core: EngineCore) -> PhaseTimer:
    timer = PhaseTimer()
    timer.wrap(core.scheduler, "schedule", "schedule")
    timer.wrap(core.model_runner, "prepare", "prepare")
    timer.wrap(core.model_runner, "run_model", "forward_stand_in")
    timer.wrap(core.model_runner.sampler, "sample", "sample")
    timer.wrap(core.scheduler, "update_after_step", "update_after_step")
    timer.wrap(core, "_collect", "collect")
    return timer


def prompts(n: int, lo: int, hi: int, seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randint(0, 10_000) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


def add_all(core: EngineCore, batch: list[list[int]], tag: str, max_tokens: int) -> None:
    params = SamplingParams(temperature=0.6, max_tokens=max_tokens, ignore_eos=True)
    for i, p in enumerate(batch):
        core.add(f"{tag}-{i}", p, params, RequestMetrics(0.0))


def timed_step(core: EngineCore, timer: PhaseTimer) -> tuple[float, dict[str, float], int, int]:
    """One EngineCore.step: (seconds, phases, scheduled sequences, scheduled tokens)."""
    sched = {}
    schedule = core.scheduler.schedule

    def spy() -> Any:
        out = schedule()
        sched["out"] = out
        return out

    core.scheduler.schedule = spy  # type: ignore[method-assign]
    t0 = CLOCK[0]()
    core.step()
    dt = CLOCK[0]() - t0
    core.scheduler.schedule = schedule  # type: ignore[method-assign]
    out = sched.get("out")
    return dt, timer.take(), len(out.seqs) if out else 0, out.total_tokens if out else 0


def drain(core: EngineCore) -> None:
    while core.has_unfinished():
        core.step()


def scenario_prefill(profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    """The first step over fresh prompts (200-600 tokens: ~40 of them fill 16384)."""
    core = make_core()
    timer = instrument(core)
    add_all(core, prompts(256, 200, 600, seed=1), "p", max_tokens=4)
    if profiler:
        profiler.enable()
    dt, phases, n, t = timed_step(core, timer)
    if profiler:
        profiler.disable()
    return {"us": dt * 1e6, "phases": phases, "seqs": n, "tokens": t}


def scenario_prefix_hit(profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    """The same 256 prompts (100-1024 tokens) again, once the first pass has cached their blocks."""
    core = make_core()
    batch = prompts(256, 100, 1024, seed=2)
    add_all(core, batch, "a", max_tokens=1)
    drain(core)
    timer = instrument(core)
    add_all(core, batch, "b", max_tokens=4)
    if profiler:
        profiler.enable()
    dt, phases, n, t = timed_step(core, timer)
    if profiler:
        profiler.disable()
    return {"us": dt * 1e6, "phases": phases, "seqs": n, "tokens": t}


_decode: dict[str, Any] = {}  # one core kept decoding across repeats


def scenario_decode(profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    """A step of 256 running sequences (prompts 100-1024 all in, one token each per step)."""
    if not _decode:
        core = make_core()
        add_all(core, prompts(256, 100, 1024, seed=3), "d", max_tokens=3000)
        while core.scheduler.waiting or any(
            s.num_computed_tokens < s.num_tokens - 1 for s in core.scheduler.running
        ):
            core.step()
        core.step()
        _decode.update(core=core, timer=instrument(core))
    core, timer = _decode["core"], _decode["timer"]
    if profiler:
        profiler.enable()
    dt, phases, n, t = timed_step(core, timer)
    if profiler:
        profiler.disable()
    return {"us": dt * 1e6, "phases": phases, "seqs": n, "tokens": t}


SCENARIOS = {"prefill": scenario_prefill, "prefix_hit": scenario_prefix_hit, "decode": scenario_decode}


def whole_workload(seed: int = 0) -> dict[str, Any]:
    """Every step of the offline workload through the stand-in core (see --workload)."""
    core = make_core()
    timer = instrument(core)
    workload = random_workload(256, (100, 1024), (100, 1024), VOCAB, seed)
    for i, (prompt, max_tokens) in enumerate(zip(workload.prompts, workload.output_lens, strict=True)):
        params = SamplingParams(temperature=0.6, max_tokens=max_tokens, ignore_eos=True)
        core.add(f"w{i}", prompt, params, RequestMetrics(0.0))
    steps = []
    while core.has_unfinished():
        dt, phases, n, t = timed_step(core, timer)
        steps.append((dt - phases.get("forward_stand_in", 0.0), n, t, phases))
    host = [s[0] for s in steps]
    median = statistics.median(host)
    slow = [(i, s) for i, s in enumerate(steps) if s[0] > 3 * median]
    return {
        "steps": len(steps),
        "host_s": round(sum(host), 3),
        "median_step_us": round(median * 1e6, 1),
        "p99_step_us": round(sorted(host)[int(0.99 * (len(host) - 1))] * 1e6, 1),
        "steps_over_3x_median": [
            {"step": i, "us": round(s[0] * 1e6, 1), "seqs": s[1], "tokens": s[2],
             "phases_us": {k: round(v * 1e6, 1) for k, v in s[3].items()}}
            for i, s in slow[:20]
        ],
        "count_over_3x_median": len(slow),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    phases = {k: round(statistics.median(r["phases"].get(k, 0.0) for r in runs) * 1e6, 1)
              for k in runs[0]["phases"]}
    host = [r["us"] - 1e6 * r["phases"].get("forward_stand_in", 0.0) for r in runs]
    return {
        "host_us_per_step": round(statistics.median(host), 1),
        "host_us_per_step_min": round(min(host), 1),
        "seqs": runs[0]["seqs"],
        "tokens": runs[0]["tokens"],
        "phases_us": phases,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cprofile", choices=sorted(SCENARIOS), default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--wall", action="store_true", help="wall time instead of this thread's CPU time")
    p.add_argument("--workload", action="store_true", help="the whole offline workload, step by step")
    args = p.parse_args(argv)
    if args.wall:
        CLOCK[0] = time.perf_counter
    torch.set_num_threads(args.threads)
    if args.workload:
        json.dump(whole_workload(), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    if args.cprofile:
        prof = cProfile.Profile()
        for _ in range(args.repeats):
            SCENARIOS[args.cprofile](prof)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        return 0
    result: dict[str, Any] = {
        name: summarize([fn() for _ in range(args.repeats * (4 if name == "decode" else 1))])
        for name, fn in SCENARIOS.items()
    }
    clock = "wall" if args.wall else "thread CPU"
    result["note"] = f"host {clock} microseconds per EngineCore.step, stand-in forward left out"
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
