"""`teecube bench throughput`: offline output tok/s of the engine on N concurrent random-token requests,
beside HF transformers `generate` on the same prompts one at a time, in the same run. Prints one JSON object.

The workload (what is asked) is built apart from the runners (who answers), so other model sources
(random weights of a named shape, say) can plug in without touching either.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from engine.bench.gc_pauses import gc_pauses
from engine.bench.shapes import SHAPES
from engine.cli import BUNDLED, bundled_model_path

CONFIG_KEYS = (
    "device", "max_num_seqs", "max_num_batched_tokens", "block_size", "max_model_len", "tensor_parallel_size"
)


@dataclass(slots=True)
class Workload:
    prompts: list[list[int]]
    output_lens: list[int]
    seed: int

    @property
    def prompt_tokens(self) -> int:
        return sum(len(p) for p in self.prompts)

    @property
    def output_tokens(self) -> int:
        return sum(self.output_lens)


def parse_range(text: str) -> tuple[int, int]:
    """ "32" -> (32, 32); "100-1024" -> (100, 1024)."""
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


def random_workload(
    num_prompts: int, input_len: tuple[int, int], output_len: tuple[int, int], vocab_size: int, seed: int = 0
) -> Workload:
    """PERFORMANCE.md's workload: random.Random(seed) draws each sequence's prompt and output lengths
    (uniform in the inclusive ranges), then the prompts' token ids (uniform in [0, min(vocab - 1, 10000)]).
    With 256 sequences, 100-1024 and seed 0: 148,194 prompt and 140,797 output tokens."""
    rng = random.Random(seed)
    high = min(vocab_size - 1, 10_000)
    lens = [(rng.randint(*input_len), rng.randint(*output_len)) for _ in range(num_prompts)]
    prompts = [[rng.randint(0, high) for _ in range(n)] for n, _ in lens]
    return Workload(prompts, [m for _, m in lens], seed)


def resolve_model(model: str) -> str:
    return str(bundled_model_path()) if model == BUNDLED else model


WARM_UP_PREFILL_TOKENS = 8192  # the big warm-up batch: a multi-thousand-token prefill chunk, as the run has


def warm_up(llm: Any, workload: Workload, temperature: float = 0.0) -> None:
    """Compiles before the clock starts what the timed run would otherwise compile inside it, at the
    run's temperature (its sampling path): one short generate per batch shape class (1, 3 and 16
    sequences; Triton's integer specialisations == 1, % 16 == 0, other), then the workload's first
    prompts at full length (up to WARM_UP_PREFILL_TOKENS: a long prefill chunk and its attention). Every
    warm-up prompt is a reversed workload prompt, so the timed run finds none of it in the prefix cache.
    gpu/compile_watch.py lists what still compiles on the clock; on an H200 it found the sampler's
    per-step specialisations (now unspecialised, engine/kernels/sampling.py), which had cost the first
    model timed in a process ~0.65 s (llama3-8b bf16: 9,340-9,676 output tok/s cold, ~10,000 warm)."""
    from engine.sampling_params import SamplingParams

    params = SamplingParams(temperature=temperature, max_tokens=2, ignore_eos=True)
    for n in (1, 3, 16):
        prompts = [workload.prompts[i % len(workload.prompts)][::-1][: 8 + i] for i in range(n)]
        llm.generate(prompts, params, use_tqdm=False)
    long_prompts, total = [], 0
    for prompt in workload.prompts:
        if long_prompts and total + len(prompt) > WARM_UP_PREFILL_TOKENS:
            break
        long_prompts.append(prompt[::-1])
        total += len(prompt)
    llm.generate(long_prompts, params, use_tqdm=False)


def sampling_params(workload: Workload, temperature: float) -> list[Any]:
    from engine.sampling_params import SamplingParams

    return [
        SamplingParams(temperature=temperature, max_tokens=n, ignore_eos=True) for n in workload.output_lens
    ]


def generate_token_ids(llm: Any, prompts: list[list[int]], params: list[Any]) -> list[Any]:
    """`LLM.generate` for token-id prompts whose text nobody reads: the same requests and steps, without
    incremental detokenization (vLLM's detokenize=False; nano-vllm decodes once at the end)."""
    return llm.generate(prompts, [replace(p, detokenize=False) for p in params], use_tqdm=False)


def run_engine(
    llm: Any, workload: Workload, temperature: float = 0.0, detokenize: bool = True
) -> dict[str, Any]:
    """The engine's one loop (a step in flight on CUDA; see engine/engine_core.py)."""
    warm_up(llm, workload, temperature)
    params = sampling_params(workload, temperature)
    with gc_pauses() as gc_report:
        start = time.perf_counter()
        if detokenize:
            outs = llm.generate(workload.prompts, params, use_tqdm=False)
        else:
            outs = generate_token_ids(llm, workload.prompts, params)
        elapsed = time.perf_counter() - start
    produced = sum(len(o.outputs[0].token_ids) for o in outs)
    stats = llm.stats()
    return {
        "elapsed_s": round(elapsed, 3),
        "output_tokens": produced,
        "output_tok_per_s": round(produced / elapsed, 2),
        "total_tok_per_s": round((produced + workload.prompt_tokens) / elapsed, 2),
        "num_preemptions": stats.num_preemptions,
        "num_kv_blocks": stats.total_blocks,
        "gc": gc_report,  # the collector's pauses inside the timed run (engine/gc_heap.py)
    }


def load_hf(model_path: str, device: str = "cpu", dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """The HF transformers model with the same weights: from an HF directory, or from a GGUF's state dict."""
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(model_path)
    if path.is_dir() and (path / "config.json").exists():
        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
    from transformers.initialization import no_init_weights

    from engine.loader.gguf import read_gguf

    hf_config, state_dict, _ = read_gguf(path)
    with no_init_weights():
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**hf_config), dtype=dtype)
    model.load_state_dict(state_dict, strict=False)
    model.tie_weights()
    return model.to(device).eval()


