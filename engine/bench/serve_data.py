"""What `teecube bench serve` asks: the requests of each dataset.

- words: random common English words (`--input-len` of them), works through any OpenAI server;
- random: vLLM's random dataset (`--random-input-len`, `--random-output-len`, `--random-range-ratio`),
  as token ids (or words with `--prompt-format text`);
- offline-workload: PERFORMANCE.md's offline workload, the very generator `bench throughput` uses
  (256 requests, prompt and output lengths 100-1024, seed 0), so serving and offline compare.
"""

from __future__ import annotations

import argparse
import math
import random

from engine.bench.serve_client import BenchRequest
from engine.bench.throughput import SHAPE_DEFAULTS, Workload, parse_range, random_workload

DATASETS = ("words", "random", "offline-workload")
# Common English words; most are one token (with their leading space) in BPE vocabularies.
WORDS = (
    "the of and to in is was for on that with as by at from his her they have had are were be this which "
    "or an not but all one their there been has when who will more no if out so said what up its about "
    "into than them can only other new some time could these two may then do first any my now such like "
    "our over man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make world still own "
    "see men work long get here between both life being under never day same another know while last"
).split()


def offline_workload(args: argparse.Namespace) -> Workload:
    """PERFORMANCE.md's workload (or --num-prompts / --input-len / --output-len ranges given)."""
    num = args.num_prompts or SHAPE_DEFAULTS["num_prompts"]
    input_len = parse_range(args.workload_input_len or SHAPE_DEFAULTS["input_len"])
    output_len = parse_range(args.workload_output_len or SHAPE_DEFAULTS["output_len"])
    return random_workload(num, input_len, output_len, args.vocab_size, args.seed)


def random_lengths(mean: int, ratio: float, n: int, rng: random.Random) -> list[int]:
    """vLLM's --random-range-ratio: lengths uniform in [mean * (1 - r), mean * (1 + r)], at least 1."""
    lo, hi = max(1, math.floor(mean * (1 - ratio))), max(1, math.ceil(mean * (1 + ratio)))
    return [rng.randint(lo, hi) for _ in range(n)]


def build_requests(args: argparse.Namespace) -> list[BenchRequest]:
    rng = random.Random(args.seed)
    if args.dataset == "offline-workload":
        w = offline_workload(args)
        return [BenchRequest(p, n) for p, n in zip(w.prompts, w.output_lens, strict=True)]
    num = args.num_prompts or 32
    if args.dataset == "random":
        ins = random_lengths(args.random_input_len, args.random_range_ratio, num, rng)
        outs = random_lengths(args.random_output_len, args.random_range_ratio, num, rng)
    else:
        ins, outs = [args.input_len] * num, [args.output_len] * num
    high = min(args.vocab_size - 1, 30_000)
    requests = []
    for n_in, n_out in zip(ins, outs, strict=True):
        if args.prompt_format == "ids":
            prompt: str | list[int] = [rng.randint(min(1000, high), high) for _ in range(n_in)]
        else:
            prompt = " ".join(rng.choice(WORDS) for _ in range(n_in))
        requests.append(BenchRequest(prompt, n_out))
    return requests
