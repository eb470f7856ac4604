"""Host time of grammar rows in the engine's own step loop (issue #16), without a GPU: the real EngineCore
(async scheduling, one step in flight), Scheduler, ModelRunner.launch/prepare, StepRun, BitmaskStaging,
accept and the fill thread, for 256 sequences under bench structured's schema over its 151,936-token
vocabulary (qwen3-0.6b's size; `--vocab-kind bpe` or `random-ascii` as in bench structured). Only the
GPU's part is a stand-in: the forward returns an
unwritten logits buffer, the mask's copy to the device is a no-op, and the sampler draws each row's token
uniformly among the tokens its mask allows (a random-weight model's argmax is as good as random); the
stand-in's own time is left out of every figure.

Prints one JSON object per run (no schema, then the schema): wall ms per decode step of each phase of
the main thread (exclusive of nested phases), the fill on the fill thread, and where each phase sits in
the loop's order against the GPU:
- `hidden_ms`: from the forward's launch to the launch of the same step's sampler (the fill is joined in
  between): the GPU runs that forward meanwhile, so this is free while it is under the forward's time;
- `exposed_ms`: from a sampler's launch to the next forward's launch: the GPU has only the sampler to
  run, so what exceeds it (~0.3 ms at batch 256) is GPU idle time on every step.
`predicted` turns them into a step time for a given forward (--gpu-forward-ms, default 5.0 ms: qwen3-0.6b
at batch 256 on an H200) and the overhead against the no-schema run.

    python -m engine.bench.grammar_loop [--steps 48] [--threads N] [--gpu-forward-ms 5.0]

Thread counts are the engine's (TEECUBE_GRAMMAR_THREADS for the fill, else every CPU of the process;
TEECUBE_GRAMMAR_ACCEPT_THREADS for the accepts, else half of them).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import nn

import engine.model_runner as mr
import engine.structured.processor as processor
from engine.bench.structured import DEFAULT_SCHEMA, vocabulary
from engine.bench.throughput import machine_info
from engine.config import EngineConfig
from engine.engine_core import EngineCore
from engine.loader import LoadedModel, ModelSpec
from engine.outputs import RequestMetrics
from engine.sampler import SampledTokens
from engine.sampling_params import SamplingParams
from engine.structured import GrammarCompilerCache
from engine.structured.spec import json_schema_spec

QWEN3_VOCAB = 151936
QWEN3_EOS = 151645
CLOCK = [time.perf_counter]  # --clock cpu: time.thread_time, steadier on a shared machine
SAMPLER_GPU_MS = 0.3  # mask copy + Triton apply + fused sampler at batch 256 on an H200 (step profile)
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)


def eos_id(vocab: int) -> int:
    """qwen3's EOS id, or the last id of a smaller vocabulary (a quick run)."""
    return min(QWEN3_EOS, vocab - 1)


class StandInModel(nn.Module):
    """Logits of the right shape, never written (the forward is the GPU's part)."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.logits = torch.empty(256, vocab)

    def forward(self, input_ids: torch.Tensor, positions: torch.Tensor, kv: Any, meta: Any) -> torch.Tensor:
        return torch.empty(input_ids.shape[0], 8)

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        n = hidden.shape[0]
        if n > self.logits.shape[0]:
            self.logits = torch.empty(n, self.vocab)
        return self.logits[:n]


def pick_allowed(bitmask: torch.Tensor, vocab: int, rng: np.random.Generator) -> torch.Tensor:
    """One token per row, uniform among the row's allowed tokens."""
    words = bitmask.numpy().view(np.uint32)
    counts = _POPCOUNT[words.view(np.uint8)].reshape(words.shape[0], -1, 4).sum(axis=2)
    cum = np.cumsum(counts, axis=1)
    out = []
    for r in range(words.shape[0]):
        k = int(rng.integers(cum[r, -1]))
        w = int(np.searchsorted(cum[r], k, side="right"))
        k -= int(cum[r, w - 1]) if w else 0
        bits = [b for b in range(32) if int(words[r, w]) >> b & 1]
        out.append(min(w * 32 + bits[k], vocab - 1))
    return torch.tensor(out, dtype=torch.int64)