@torch.inference_mode()
def run_hf(model: torch.nn.Module, workload: Workload) -> dict[str, Any]:
    """HF `generate`, one request at a time, greedy, exactly output_len new tokens."""

    def generate(prompt: list[int], n: int) -> int:
        ids = torch.tensor([prompt], device=model.device)
        out = model.generate(
            ids, do_sample=False, max_new_tokens=n, min_new_tokens=n, eos_token_id=None, pad_token_id=0
        )
        return out.shape[1] - ids.shape[1]

    generate(workload.prompts[0][:8], 2)
    start = time.perf_counter()
    produced = sum(generate(p, n) for p, n in zip(workload.prompts, workload.output_lens, strict=True))
    elapsed = time.perf_counter() - start
    return {
        "elapsed_s": round(elapsed, 3),
        "output_tokens": produced,
        "output_tok_per_s": round(produced / elapsed, 2),
        "total_tok_per_s": round((produced + workload.prompt_tokens) / elapsed, 2),
    }


def machine_info(device: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if hasattr(os, "getloadavg"):
        info["loadavg_1m"] = round(os.getloadavg()[0], 2)
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


BUNDLED_DEFAULTS = dict(num_prompts=32, input_len="32", output_len="64", max_num_seqs=256, temperature=0.0)
# PERFORMANCE.md's offline workload (nano-vllm's bench.py: temperature 0.6, max_model_len 4096)
SHAPE_DEFAULTS = dict(
    num_prompts=256, input_len="100-1024", output_len="100-1024", max_num_seqs=256, temperature=0.6,
    max_model_len=4096, max_num_batched_tokens=16384,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="teecube bench throughput", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=BUNDLED, help="'bundled', an HF directory or a .gguf file")
    p.add_argument("--shape", choices=sorted(SHAPES), default=None,
                   help="a named model shape (needs --random-weights); runs PERFORMANCE.md's workload")
    p.add_argument("--random-weights", action="store_true", help="random bf16 weights: no download")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--num-prompts", type=int, default=None)
    p.add_argument("--input-len", default=None, help="N or MIN-MAX (uniform)")
    p.add_argument("--output-len", default=None, help="N or MIN-MAX (uniform)")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-num-seqs", type=int, default=None)
    p.add_argument("--max-num-batched-tokens", type=int, default=None)
    p.add_argument("--num-kv-blocks", type=int, default=None)
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--enforce-eager", action="store_true", help="no CUDA graphs")
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1, help="GPUs (one process each)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--skip-hf", action="store_true", help="do not run the HF transformers baseline")
    p.add_argument("--hf-batch-size", type=int, default=128, help="--shape: HF static batch size")
    p.add_argument("--hf-batches", type=int, default=None,
                   help="--shape: run only the first N HF batches (a labelled subset; default all)")
    p.add_argument("--profile", action="store_true", help="--shape: torch.profiler breakdown of a few steps")
    p.add_argument("--no-overlap", action="store_true",
                   help="--shape: no step in flight (host and GPU take turns; engine/engine_core.py)")
    add_quantization_flags(p)
    p.add_argument("--compare-bf16", action="store_true",
                   help="--shape: also run bf16 (and FP8 weights with a bf16 KV cache) in this invocation")
    return p


