"""Host time of the grammar path per decode step (issue #16), without a model: `--rows` sequences under
bench structured's default JSON schema, over its synthetic vocabulary of the qwen3-0.6b size (151,936
tokens). Each step does what the step loop does for grammar rows, with the engine's own functions:
accept the previous tokens (`accept_tokens`), take the staging buffer (`BitmaskStaging.host`), fill the
masks on the fill thread (`model_runner._fill_rows` on a one-thread pool, as a deferred launch does),
and on CUDA copy the buffer to the device and apply it (`apply_bitmask`: the Triton kernel). The next
tokens are drawn uniformly among the allowed ones (untimed), like a random-weight model's argmax.
Prints one JSON object: ms per step of each piece, per xgrammar fill thread count.

  python -m engine.bench.grammar_host [--rows 256] [--steps 32] [--threads default 1 auto] [--device cuda]

"default" is the engine's own thread count (engine.structured.processor.fill_threads).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
import xgrammar as xgr

import engine.structured.processor as processor
from engine import model_runner
from engine.bench.structured import DEFAULT_SCHEMA, synthetic_tokenizer_info
from engine.bench.throughput import machine_info
from engine.logits_process import accept_tokens, apply_bitmask, bitmask_words
from engine.structured import GrammarCompilerCache
from engine.structured.spec import json_schema_spec

QWEN3_VOCAB = 151936
QWEN3_EOS = 151645


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine.bench.grammar_host", description=__doc__)
    p.add_argument("--rows", type=int, default=256)
    p.add_argument("--vocab", type=int, default=QWEN3_VOCAB)
    p.add_argument("--steps", type=int, default=32, help="timed steps per thread count")
    p.add_argument("--warmup", type=int, default=4)
    p.add_argument("--threads", nargs="+", default=["default"], help="fill threads: N, auto, cpus, default")
    p.add_argument("--device", default="cpu", help="where the mask is applied (cuda: the Triton kernel)")
    p.add_argument("--seed", type=int, default=0)
    return p


class Sampler:
    """Uniformly random allowed tokens (EOS only when nothing else is allowed), from the filled mask."""

    def __init__(self, vocab: int, eos: int, seed: int) -> None:
        self.vocab, self.eos = vocab, eos
        self.rng = np.random.default_rng(seed)

    def __call__(self, bitmask: torch.Tensor) -> list[int]:
        bits = np.unpackbits(bitmask.numpy().view(np.uint8), axis=1, bitorder="little")[:, : self.vocab]
        bits[:, self.eos] &= bits.sum(axis=1) == 1
        return [int(self.rng.choice(np.flatnonzero(row))) for row in bits]


def set_threads(spec: str) -> int | str:
    """The batched matcher the processors fill with: the engine's own ("default"), or N / auto / cpus."""
    if spec == "default":
        processor._batch_matcher = None  # made again by the first fill
        return processor.fill_threads()
    threads: int | str = processor.cpu_count() if spec == "cpus" else spec if spec == "auto" else int(spec)
    processor._batch_matcher = xgr.BatchGrammarMatcher(threads)
    return threads


def run(args: argparse.Namespace, cache: GrammarCompilerCache, threads: str) -> dict[str, Any]:
    used = set_threads(threads)
    factory = cache.factory(json_schema_spec(DEFAULT_SCHEMA, "json_schema"))
    device = torch.device(args.device)
    procs = [factory() for _ in range(args.rows)]
    rows = list(range(args.rows))
    words = bitmask_words(args.vocab)
    staging = model_runner.BitmaskStaging(device)
    logits = torch.zeros(args.rows, args.vocab, dtype=torch.float32, device=device)
    filler = ThreadPoolExecutor(1, thread_name_prefix="grammar-fill")
    sample = Sampler(args.vocab, QWEN3_EOS, args.seed)
    totals: dict[str, float] = defaultdict(float)
    tokens: list[int] | None = None

    def timed(name: str, fn: Any, *a: Any) -> Any:
        start = time.perf_counter()
        out = fn(*a)
        if counting:
            totals[name] += time.perf_counter() - start
        return out

    def fill(host: torch.Tensor) -> None:  # as a deferred launch: on the fill thread, then joined
        filler.submit(model_runner._fill_rows, procs, host, rows).result()

    def apply(host: torch.Tensor) -> None:
        apply_bitmask(logits, staging.to_device(host))
        torch.cuda.synchronize()

    with torch.inference_mode():
        for step in range(args.warmup + args.steps):
            counting = step >= args.warmup
            start = time.perf_counter()
            if tokens is not None:
                timed("accept", accept_tokens, procs, tokens)
            host = timed("buffer", staging.host, args.rows, words, rows)
            timed("fill", fill, host)
            if counting:
                totals["host_total"] += time.perf_counter() - start
            tokens = sample(host)
            if device.type == "cuda":  # (the CPU's masked copy is not what a GPU step pays)
                timed("copy_and_apply", apply, host)
    filler.shutdown()
    ms = {k: round(v * 1000 / args.steps, 3) for k, v in totals.items()}
    return {"threads": used, "ms_per_step": ms}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    info = synthetic_tokenizer_info(args.vocab, [QWEN3_EOS], args.seed)
    cache = GrammarCompilerCache(info)
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    cache.factory(json_schema_spec(DEFAULT_SCHEMA, "json_schema"))  # compiled once, cached for the runs
    compile_s = time.perf_counter() - start
    result: dict[str, Any] = {
        "bench": "grammar_host",
        "rows": args.rows,
        "vocab": args.vocab,
        "steps": args.steps,
        "schema": "bench structured's default records",
        "cpus": processor.cpu_count(),
        "setup_s": round(setup_s, 2),
        "compile_s": round(compile_s, 2),
        "runs": [run(args, cache, t) for t in args.threads],
        "machine": machine_info(args.device),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
