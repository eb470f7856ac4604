"""The decode split kernel's sm_90 SASS, compiled on a machine without a GPU (triton's bundled ptxas and
cuobjdump): registers, shared memory and the instruction mix of the KV loop, per configuration.

Run from the repo root: PYTHONPATH=$PWD python3 gpu/decode_sass.py [--dump DIR] [--variants]
A line per configuration: loop instructions per tile, per token and per KB of K/V read (all warps), registers,
shared bytes, and the loop's loads, conversions and register moves. Llama3-8b's decode shape.
--variants: engine.kernels.decode_attention_fp8's NAMED_VARIANTS instead, each with `wait`, the cp.async
groups the loop leaves in flight at its top (DEPBAR.LE SB0, n): 0 = a tile's loads never overlap its maths."""

from __future__ import annotations

import argparse
import collections
import importlib
import os
import re
import subprocess
import tempfile

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

# the module (the package exports a function of the same name)
kernels = importlib.import_module("engine.kernels.decode_attention")
BIN = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin")
FLOATS = {"scale": "fp32", "v_scale": "fp32", "sm_scale_log2": "fp32"}
# name -> (cache element, BLOCK_N, num_warps, num_stages, F16_MATH, FP8_NEW)
CONFIGS = {
    "bf16_n32_w4": ("bf16", 32, 4, 2, False, False),
    "bf16_n64_w4_s3": ("bf16", 64, 4, 3, False, False),
    "fp8_old_n64_w4": ("fp8e4nv", 64, 4, 2, False, False),
    "fp8_old_f16_n64_w4": ("fp8e4nv", 64, 4, 2, True, False),
    "fp8_new_n64_w4": ("fp8e4nv", 64, 4, 2, True, True),
    "fp8_new_n128_w4": ("fp8e4nv", 128, 4, 2, True, True),
    "fp8_new_n64_w2": ("fp8e4nv", 64, 2, 2, True, True),
}
SHOW = ("LDS.U8", "LDS.64", "LDS.128", "LDSM", "STS", "LDGSTS", "F2FP", "F2F.", "HMMA", "IMAD.MOV", "BAR")


def compile_kernel(cache: str, block_n: int, warps: int, stages: int, f16: bool, new: bool):
    fn = kernels._decode_split_kernel
    const = dict(
        GROUP=4,
        HEAD_DIM=128,
        BLOCK_SIZE=16,
        NUM_SPLITS=1,
        BLOCK_H=16,
        BLOCK_D=128,
        BLOCK_N=block_n,
        DOT_PRECISION="tf32",
        WINDOW=0,
        SOFTCAP=0.0,
        F16_MATH=f16,
        FP8_NEW=new,
        order_ptr=None,
        ORDERED=False,
    )
    ptrs = {
        "q_ptr": "*bf16",
        "cache_ptr": f"*{cache}",
        "block_tables_ptr": "*i32",
        "seq_lens_ptr": "*i32",
        "mid_o_ptr": "*fp32",
        "mid_lse_ptr": "*fp32",
        "out_ptr": "*bf16",
    }
    names = fn.arg_names
    sig = {n: "constexpr" if n in const else ptrs.get(n, FLOATS.get(n, "i32")) for n in names}
    # as at launch: pointers and strides divisible by 16 (stride_ml_h is 1 with one split)
    attrs = {
        (names.index(n),): [["tt.divisibility", 16]]
        for n in names
        if sig[n] != "constexpr" and n not in FLOATS and n != "stride_ml_h"
    }
    src = ASTSource(
        fn=fn, signature=sig, constexprs={(names.index(n),): v for n, v in const.items()}, attrs=attrs
    )
    options = dict(num_warps=warps, num_stages=stages)
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options=options)