def resolve_defaults(args: argparse.Namespace) -> argparse.Namespace:
    for key, value in (SHAPE_DEFAULTS if args.shape else BUNDLED_DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = resolve_defaults(parser().parse_args(argv))
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.shape:
        from engine.bench.shape_run import run_shape

        if not args.random_weights:
            parser().error("--shape needs --random-weights (named shapes are never downloaded)")
        if args.compare_bf16:
            from engine.bench.fp8_compare import compare_with_bf16

            result = compare_with_bf16(args)
        else:
            result = run_shape(args)
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
        return 0
    model_path = resolve_model(args.model)
    llm = build_llm(args, model_path)
    workload = random_workload(
        args.num_prompts,
        parse_range(args.input_len),
        parse_range(args.output_len),
        llm.spec.vocab_size,
        args.seed,
    )
    ours = run_engine(llm, workload, args.temperature)
    config, dtype = llm.config, llm.spec.dtype
    llm.shutdown()  # tensor-parallel workers, if any
    hf = None
    if not args.skip_hf:
        del llm
        hf = run_hf(load_hf(model_path, config.device, dtype), workload)
    result = {
        "bench": "throughput",
        "model": args.model,
        "num_prompts": args.num_prompts,
        "input_len": args.input_len,
        "output_len": args.output_len,
        "seed": args.seed,
        "prompt_tokens": workload.prompt_tokens,
        "output_tokens": workload.output_tokens,
        "engine": ours,
        "hf": hf,
        "ratio": round(ours["output_tok_per_s"] / hf["output_tok_per_s"], 2) if hf else None,
        "config": {
            **{k: v for k, v in asdict(config).items() if k in CONFIG_KEYS},
            "dtype": str(dtype).removeprefix("torch."),
        },
        "machine": machine_info(config.device),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


def add_quantization_flags(p: argparse.ArgumentParser) -> None:
    """The flags every bench shares with `engine_options` (`teecube engine` has the same two)."""
    p.add_argument("--quantization", "-q", choices=["fp8"], default=None,
                   help="fp8: FP8 weights (per-channel) and activations (per token)")
    p.add_argument("--kv-cache-dtype", choices=["auto", "fp8", "fp8_e4m3"], default="auto")


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The EngineConfig fields the bench's flags set (shared by the model and --shape paths)."""
    return dict(
        max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens,
        num_kv_blocks=args.num_kv_blocks,
        max_model_len=args.max_model_len,
        seed=args.seed,
        enforce_eager=args.enforce_eager,
        gpu_memory_utilization=args.gpu_memory_utilization,
        tensor_parallel_size=args.tensor_parallel_size,
        quantization=args.quantization,
        kv_cache_dtype=args.kv_cache_dtype,
    )


def build_llm(args: argparse.Namespace, model_path: str) -> Any:
    from engine.llm import LLM

    return LLM(model_path, device=args.device, dtype=args.dtype, **engine_options(args))

if __name__ == "__main__":
    sys.exit(main())
