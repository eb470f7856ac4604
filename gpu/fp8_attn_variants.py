"""FP8-KV decode attention variants vs the reference kernels (issue #19): one JSON object on stdout (and in
$OUT/fp8_attn_variants.json after every shape, so a timeout keeps what was measured).

GPU (default): llama3-8b's decode heads (32 q, 8 KV, head_dim 128, block size 16, scrambled blocks) at
b128 x ctx1024, b256 x ctx512, b64 x ctx4096. Rows: the bf16 cache (reference kernel), the FP8 cache on
the reference kernel (its default path), and each of engine.kernels.decode_attention_fp8.NAMED_VARIANTS
(most promising first; a name that wins can go straight into TEECUBE_FP8_DECODE_VARIANT for the engine).
Each: median ms of one call (both passes; the variants skip the merge pass when there is one split) in a
CUDA graph, tb_s = K/V bytes read / time (the cache's own element size), max_abs_err and rel_rms_err vs
fp32 attention on the dequantized cache, nan. A row that fails to compile or run holds the error text.
Run from the repo root: PYTHONPATH=$PWD python3 gpu/fp8_attn_variants.py [--variants a,b]  (< 4 min, H200)

--cpu-check: correctness only, under TRITON_INTERPRET=1 on tiny shapes (fp16 q: the interpreter's bf16 is
not the GPU's), plus two probes of the interpreter itself: whether an FP8 tl.dot is emulated exactly, and
whether its fp32 -> e4m3 conversion rounds as torch does.
"""

from __future__ import annotations

import json
import os
import sys
import time

CPU = "--cpu-check" in sys.argv
if CPU:  # before triton is imported
    os.environ["TRITON_INTERPRET"] = "1"

import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402

from engine.kernels.decode_attention import decode_attention, default_num_splits  # noqa: E402
from engine.kernels.decode_attention_fp8 import (  # noqa: E402
    NAMED_VARIANTS,
    decode_attention_fp8,
    decode_attention_variant,
)

Q_HEADS, KV_HEADS, HEAD_DIM, BLOCK_SIZE = 32, 8, 128, 16
SCALE = 1 / 64  # codes are x / SCALE: unit-normal x gives codes of about +-64, well inside e4m3's 448
SHAPES = ((128, 1024), (256, 512), (64, 4096))
TIME_BUDGET_S = 210.0  # past this, remaining rows are skipped (compiles dominate)

# name -> (kind, kwargs). kind: "bf16" / "ref" (decode_attention) or "var": the named variant of
# engine.kernels.decode_attention_fp8 (NAMED_VARIANTS, in its priority order: the time budget cuts the tail),
# run as TEECUBE_FP8_DECODE_VARIANT=<name> runs it in the engine.
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "bf16": ("bf16", {}),
    "fp8_ref": ("ref", {}),  # the engine's FP8 default: fp16 tiles, block_n 64, 2 warps
    **{name: ("var", kw) for name, kw in NAMED_VARIANTS.items() if name != "best"},
}


def call_for(
    name: str, q: torch.Tensor, caches: dict[str, torch.Tensor], tables: torch.Tensor, seq_lens: torch.Tensor
):
    """A no-argument callable running variant `name` once (both passes)."""
    kind, kwargs = VARIANTS[name]
    scale = q.shape[-1] ** -0.5
    codes = caches.get("fp8")
    if kind == "bf16":
        return lambda: decode_attention(q, caches["bf16"], tables, seq_lens, scale, **kwargs)
    if kind == "ref":
        return lambda: decode_attention(
            q, codes, tables, seq_lens, scale, k_scale=SCALE, v_scale=SCALE, **kwargs
        )
    if kind == "var":
        return lambda: decode_attention_variant(name, q, codes, tables, seq_lens, scale, None, SCALE, SCALE)
    return lambda: decode_attention_fp8(
        q, codes, tables, seq_lens, scale, k_scale=SCALE, v_scale=SCALE, **kwargs
    )


def reference(
    q: torch.Tensor, dense: torch.Tensor, tables: torch.Tensor, seq_lens: list[int]
) -> torch.Tensor:
    """fp32 attention per sequence over the dequantized cache (zeros for seq_len 0): [S, q_heads, d]."""
    block_size, kv_heads, d = dense.shape[2], dense.shape[3], dense.shape[4]
    out = torch.zeros(q.shape, dtype=torch.float32, device=q.device)
    group = q.shape[1] // kv_heads
    for s, n in enumerate(seq_lens):
        if n == 0:
            continue
        pages = tables[s, : triton.cdiv(n, block_size)].long()
        k, v = (dense[i][pages].reshape(-1, kv_heads, d)[:n].repeat_interleave(group, 1) for i in (0, 1))
        w = (torch.einsum("hd,thd->ht", q[s].float(), k) * d**-0.5).softmax(-1)
        out[s] = torch.einsum("ht,thd->hd", w, v)
    return out