def compile_variant(kw: dict):
    """A NAMED_VARIANTS entry of engine.kernels.decode_attention_fp8, as decode_attention_fp8 launches it."""
    fp8 = importlib.import_module("engine.kernels.decode_attention_fp8")
    fn = fp8._decode_split_fp8_t_kernel if kw.get("transposed") else fp8._decode_split_fp8_kernel
    const = dict(
        GROUP=4,
        HEAD_DIM=128,
        BLOCK_SIZE=16,
        NUM_SPLITS=2 if kw.get("splits_x") else 1,
        BLOCK_H=16,
        BLOCK_D=128,
        BLOCK_N=kw.get("block_n", 64),
        WINDOW=0,
        SOFTCAP=0.0,
        PAGE_GATHER=kw.get("page_gather", True),
        CARRY_IDS=kw.get("carry_ids", False),
        order_ptr=None,
        ORDERED=False,
    )
    if kw.get("transposed"):
        const["Q_SPLIT"] = kw.get("q_split", False)
    ptrs = {
        "q_ptr": "*bf16",
        "cache_ptr": "*fp8e4nv",
        "block_tables_ptr": "*i32",
        "seq_lens_ptr": "*i32",
        "mid_o_ptr": "*bf16" if const["NUM_SPLITS"] == 1 else "*fp32",
        "mid_lse_ptr": "*fp32",
    }
    names = fn.arg_names
    sig = {n: "constexpr" if n in const else ptrs.get(n, FLOATS.get(n, "i32")) for n in names}
    attrs = {
        (names.index(n),): [["tt.divisibility", 16]]
        for n in names
        if sig[n] != "constexpr" and n not in FLOATS and n not in ("stride_ml_h", "stride_mo_s")
    }
    src = ASTSource(
        fn=fn, signature=sig, constexprs={(names.index(n),): v for n, v in const.items()}, attrs=attrs
    )
    options = dict(num_warps=kw.get("num_warps", 4), num_stages=kw.get("num_stages", 2))
    if kw.get("maxnreg"):
        options["maxnreg"] = kw["maxnreg"]
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options=options)


def loop_body(sass: str) -> list[str]:
    """The instructions of the longest backward branch's range: the KV loop."""
    ins = [
        (int(m.group(1), 16), m.group(2).strip())
        for m in re.finditer(r"/\*([0-9a-f]{4,})\*/\s+([^;]*);", sass)
    ]
    spans = [(int(m.group(1), 16), a) for a, t in ins if (m := re.search(r"BRA\s.*?(0x[0-9a-f]+)", t))]
    lo, hi = max((s for s in spans if s[0] < s[1]), key=lambda s: s[1] - s[0])
    return [re.sub(r"^@!?U?P\w+\s+", "", t) for a, t in ins if lo <= a <= hi]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", help="write each configuration's ttgir, ptx and sass here")
    parser.add_argument("--variants", action="store_true", help="decode_attention_fp8's NAMED_VARIANTS")
    args = parser.parse_args()
    if args.variants:
        named = importlib.import_module("engine.kernels.decode_attention_fp8").NAMED_VARIANTS
        jobs = {
            n: (kw, 1, kw.get("block_n", 64), kw.get("num_warps", 4))
            for n, kw in named.items()
            if n != "best"
        }
    else:
        jobs = {n: (c, 2 if c[0] == "bf16" else 1, c[1], c[2]) for n, c in CONFIGS.items()}
    for name, (config, elem, block_n, warps) in jobs.items():
        k = compile_variant(config) if args.variants else compile_kernel(*config)
        with tempfile.TemporaryDirectory() as tmp:
            cubin = os.path.join(tmp, "k.cubin")
            with open(cubin, "wb") as f:
                f.write(k.asm["cubin"])
            sass, res = (
                subprocess.run([f"{BIN}/cuobjdump", flag, cubin], capture_output=True, text=True).stdout
                for flag in ("-sass", "-res-usage")
            )
        if args.dump:
            os.makedirs(args.dump, exist_ok=True)
            for ext, text in (("ttgir", k.asm["ttgir"]), ("ptx", k.asm["ptx"]), ("sass", sass)):
                with open(os.path.join(args.dump, f"{name}.{ext}"), "w") as f:
                    f.write(text)
        body = loop_body(sass)
        ops = collections.Counter(t.split()[0] for t in body)
        kb = 2 * block_n * 128 * elem / 1024
        waits = [int(m.group(1), 16) for t in body if (m := re.search(r"DEPBAR\.LE SB0, (0x[0-9a-f]+)", t))]
        mix = {s: sum(c for op, c in ops.items() if op.startswith(s)) for s in SHOW}
        regs = re.search(r"REG:(\d+)", res)
        per_token = round(len(body) * warps / block_n, 1)
        print(
            f"{name}: loop {len(body)} instr/tile, {per_token} warp-instr/token (one KV head), "
            f"{round(len(body) * warps / kb, 1)} warp-instr/KB, "
            f"regs {regs.group(1) if regs else '?'}, shared {k.metadata.shared}, "
            f"wait {min(waits) if waits else '-'}, {mix}"
        )


if __name__ == "__main__":
    main()
