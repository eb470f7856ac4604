"""Decode attention with the rows in their batch order vs longest context first (decode_order): JSON
lines on stdout, one per shape and cache dtype.

The offline workload's decode batches hold contexts of very different lengths (prompts 100-1024 plus
what each has generated), and one program per (row, KV head, split) walks a whole split: with row-order
dispatch the longest programs can start in the last wave and leave SMs idle behind them. Shapes as
gpu/decode_sweep.py (qwen3-0.6b and llama3-8b heads, block size 16, scrambled blocks), plus the FP8
cache's default variant. Each: median µs of one call in a CUDA graph, effective TB/s of K and V bytes,
and the max difference between the two orders' outputs (the same maths, so 0).
With --variants (FP8) and --tiles (bf16), each shape also times, longest first, the named FP8 variants
(engine.kernels.decode_attention_fp8.NAMED_VARIANTS) and bf16 tilings (block_n/warps/stages) given, since
the defaults were picked under row-order dispatch.
Run from the repo root: PYTHONPATH=$PWD python3 gpu/decode_order_bench.py [--variants t2_x2,t2_ci_s3]
[--tiles 32/4/2,64/4/2] [--only b256,b128]
"""

from __future__ import annotations

import argparse
import json

import torch
from triton.testing import do_bench_cudagraph

from engine.attention_metadata import longest_first
from engine.bench.roofline import measure_copy_bandwidth
from engine.kernels.decode_attention import decode_attention, default_num_splits
from engine.kernels.decode_attention_fp8 import decode_attention_variant
from gpu.decode_sweep import BATCHES, DEV, HEAD_DIM, KV_HEADS, Q_HEADS, batch_shapes, paged_batch

SHAPES = batch_shapes({model: tuple(BATCHES) for model in Q_HEADS})


def one_shape(
    name: str, q_heads: int, batch: int, lo: int, hi: int, fp8: bool, variants: list[str], tiles: list[str]
) -> dict[str, object]:
    gen = torch.Generator().manual_seed(0)
    cache_dtype = torch.float8_e4m3fn if fp8 else torch.bfloat16
    q, cache, tables, seq_lens, lens = paged_batch(q_heads, batch, lo, hi, cache_dtype, gen)
    order = torch.from_numpy(longest_first(lens.numpy())).to(DEV)
    kv_bytes = int(lens.sum()) * KV_HEADS * HEAD_DIM * 2 * cache.element_size()
    row = {"shape": name, "cache": "fp8" if fp8 else "bf16", "batch": batch, "ctx": [lo, hi],
           "splits": default_num_splits(batch, KV_HEADS), "kv_gb": round(kv_bytes / 1e9, 3)}
    outs = {}
    for label, o in (("rows", None), ("longest_first", order)):
        def call(o: torch.Tensor | None = o) -> torch.Tensor:
            return decode_attention(q, cache, tables, seq_lens, HEAD_DIM**-0.5, order=o)

        outs[label] = call()
        us = do_bench_cudagraph(call, rep=50, return_mode="median") * 1000
        row[label] = {"us": round(us, 1), "tb_s": round(kv_bytes / us / 1e6, 3)}
    row["speedup"] = round(row["rows"]["us"] / row["longest_first"]["us"], 3)
    row["max_diff"] = float((outs["rows"].float() - outs["longest_first"].float()).abs().max())
    scale = HEAD_DIM**-0.5
    extra = {}
    for v in variants if fp8 else []:
        extra[v] = lambda v=v: decode_attention_variant(v, q, cache, tables, seq_lens, scale, order=order)
    for t in tiles if not fp8 else []:
        n, w, st = (int(x) for x in t.split("/"))
        kw = dict(block_n=n, num_warps=w, num_stages=st, order=order)
        extra[t] = lambda kw=kw: decode_attention(q, cache, tables, seq_lens, scale, **kw)
    for label, fn in extra.items():
        try:
            err = float((fn().float() - outs["rows"].float()).abs().max())
            us = do_bench_cudagraph(fn, rep=50, return_mode="median") * 1000
            row[label] = {"us": round(us, 1), "tb_s": round(kv_bytes / us / 1e6, 3), "max_diff": err}
        except Exception as e:  # one config's failure must not hide the others
            row[label] = {"error": f"{type(e).__name__}: {str(e)[:160]}"}
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", default="", help="FP8 variants to time longest first, comma-separated")
    parser.add_argument("--tiles", default="", help="bf16 tilings block_n/warps/stages, comma-separated")
    parser.add_argument("--only", default="", help="shape name suffixes to keep, e.g. b256,b128")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    tiles = [t for t in args.tiles.split(",") if t]
    only = [o for o in args.only.split(",") if o]
    copy = round(measure_copy_bandwidth(DEV) / 1e12, 3)
    print(json.dumps({"gpu": torch.cuda.get_device_name(), "copy_tb_s": copy}))
    for fp8 in (False, True):
        for shape in SHAPES:
            if fp8 and not shape[0].startswith("llama"):
                continue
            if only and not any(shape[0].endswith(" " + o) for o in only):
                continue
            print(json.dumps(one_shape(*shape, fp8=fp8, variants=variants, tiles=tiles)), flush=True)


if __name__ == "__main__":
    main()