def errors(got: torch.Tensor, expected: torch.Tensor) -> dict[str, object]:
    got = got.float()
    diff = (got - expected).nan_to_num(float("inf"))
    rms = float(diff.pow(2).mean().sqrt() / expected.pow(2).mean().sqrt().clamp(min=1e-30))
    return {
        "max_abs_err": round(float(diff.abs().max()), 6),
        "rel_rms_err": round(rms, 6),
        "nan": bool(got.isnan().any()),
    }


def make_cache(
    num_blocks: int, block_size: int, kv_heads: int, d: int, device: str, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """FP8 codes of unit-normal K/V at SCALE, and their dequantized fp32 values."""
    x = torch.randn(2, num_blocks, block_size, kv_heads, d, device=device, generator=gen)
    codes = (x / SCALE).clamp(-448, 448).to(torch.float8_e4m3fn)
    return codes, codes.float() * SCALE


def bench_ms(fn) -> float | str:
    """Median ms in a CUDA graph (plain launches if capture fails); an error string instead of raising."""
    from triton.testing import do_bench, do_bench_cudagraph

    try:
        fn()
        torch.cuda.synchronize()
        try:
            return round(do_bench_cudagraph(fn, rep=30, return_mode="median"), 4)
        except Exception:
            return round(do_bench(fn, warmup=10, rep=30, return_mode="median"), 4)
    except Exception as e:
        return f"error: {type(e).__name__}: {str(e)[:300]}"


def gpu_shape(batch: int, ctx: int, t0: float, err_rows: int = 8) -> dict[str, object]:
    gen = torch.Generator(device="cuda").manual_seed(batch * 7 + ctx)
    pages = ctx // BLOCK_SIZE
    num_blocks = batch * pages + 1  # block 0 unused
    tables = (torch.randperm(num_blocks - 1, device="cuda", generator=gen) + 1).view(batch, pages).int()
    seq_lens = torch.full((batch,), ctx, dtype=torch.int32, device="cuda")
    q = torch.randn(batch, Q_HEADS, HEAD_DIM, device="cuda", generator=gen).to(torch.bfloat16)
    codes, dense = make_cache(num_blocks, BLOCK_SIZE, KV_HEADS, HEAD_DIM, "cuda", gen)
    caches = {"fp8": codes, "bf16": dense.to(torch.bfloat16)}
    err_rows = min(err_rows, batch)
    expected = reference(q[:err_rows], dense, tables, [ctx] * err_rows)
    del dense
    out: dict[str, object] = {"num_splits_default": default_num_splits(batch, KV_HEADS)}
    for name, (kind, _) in VARIANTS.items():
        if time.time() - t0 > TIME_BUDGET_S:
            out[name] = {"ms": "skipped: time budget"}
            continue
        fn = call_for(name, q, caches, tables, seq_lens)
        t = bench_ms(fn)
        r: dict[str, object] = {"ms": t}
        if isinstance(t, float):
            elem = 2 if kind == "bf16" else 1
            r["tb_s"] = round(2 * batch * ctx * KV_HEADS * HEAD_DIM * elem / (t / 1e3) / 1e12, 3)
            r.update(errors(fn()[:err_rows], expected))
        out[name] = r
    timed = {k: v["ms"] for k, v in out.items() if isinstance(v, dict) and isinstance(v.get("ms"), float)}
    if "fp8_ref" in timed:
        variants = [k for k in timed if VARIANTS[k][0] == "var"]
        best = min(variants, key=timed.get, default=None)
        if best:
            out["best_variant"] = best
            out["best_speedup_vs_fp8_ref"] = round(timed["fp8_ref"] / timed[best], 3)
            if "bf16" in timed:
                out["best_speedup_vs_bf16"] = round(timed["bf16"] / timed[best], 3)
    return out


def main_gpu() -> None:
    """--variants a,b,c: only those rows (bf16 and fp8_ref are always kept, for the speedups);
    --shapes 256x1024,128x1024: batch x context pairs instead of SHAPES."""
    global VARIANTS
    shapes = SHAPES
    if "--shapes" in sys.argv:
        pairs = sys.argv[sys.argv.index("--shapes") + 1].split(",")
        shapes = tuple((int(b), int(c)) for b, c in (p.split("x") for p in pairs))
    if "--variants" in sys.argv:
        keep = {"bf16", "fp8_ref", *sys.argv[sys.argv.index("--variants") + 1].split(",")}
        VARIANTS = {k: v for k, v in VARIANTS.items() if k in keep}
    torch.manual_seed(0)
    t0 = time.time()
    result: dict[str, object] = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    for batch, ctx in shapes:
        result[f"b{batch}_ctx{ctx}"] = gpu_shape(batch, ctx, t0)
        result["seconds"] = round(time.time() - t0, 1)
        print(f"shape b{batch} ctx{ctx} done at {result['seconds']} s", file=sys.stderr, flush=True)
        if os.environ.get("OUT"):
            with open(os.path.join(os.environ["OUT"], "fp8_attn_variants.json"), "w") as f:
                json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


# ---- CPU: the interpreter -------------------------------------------------------------------------


@triton.jit
def _fp8_dot_probe(a_ptr, b_ptr, c_ptr, M: tl.constexpr, N: tl.constexpr, K: tl.constexpr):
    a = tl.load(a_ptr + tl.arange(0, M)[:, None] * K + tl.arange(0, K)[None, :])
    b = tl.load(b_ptr + tl.arange(0, K)[:, None] * N + tl.arange(0, N)[None, :])
    tl.store(c_ptr + tl.arange(0, M)[:, None] * N + tl.arange(0, N)[None, :], tl.dot(a, b))


@triton.jit
def _fp8_cast_probe(x_ptr, y_ptr, N: tl.constexpr):
    offs = tl.arange(0, N)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs).to(tl.float8e4nv))


