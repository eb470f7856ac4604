"""bf16 split-KV decode attention: tile / warps / stages / splits sweep at the offline workload's shapes
(issue #13): JSON on stdout, one line per shape.

Shapes: qwen3-0.6b (16 query heads, 8 KV) and llama3-8b (32 / 8), head_dim 128, block size 16,
scrambled blocks; batches 256 (contexts 100-1100, the workload's full decode batch), 64 (1000-2000) and
8 (1500-2000, its tail). Each config: median µs of one call (both passes) in a CUDA graph and the
effective TB/s (bytes of K and V read / time); "default" is what decode_attention picks today.
Run from the repo root: PYTHONPATH=$PWD python3 gpu/decode_sweep.py [--quick]
"""

from __future__ import annotations

import itertools
import json
import sys

import torch
from triton.testing import do_bench_cudagraph

from engine.bench.roofline import measure_copy_bandwidth
from engine.kernels.decode_attention import decode_attention, default_num_splits

DEV = "cuda"
KV_HEADS, HEAD_DIM, BLOCK_SIZE = 8, 128, 16
Q_HEADS = {"qwen3-0.6b": 16, "llama3-8b": 32}  # both with 8 KV heads of 128
BATCHES = {  # batch -> (min ctx, max ctx): a decode batch of that size and context spread
    256: (100, 1100), 128: (300, 1500), 96: (600, 1700), 64: (1000, 2000), 48: (1000, 2000),
    24: (1200, 2000), 8: (1500, 2000),
}


def batch_shapes(batches: dict[str, tuple[int, ...]]) -> list[tuple[str, int, int, int, int]]:
    """(name, q_heads, batch, min ctx, max ctx) for each model and each of its batch sizes."""
    return [
        (f"{model} b{b}", Q_HEADS[model], b, *BATCHES[b]) for model, sizes in batches.items() for b in sizes
    ]


SHAPES = batch_shapes({"qwen3-0.6b": (256, 64, 8), "llama3-8b": (256, 64)})


def configs(quick: bool) -> list[dict[str, int]]:
    if quick:
        grid = itertools.product((32, 64), (4, 8), (2, 3), (1, 2))
    else:
        grid = itertools.product((32, 64), (2, 4, 8), (2, 3, 4), (1, 2))
    return [dict(block_n=n, num_warps=w, num_stages=s, splits_x=x) for n, w, s, x in grid]


def paged_batch(
    q_heads: int, batch: int, lo: int, hi: int, cache_dtype: torch.dtype, gen: torch.Generator, *,
    device: str = DEV, kv_heads: int = KV_HEADS, head_dim: int = HEAD_DIM,
    q_dtype: torch.dtype = torch.bfloat16,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A decode batch on the GPU (or `device`): contexts uniform in [lo, hi] in scrambled blocks (block 0
    unused), random K/V and q. Returns (q, cache, block tables, seq_lens on the device, the lengths on the
    host)."""
    lens = torch.randint(lo, hi + 1, (batch,), generator=gen)
    blocks = (lens + BLOCK_SIZE - 1) // BLOCK_SIZE
    num_blocks = int(blocks.sum()) + 1
    perm = (torch.randperm(num_blocks - 1, generator=gen) + 1).to(torch.int32)
    tables = torch.zeros(batch, int(blocks.max()), dtype=torch.int32)
    start = 0
    for i, b in enumerate(blocks.tolist()):
        tables[i, :b] = perm[start : start + b]
        start += b
    cache = torch.randn(2, num_blocks, BLOCK_SIZE, kv_heads, head_dim, device=device).to(cache_dtype)
    q = torch.randn(batch, q_heads, head_dim, device=device).to(q_dtype)
    return q, cache, tables.to(device), lens.to(torch.int32).to(device), lens


def one_shape(name: str, q_heads: int, batch: int, lo: int, hi: int, quick: bool) -> dict[str, object]:
    gen = torch.Generator().manual_seed(0)
    q, cache, tables, seq_lens, lens = paged_batch(q_heads, batch, lo, hi, torch.bfloat16, gen)
    kv_bytes = int(lens.sum()) * KV_HEADS * HEAD_DIM * 2 * 2
    base_splits = default_num_splits(batch, KV_HEADS)
    expected = decode_attention(q, cache, tables, seq_lens, HEAD_DIM**-0.5)
    results = []
    for cfg in [{"default": 1}, *configs(quick)]:
        kw = {} if "default" in cfg else dict(cfg)
        splits_x = int(kw.pop("splits_x", 1))
        if kw:
            kw["num_splits"] = min(64, base_splits * splits_x)

        def call(kw: dict[str, int] = kw) -> torch.Tensor:
            return decode_attention(q, cache, tables, seq_lens, HEAD_DIM**-0.5, **kw)

        try:
            got = call()
            err = float((got.float() - expected.float()).abs().max())
            us = do_bench_cudagraph(call, rep=30, return_mode="median") * 1000
            results.append({**cfg, "us": round(us, 1), "tb_s": round(kv_bytes / us / 1e6, 3), "max_err": err})
        except Exception as e:  # one config's failure must not hide the others
            results.append({**cfg, "error": f"{type(e).__name__}: {str(e)[:160]}"})
    ok = [r for r in results if "us" in r]
    ok.sort(key=lambda r: r["us"])
    default = next(r for r in results if "default" in r)
    return {
        "shape": name, "q_heads": q_heads, "batch": batch, "ctx": [lo, hi], "kv_gb": round(kv_bytes / 1e9, 3),
        "default_splits": base_splits, "default": default, "best": ok[:6],
        "best_vs_default": round(default["us"] / ok[0]["us"], 3) if "us" in default else None,
    }


def main() -> None:
    quick = "--quick" in sys.argv
    copy = round(measure_copy_bandwidth(DEV) / 1e12, 3)
    print(json.dumps({"gpu": torch.cuda.get_device_name(), "copy_tb_s": copy}))
    for shape in SHAPES:
        print(json.dumps(one_shape(*shape, quick=quick)), flush=True)


if __name__ == "__main__":
    main()
