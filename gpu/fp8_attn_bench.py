"""Decode attention over a bf16 vs an FP8 KV cache on one GPU (issue #19): JSON on stdout and in $OUT.

llama3-8b's decode shape (32 query heads, 8 KV heads, head_dim 128, block size 16, scrambled blocks),
128 and 256 sequences of 1k and 2k tokens. Each variant: median ms (CUDA graph of one call, both passes)
and effective TB/s = bytes of K and V read / time. Variants: the bf16 cache (default tiles); the FP8
cache's old path (bf16 tiles; fp16 tiles with f16_math, at its best tile of 128) and new path (default,
then block_n / warps / stages variants). Errors: max |out - fp32 reference| over the first sequences.
Run from the repo root: PYTHONPATH=$PWD python3 gpu/fp8_attn_bench.py (about 30 s, most of it compiling).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

import torch
import triton
from triton.testing import do_bench, do_bench_cudagraph

from engine.kernels import decode_attention
from engine.kernels.decode_attention import default_num_splits

DEV = "cuda"
Q_HEADS, KV_HEADS, HEAD_DIM, BLOCK_SIZE = 32, 8, 128, 16
SCALE = 1 / 64  # K and V codes are x / SCALE: unit-normal x gives codes of about +-64, well inside e4m3's 448
# name -> (cache, decode_attention kwargs)
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "bf16": ("bf16", {}),
    "fp8_old": ("fp8", dict(fp8_path="old")),
    "fp8_old_f16_n128": ("fp8", dict(fp8_path="old", f16_math=True, block_n=128)),
    "fp8_new": ("fp8", dict(num_warps=4)),  # block_n 64, 4 warps, 2 stages (the default before session 5)
    "fp8_new_n128": ("fp8", dict(block_n=128, num_warps=4)),
    "fp8_new_n64_w2": ("fp8", dict(num_warps=2)),  # the default from session 5 on
    "fp8_new_n128_w8": ("fp8", dict(block_n=128, num_warps=8)),
    "fp8_new_n64_s3": ("fp8", dict(num_stages=3, num_warps=4)),
    "fp8_new_n32_w1_x4splits": ("fp8", dict(block_n=32, num_warps=1, splits_x=4)),  # no cross-warp traffic
}


def ms(fn: Callable[[], object]) -> float | str:
    """Median ms of fn in a CUDA graph (no launch gaps, as the engine runs decode); plain launches if
    capture fails; an error string instead of raising, so one variant cannot hide the others."""
    try:
        fn()
        torch.cuda.synchronize()
        try:
            return round(do_bench_cudagraph(fn, rep=40, return_mode="median"), 4)
        except Exception:
            return round(do_bench(fn, warmup=10, rep=40, return_mode="median"), 4)
    except Exception as e:
        return f"error: {type(e).__name__}: {str(e)[:200]}"


def reference(
    q: torch.Tensor, dense: torch.Tensor, tables: torch.Tensor, ctx: int, rows: int
) -> torch.Tensor:
    """fp32 attention of the first `rows` sequences over the dequantized cache: [rows, Q_HEADS, HEAD_DIM]."""
    k, v = (dense[i][tables[:rows].long()].reshape(rows, ctx, KV_HEADS, HEAD_DIM) for i in (0, 1))
    group = Q_HEADS // KV_HEADS
    k, v = k.repeat_interleave(group, 2), v.repeat_interleave(group, 2)
    scores = torch.einsum("shd,sthd->sht", q[:rows].float(), k) * HEAD_DIM**-0.5
    return torch.einsum("sht,sthd->shd", scores.softmax(-1), v)


def shape(batch: int, ctx: int, err_rows: int = 8) -> dict[str, object]:
    blocks_per_seq = ctx // BLOCK_SIZE
    num_blocks = batch * blocks_per_seq + 1
    tables = (torch.randperm(num_blocks - 1, device=DEV) + 1).view(batch, blocks_per_seq).to(torch.int32)
    seq_lens = torch.full((batch,), ctx, dtype=torch.int32, device=DEV)
    q = torch.randn(batch, Q_HEADS, HEAD_DIM, device=DEV).to(torch.bfloat16)
    x = torch.randn(2, num_blocks, BLOCK_SIZE, KV_HEADS, HEAD_DIM, device=DEV)
    caches = {"fp8": (x / SCALE).clamp(-448, 448).to(torch.float8_e4m3fn)}
    dense = caches["fp8"].float() * SCALE  # what both caches hold
    caches["bf16"] = dense.to(torch.bfloat16)
    expected = reference(q, dense, tables, ctx, err_rows)
    del x, dense
    out: dict[str, object] = {}
    for name, (cache_name, kwargs) in VARIANTS.items():
        cache = caches[cache_name]
        if cache_name == "fp8":
            kwargs = dict(kwargs, k_scale=SCALE, v_scale=SCALE)
        if "splits_x" in kwargs:  # more programs where each has fewer warps
            kwargs = {k: v for k, v in kwargs.items() if k != "splits_x"}
            kwargs["num_splits"] = default_num_splits(batch, KV_HEADS) * VARIANTS[name][1]["splits_x"]

        def call(cache: torch.Tensor = cache, kwargs: dict = kwargs) -> torch.Tensor:
            return decode_attention(q, cache, tables, seq_lens, HEAD_DIM**-0.5, **kwargs)

        t = ms(call)
        r: dict[str, object] = {"ms": t}
        if isinstance(t, float):
            kv_bytes = 2 * batch * ctx * KV_HEADS * HEAD_DIM * cache.element_size()
            r["tb_s"] = round(kv_bytes / (t / 1e3) / 1e12, 3)
            got = call()[:err_rows].float()
            r["max_abs_err"] = float((got - expected).abs().max())
            r["nan"] = bool(got.isnan().any())
        out[name] = r
    fp8_old, fp8_new, bf16 = (out.get(k, {}).get("ms") for k in ("fp8_old", "fp8_new", "bf16"))
    if all(isinstance(t, float) for t in (fp8_old, fp8_new, bf16)):
        out["speedup_new_vs_old"] = round(fp8_old / fp8_new, 3)
        out["speedup_new_vs_bf16"] = round(bf16 / fp8_new, 3)
    return out


def main() -> None:
    torch.manual_seed(0)
    t0 = time.time()
    result: dict[str, object] = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,  # the new path's layout trick was checked on 3.9's sm_90 SASS
    }
    for batch, ctx in ((128, 1024), (128, 2048), (256, 1024), (256, 2048)):
        result[f"b{batch}_ctx{ctx}"] = shape(batch, ctx)
        result["seconds"] = round(time.time() - t0, 1)
        if os.environ.get("OUT"):  # after every shape, so a timeout keeps what was measured
            with open(os.path.join(os.environ["OUT"], "fp8_attn_bench.json"), "w") as f:
                json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