def interpreter_probes() -> dict[str, object]:
    gen = torch.Generator().manual_seed(3)
    a = (torch.randn(16, 32, generator=gen) * 30).to(torch.float8_e4m3fn)
    b = (torch.randn(32, 16, generator=gen) * 30).to(torch.float8_e4m3fn)
    c = torch.empty(16, 16)
    _fp8_dot_probe[(1,)](a, b, c, M=16, N=16, K=32)
    expected = a.float() @ b.float()  # products of e4m3 values are exact in fp32; sums nearly so
    x = torch.cat([torch.randn(4092, generator=gen) * 100, torch.tensor([127.9, 0.001, 1.0625, 300.0])])
    y = torch.empty(x.shape, dtype=torch.float8_e4m3fn)
    _fp8_cast_probe[(1,)](x, y, N=4096)
    bad = (y.float() != x.to(torch.float8_e4m3fn).float()).nonzero().flatten()
    return {
        "fp8_dot_max_abs_diff_vs_fp32_of_codes": float((c - expected).abs().max()),
        "fp8_dot_emulated": bool(torch.allclose(c, expected, rtol=1e-5, atol=1e-3)),
        "fp32_to_e4m3_mismatches_vs_torch": f"{len(bad)} of {x.numel()}",
        "fp32_to_e4m3_examples_x_interp_torch": [
            [float(x[i]), float(y[i].float()), float(x[i].to(torch.float8_e4m3fn).float())]
            for i in bad[:4].tolist()
        ],
    }


# the interpreter is slow: named variants on small tiles and few splits (kind "fp8": decode_attention_fp8
# with the kwargs)
CPU_VARIANTS = {
    "fp8_ref": ("ref", dict(block_n=16, num_splits=2)),
    **{
        name: ("fp8", {**NAMED_VARIANTS[name], "block_n": 32, "num_splits": 2})
        for name in ("t2_ci_s3", "t_ci_s3", "k16_ci_s3", "t2_s1", "t")
    },
    "t_ci_s3_4splits": ("fp8", dict(transposed=True, carry_ids=True, block_n=32, num_splits=4)),
    "k16_nopg_n16": ("fp8", dict(page_gather=False, block_n=16, num_splits=2)),
    "t_ci_n16": ("fp8", dict(transposed=True, carry_ids=True, block_n=16, num_splits=2)),
}


def main_cpu() -> None:
    """Tiny ragged batch (a padded row, lengths off the page and tile grid), 2 KV heads x group 4, d 32.
    q rows are e4m3 codes times a power of two with one element at 448 x that power, so the per-row FP8
    quantization of q is exact even with the interpreter's conversion: errors are the kernels' own."""
    global VARIANTS
    t0 = time.time()
    gen = torch.Generator().manual_seed(0)
    seq_lens, kv_heads, group, d, block_size = [37, 0, 9, 70], 2, 4, 32, 16
    pages = [triton.cdiv(n, block_size) for n in seq_lens]
    num_blocks = sum(pages) + 2
    perm = (torch.randperm(num_blocks - 1, generator=gen) + 1).tolist()
    tables = torch.zeros(len(seq_lens), max(pages), dtype=torch.int32)
    for s, n in enumerate(pages):
        tables[s, :n] = torch.tensor(perm[:n], dtype=torch.int32)
        perm = perm[n:]
    codes, dense = make_cache(num_blocks, block_size, kv_heads, d, "cpu", gen)
    qc = (torch.randn(len(seq_lens), kv_heads * group, d, generator=gen) * 40).to(torch.float8_e4m3fn).float()
    qc[..., 3] = 448.0
    q = (qc * 2.0**-7).half()
    lens = torch.tensor(seq_lens, dtype=torch.int32)
    expected = reference(q, dense, tables, seq_lens)
    VARIANTS = CPU_VARIANTS
    result: dict[str, object] = {"triton": triton.__version__, "interpreter": interpreter_probes()}
    for name in CPU_VARIANTS:
        out = call_for(name, q, {"fp8": codes}, tables, lens)()
        r = errors(out, expected)
        tol = 1e-2  # fp16 p and V (and q) roundings: ~1e-3
        r["ok"] = not r["nan"] and r["max_abs_err"] < tol and out.dtype == q.dtype
        result[name] = r
        print(name, r, file=sys.stderr, flush=True)
    result["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main_cpu() if CPU else main_gpu()
