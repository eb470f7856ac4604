"""`teecube bench throughput --shape NAME --random-weights`: PERFORMANCE.md's offline workload on a named
model shape with random weights, beside the roofline of this GPU (measured in the same run) and HF
transformers `generate` in static batches. Returns the one JSON object the command prints."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from typing import Any

import torch

from engine.bench.roofline import (
    measure_copy_bandwidth,
    measure_fp8_matmul_flops,
    measure_matmul_flops,
    roofline,
)
from engine.bench.shapes import SHAPES, hf_model, random_model, shape_loader, weight_bytes
from engine.bench.throughput import (
    Workload,
    engine_options,
    machine_info,
    parse_range,
    random_workload,
    run_engine,
    sampling_params,
)
from engine.loader import DTYPES
from engine.quantization.model import quantize_model_

GIB = 2**30


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.inference_mode()
def run_hf_static(
    model: torch.nn.Module,
    workload: Workload,
    batch_size: int = 128,
    max_batches: int | None = None,
    temperature: float = 0.0,
) -> dict[str, Any]:
    """HF `generate` over static batches of `batch_size` prompts (left-padded). A batch runs until its
    longest output is done; each sequence counts only its own output length (what the workload asks)."""
    device = next(model.parameters()).device
    n = len(workload.prompts)
    batches = [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
    run = batches[:max_batches] if max_batches else batches
    sample = dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0) if temperature > 0 else {}
    sample = sample or dict(do_sample=False)

    def generate(prompts: list[list[int]], new_tokens: int) -> None:
        width = max(len(p) for p in prompts)
        ids = torch.zeros((len(prompts), width), dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p) :] = torch.tensor(p)
            mask[row, width - len(p) :] = 1
        out = model.generate(
            input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=new_tokens,
            min_new_tokens=new_tokens, eos_token_id=None, pad_token_id=0, **sample,
        )
        assert out.shape[1] == width + new_tokens, (out.shape, width, new_tokens)

    generate([workload.prompts[0][:8]], 2)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    produced = prompt_tokens = 0
    for batch in run:
        lens = [workload.output_lens[i] for i in batch]
        generate([workload.prompts[i] for i in batch], max(lens))
        produced += sum(lens)
        prompt_tokens += sum(len(workload.prompts[i]) for i in batch)
        seconds = time.perf_counter() - start  # progress on stderr: a run cut short keeps what it measured
        print(json.dumps({"hf_progress": {"sequences": sum(len(b) for b in run[: run.index(batch) + 1]),
                                          "output_tokens": produced, "elapsed_s": round(seconds, 3)}}),
              file=sys.stderr)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    return {
        "elapsed_s": round(elapsed, 3),
        "output_tokens": produced,
        "output_tok_per_s": round(produced / elapsed, 2),
        "total_tok_per_s": round((produced + prompt_tokens) / elapsed, 2),
        "batch_size": batch_size,
        "batches_run": len(run),
        "batches_in_workload": len(batches),
        "sequences_run": sum(len(b) for b in run),
        "subset": len(run) < len(batches),
        "note": "measured on the first batches_run static batches only (a subset of the workload); the rate"
        " is theirs, not extrapolated" if len(run) < len(batches) else "whole workload",
    }


def kv_cache_info(llm: Any) -> dict[str, Any]:
    runner = llm.model_runner
    total = runner.num_blocks * runner.block_bytes
    return {
        "num_blocks": runner.num_blocks,
        "block_size": runner.block_size,
        "tokens": runner.num_blocks * runner.block_size,
        "gib": round(total / GIB, 3),
        "bytes_per_token": runner.block_bytes // runner.block_size,
        "dtype": str(runner.kv_caches[0].dtype).removeprefix("torch."),
    }


def run_shape(args: argparse.Namespace) -> dict[str, Any]:
    from engine.bench.profile import profile_engine
    from engine.llm import LLM

    device = resolve_device(args.device)
    on_gpu = device.type == "cuda"
    dtype = torch.bfloat16 if args.dtype == "auto" else DTYPES[args.dtype]
    fp8 = getattr(args, "quantization", None) == "fp8"  # FP8 GEMMs: the roofline's FLOP rate is FP8's
    matmul_flops = measure_fp8_matmul_flops if fp8 else measure_matmul_flops
    peaks = (measure_copy_bandwidth(device), matmul_flops(device)) if on_gpu else None
    if on_gpu:
        torch.cuda.empty_cache()  # the probes' buffers must not count as used when the KV cache is sized
    tp = args.tensor_parallel_size
    # with tensor parallelism every rank draws its own shard: pass the loader, not a model
    if tp == 1:
        loaded = random_model(args.shape, device, dtype, args.seed)
        if fp8:
            quantize_model_(loaded.model)  # online, as `--quantization fp8` does for a bf16 checkpoint
    else:
        loaded = shape_loader(args.shape, dtype, args.seed)
    overlap = None if not args.no_overlap else False  # None: a step in flight on CUDA
    llm = LLM(args.shape, loaded=loaded, device=str(device), async_scheduling=overlap, **engine_options(args))
    lens = parse_range(args.input_len), parse_range(args.output_len)
    workload = random_workload(args.num_prompts, *lens, llm.spec.vocab_size, args.seed)
    if on_gpu:
        torch.cuda.reset_peak_memory_stats(device)
    ours = run_engine(llm, workload, args.temperature, detokenize=False)  # token ids in/out
    ours["overlap"] = llm.core.async_scheduling
    graphs = llm.model_runner.graphs
    ours["cuda_graphs"] = graphs is not None
    ours["incremental_detokenization"] = False
    ours["graph_batch_sizes"] = graphs.sizes if graphs is not None else []
    memory: dict[str, Any] = {}
    if on_gpu:
        free, total = torch.cuda.mem_get_info(device)
        memory = {
            "peak_allocated_gib": round(torch.cuda.max_memory_allocated(device) / GIB, 3),
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved(device) / GIB, 3),
            "device_used_gib": round((total - free) / GIB, 3),
            "device_total_gib": round(total / GIB, 3),
        }
    weights = weight_bytes(llm.model_runner.model)  # rank 0's shard: what one GPU reads per step
    kv = kv_cache_info(llm)
    roof = None
    if peaks is not None:
        roof = roofline(
            [len(p) for p in workload.prompts], workload.output_lens, weights["decode_read_bytes"],
            kv["bytes_per_token"], weights["matmul_params"], weights["lm_head_params"], *peaks,
            matmul_dtype="fp8" if fp8 else "bf16", moe=weights.get("moe"),
        )
    profile = None
    if args.profile:  # the plain step loop (LLMEngine.step), host and GPU taking turns
        profile = profile_engine(llm, workload.prompts, sampling_params(workload, args.temperature))
    config = {
        k: getattr(llm.config, k)
        for k in ("max_num_seqs", "max_num_batched_tokens", "block_size", "max_model_len",
                  "gpu_memory_utilization", "enforce_eager", "enable_prefix_caching", "tensor_parallel_size",
                  "quantization", "kv_cache_dtype")
    }
    llm.shutdown()
    del llm, loaded
    gc.collect()
    if on_gpu:
        torch.cuda.empty_cache()
    hf: dict[str, Any] | None = None
    if not args.skip_hf:
        # ours first, on stderr: a failing or slow baseline must not lose it
        partial = {"partial": True, "engine": ours, "roofline": roof, "profile": profile}
        print(json.dumps(partial), file=sys.stderr)
        try:
            model = hf_model(args.shape, device, dtype)
            hf = run_hf_static(model, workload, args.hf_batch_size, args.hf_batches, args.temperature)
        except Exception as e:  # the baseline's failure is reported; ours is still printed
            hf = {"error": f"{type(e).__name__}: {e}"}
    ratio = round(ours["output_tok_per_s"] / hf["output_tok_per_s"], 2) if hf and "error" not in hf else None
    fraction = round(ours["output_tok_per_s"] / roof["output_tok_per_s"], 3) if roof else None
    if roof and roof["with_decode_flops"]["output_tok_per_s"]:
        roof["with_decode_flops"]["fraction"] = round(
            ours["output_tok_per_s"] / roof["with_decode_flops"]["output_tok_per_s"], 3
        )
    return {
        "bench": "throughput",
        "model": args.shape,
        "shape": {k: v for k, v in SHAPES[args.shape].items() if k not in ("architectures",)},
        "weights": "random",
        "dtype": str(dtype).removeprefix("torch."),
        "num_prompts": args.num_prompts,
        "input_len": args.input_len,
        "output_len": args.output_len,
        "seed": args.seed,
        "temperature": args.temperature,
        "ignore_eos": True,
        "prompt_tokens": workload.prompt_tokens,
        "output_tokens": workload.output_tokens,
        "engine": ours,
        "roofline": roof,
        "fraction_of_roofline": fraction,
        "hf": hf,
        "ratio": ratio,
        "kv_cache": kv,
        "weights_gib": round(weights["decode_read_bytes"] / GIB, 3),
        "memory": memory,
        "profile": profile,
        "config": config,
        "machine": machine_info(str(device)),
    }