class Timeline:
    """Exclusive wall time per phase on the main thread (nested phases subtracted), the stand-in's time
    kept apart, and the moments each forward and sampler is launched."""

    def __init__(self) -> None:
        self.main = threading.get_ident()
        self.totals: dict[str, float] = defaultdict(float)
        self.stack: list[list[Any]] = []
        self.forward_at: list[float] = []
        self.sampler_at: list[float] = []
        self.fill_ms: list[float] = []
        self.fill_start_ms: list[float] = []
        self.stand_in_s = 0.0  # the stand-in's time so far: `now` leaves it out
        self.originals: list[tuple[Any, str, Any]] = []

    def now(self) -> float:
        return CLOCK[0]() - self.stand_in_s

    def wrap(self, owner: Any, name: str, label: str) -> None:
        fn: Callable[..., Any] = getattr(owner, name)
        if isinstance(owner, type) or hasattr(owner, "__file__"):  # a class or module: put back after
            self.originals.append((owner, name, owner.__dict__[name]))
        timeline = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != timeline.main:
                return fn(*args, **kwargs)
            frame = [label, CLOCK[0](), 0.0]
            timeline.stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                timeline.stack.pop()
                spent = CLOCK[0]() - frame[1]
                timeline.totals[label] += spent - frame[2]
                if timeline.stack:
                    timeline.stack[-1][2] += spent

        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, original in reversed(self.originals):
            setattr(owner, name, original)

    def stand_in(self, start: float) -> None:
        """Time since start was the stand-in's: out of every phase it is nested in."""
        spent = CLOCK[0]() - start
        self.stand_in_s += spent
        self.totals["stand_in (not host work)"] += spent
        if self.stack:
            self.stack[-1][2] += spent


