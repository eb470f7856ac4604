"""Decode attention over two physical KV-cache layouts with the same logical view, issue #13.

NHD (today): [2, blocks, block_size, kv_heads, head_dim] contiguous: one KV head's token is 256 bytes
every kv_heads * 256 bytes (2 KB at 8 heads), so a program reading one head touches an eighth of each
DRAM row it opens. HND: [2, blocks, kv_heads, block_size, head_dim] contiguous, passed to the kernel as
the permuted view [2, blocks, block_size, kv_heads, head_dim]: one head's block is 4 KB contiguous.
Head-first: [2, kv_heads, blocks, block_size, head_dim], each head's pool apart (consecutive blocks of
one head adjacent; the blocks here are scrambled, so that shows only in the engine).
The kernel takes strides, so the same code reads both. Per shape (gpu/decode_sweep.py's batches):
median µs of one call in a CUDA graph and TB/s of K and V read, for the default tiling and a few others
on each layout, and whether the outputs are bit-identical.
Run from the repo root: PYTHONPATH=$PWD python3 gpu/kv_layout_bench.py  (JSON lines on stdout)
"""

from __future__ import annotations

import itertools
import json

import torch
from triton.testing import do_bench_cudagraph

from engine.bench.roofline import measure_copy_bandwidth
from engine.kernels.decode_attention import decode_attention
from gpu.decode_sweep import HEAD_DIM, KV_HEADS, batch_shapes, paged_batch

SHAPES = batch_shapes({"qwen3-0.6b": (256, 128, 64, 8), "llama3-8b": (256, 64)})
TILES = [{}] + [dict(block_n=n, num_warps=w, num_stages=s)
                for n, w, s in itertools.product((32, 64, 128), (2, 4, 8), (2, 3))]


def hnd(cache: torch.Tensor) -> torch.Tensor:
    """The same logical cache stored head-major within each block, as the NHD-shaped view."""
    return cache.permute(0, 1, 3, 2, 4).contiguous().permute(0, 1, 3, 2, 4)


def head_first(cache: torch.Tensor) -> torch.Tensor:
    """Stored [2, kv_heads, blocks, block_size, head_dim]: each head's whole pool apart, as the view."""
    return cache.permute(0, 3, 1, 2, 4).contiguous().permute(0, 2, 3, 1, 4)


def one(name: str, q_heads: int, batch: int, lo: int, hi: int) -> dict[str, object]:
    gen = torch.Generator().manual_seed(0)
    q, cache, tables, seq_lens, lens = paged_batch(q_heads, batch, lo, hi, torch.bfloat16, gen)
    kv_bytes = int(lens.sum()) * KV_HEADS * HEAD_DIM * 2 * 2
    layouts = {"nhd": cache, "hnd": hnd(cache), "headfirst": head_first(cache)}
    expected = decode_attention(q, cache, tables, seq_lens, HEAD_DIM**-0.5)
    row: dict[str, object] = {"shape": name, "batch": batch, "kv_gb": round(kv_bytes / 1e9, 3)}
    for label, c in layouts.items():
        best = None
        for tile in TILES:
            def call(c: torch.Tensor = c, tile: dict = tile) -> torch.Tensor:
                return decode_attention(q, c, tables, seq_lens, HEAD_DIM**-0.5, **tile)

            try:
                same = bool(torch.equal(call(), expected))
                us = do_bench_cudagraph(call, rep=30, return_mode="median") * 1000
            except Exception as e:  # a tiling out of resources: the others still count
                row.setdefault("errors", []).append(f"{label} {tile}: {str(e)[:80]}")
                continue
            tb_s = round(kv_bytes / us / 1e6, 3)
            if not tile:
                row[f"{label}_default"] = {"us": round(us, 1), "tb_s": tb_s, "identical": same}
            if best is None or us < best["us"]:
                best = {"us": round(us, 1), "tb_s": tb_s, "tile": tile, "identical": same}
        row[f"{label}_best"] = best
    d = row.get("nhd_default")
    for label in ("hnd", "headfirst"):
        h = row.get(f"{label}_default")
        if d and h:
            row[f"{label}_vs_nhd_default"] = round(d["us"] / h["us"], 3)
            row[f"{label}_best_vs_nhd_best"] = round(row["nhd_best"]["us"] / row[f"{label}_best"]["us"], 3)
    return row


def main() -> None:
    print(json.dumps({"gpu": torch.cuda.get_device_name(),
                      "copy_tb_s": round(measure_copy_bandwidth("cuda") / 1e12, 3)}), flush=True)
    for shape in SHAPES:
        print(json.dumps(one(*shape)), flush=True)


if __name__ == "__main__":
    main()