def make_core(vocab: int, threads: int | None) -> tuple[EngineCore, Timeline, np.random.Generator]:
    spec = ModelSpec("StandIn", 1, 1, 1, 8, 8, vocab, 40960, [eos_id(vocab)], torch.float32)
    config = EngineConfig(
        model="stand-in",
        device="cpu",
        max_num_seqs=256,
        max_model_len=4096,
        max_num_batched_tokens=16384,
        num_kv_blocks=256 * 32 + 1,
    )
    core = EngineCore(config, LoadedModel(StandInModel(vocab), spec, None), async_scheduling=True)  # type: ignore[arg-type]
    processor._batch_matcher = None if threads is None else processor.xgr.BatchGrammarMatcher(threads)
    runner = core.model_runner
    timeline = Timeline()
    rng = np.random.default_rng(0)

    def sample(
        logits: torch.Tensor, seqs: list[Any], pending: Any = None, bitmask: Any = None, and_mask: Any = None
    ) -> Any:
        timeline.sampler_at.append(timeline.now())
        start = CLOCK[0]()
        if bitmask is None:
            tokens = torch.zeros(logits.shape[0], dtype=torch.int64)
        else:
            if and_mask is not None:  # the device's AND (the mask kernel's), here on the host copy
                mask, rows = and_mask
                bitmask = bitmask.clone()
                bitmask[slice(None) if rows is None else rows.bool()] &= mask
            tokens = pick_allowed(bitmask, vocab, rng)
        timeline.stand_in(start)
        return SampledTokens(tokens, None, [s.params.logprobs for s in seqs])

    runner.sampler.sample = sample  # type: ignore[method-assign]

    def to_device(host: torch.Tensor) -> torch.Tensor:  # CUDA: an async copy behind an event
        runner.bitmasks.turn ^= 1
        return host

    runner.bitmasks.to_device = to_device  # type: ignore[method-assign]
    run_model = runner.run_model

    def forward(inp: Any) -> Any:
        start = CLOCK[0]()
        out = run_model(inp)
        timeline.stand_in(start)
        timeline.forward_at.append(timeline.now())
        return out

    runner.run_model = forward  # type: ignore[method-assign]
    timeline.wrap(core.scheduler, "schedule", "schedule")
    timeline.wrap(core.scheduler, "update_after_step", "update_after_step")
    timeline.wrap(runner, "prepare", "prepare")
    timeline.wrap(runner, "_mask_rows", "mask_rows_bookkeeping")
    timeline.wrap(runner.bitmasks, "host", "staging_buffer")
    timeline.wrap(core, "_collect", "collect")
    timeline.wrap(mr.StepRun, "complete", "fill_join_and_sampler_launch")
    timeline.wrap(mr.StepRun, "result", "tokens_to_host")
    timeline.wrap(mr.StepRun, "accept_processors", "accept_bookkeeping")
    timeline.wrap(mr, "accept_tokens", "accept_xgrammar")
    timeline.wrap(mr, "fill_rows", "fill_on_main_thread")
    timeline.wrap(runner, "launch", "launch_bookkeeping")
    timeline.wrap(core, "_launch", "core_launch_bookkeeping")
    timeline.wrap(core, "step", "step_rest")
    fill = mr._fill_rows
    submitted: list[float] = []

    class Pool(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            submitted.append(time.perf_counter())
            return super().submit(fn, *args, **kwargs)

    runner._filler = Pool(1, thread_name_prefix="grammar-fill")

    def fill_thread(*args: Any) -> None:
        if submitted:  # how long the fill thread waited to run (for the GIL, mostly)
            timeline.fill_start_ms.append((time.perf_counter() - submitted.pop()) * 1000)
        start = CLOCK[0]()  # this (the fill) thread's clock; xgrammar's own threads are not in cpu time
        fill(*args)
        timeline.fill_ms.append((CLOCK[0]() - start) * 1000)

    timeline.originals.append((mr, "_fill_rows", fill))
    mr._fill_rows = fill_thread
    return core, timeline, rng


def run(args: argparse.Namespace, schema: bool, cache: GrammarCompilerCache) -> dict[str, Any]:
    core, tl, _ = make_core(args.vocab, args.threads)
    try:
        factory = cache.factory(json_schema_spec(DEFAULT_SCHEMA, "json_schema")) if schema else None
        rnd = random.Random(args.seed)
        for i in range(args.rows):
            params = SamplingParams(temperature=0.0, max_tokens=args.steps + 64, ignore_eos=factory is None)
            params.logits_processor_factory = factory  # type: ignore[attr-defined]
            prompt = [rnd.randrange(min(10_000, args.vocab - 1)) for _ in range(args.input_len)]
            core.add(f"r{i}", prompt, params, RequestMetrics(0.0))
        while core.scheduler.waiting or any(s.num_output_tokens < 8 for s in core.scheduler.running):
            core.step()  # prefills and a few decode steps
        tl.totals.clear()
        tl.forward_at.clear()
        tl.sampler_at.clear()
        tl.fill_ms.clear()
        tl.fill_start_ms.clear()
        start = tl.now()
        for _ in range(args.steps):
            core.step()
        wall = tl.now() - start
    finally:
        tl.restore()
    steps = args.steps
    stand_in = tl.totals.pop("stand_in (not host work)", 0.0)
    ms = {k: round(v * 1000 / steps, 3) for k, v in sorted(tl.totals.items())}
    fwd, smp = tl.forward_at, tl.sampler_at
    # pair each forward with the sampler launched after it (its own step's) and before the next forward
    hidden, exposed = [], []
    for a, b in itertools.pairwise(fwd):
        between = [s for s in smp if a < s < b]
        if between:
            hidden.append(between[-1] - a)
            exposed.append(b - between[-1])
    return {
        "schema": schema,
        "rows": args.rows,
        "steps": steps,
        "fill_threads": (args.threads or processor.fill_threads()) if schema else None,
        "host_ms_per_step": round(wall * 1000 / steps, 3),
        "phases_ms_per_step": ms,
        "fill_thread_ms_per_step": round(statistics.median(tl.fill_ms), 3) if tl.fill_ms else None,
        "fill_start_delay_ms": round(statistics.median(tl.fill_start_ms), 3) if tl.fill_start_ms else None,
        "hidden_ms": round(statistics.median(hidden) * 1000, 3) if hidden else None,
        "exposed_ms": round(statistics.median(exposed) * 1000, 3) if exposed else None,
        "stand_in_ms_per_step": round(stand_in * 1000 / steps, 3),
    }


def predict(run: dict[str, Any], forward_ms: float) -> float:
    """Step time on a GPU whose forward takes forward_ms (wall clock runs only). Without grammar rows the
    sampler is queued right behind its forward, so only the host's whole cycle can exceed the GPU's step;
    with them the GPU also idles while `hidden` exceeds the forward and `exposed` the sampler."""
    gpu = forward_ms + SAMPLER_GPU_MS
    if run["schema"]:
        gpu += max(run["hidden_ms"] - forward_ms, 0.0) + max(run["exposed_ms"] - SAMPLER_GPU_MS, 0.0)
    return max(gpu, run["host_ms_per_step"])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine.bench.grammar_loop", description=__doc__)
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--vocab", type=int, default=QWEN3_VOCAB)
    p.add_argument("--vocab-kind", dest="vocab_kind", choices=("bpe", "random-ascii"), default="bpe")
    p.add_argument("--tokenizer-json", default=None, help="the BPE vocabulary for --vocab-kind bpe")
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--steps", type=int, default=48, help="timed decode steps per run")
    p.add_argument("--threads", type=int, default=None, help="xgrammar fill threads (default: the engine's)")
    p.add_argument("--gpu-forward-ms", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: each thread's CPU time (no waits: a fill join then costs nothing on the main thread)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    CLOCK[0] = time.thread_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or processor.cpu_count()))
    info, vocab = vocabulary(
        args.vocab_kind, args.tokenizer_json, args.vocab, [eos_id(args.vocab)], args.seed
    )
    cache = GrammarCompilerCache(info)
    with torch.inference_mode():
        plain = run(args, False, cache)
        constrained = run(args, True, cache)
    base = predict(plain, args.gpu_forward_ms)
    with_schema = predict(constrained, args.gpu_forward_ms)
    predicted: dict[str, Any] = {
        "gpu_forward_ms": args.gpu_forward_ms,
        "step_ms_no_schema": round(base, 3),
        "step_ms_json_schema": round(with_schema, 3),
        "overhead": round(1 - base / with_schema, 4),
    }
    if args.clock == "cpu":  # CPU time leaves the waits out: no step time follows from it
        predicted = {"note": "wall clock only"}
    result = {
        "bench": "grammar_loop",
        "clock": args.clock,
        "cpus": processor.cpu_count(),
        "engine_fill_threads": processor.fill_threads(),
        "torch_threads": torch.get_num_threads(),
        "vocab": vocab,
        "no_schema": plain,
        "json_schema": constrained,
        "predicted": predicted,
        "machine": machine_info("cpu"),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
