"""Time the fused MoE kernel over a handful of tile configs at one model's shapes (default qwen3-30b-a3b:
hidden 2048, expert intermediate 768, 128 experts, top-8; bf16, uniform random routing) and print JSON:
per token count the best config, its time, the default's and the old fixed tiles', the expert-weight
bandwidth reached, and a table ready for TEECUBE_MOE_CONFIG (engine/kernels/moe_config.py).

Run on a GPU: `python3 -m engine.bench.moe_sweep [--tokens 1,8,64,256,4096] [--out sweep.json]`.
Each config's output is checked against the default's (bf16 tolerance) before it may win; the
launches are timed in a CUDA graph (triton.testing.do_bench_cudagraph), routing included."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import torch

from engine.kernels.moe import fused_moe
from engine.kernels.moe_config import MoeConfig, default_config
from engine.layers.moe import route

# the tiles before the size heuristics: 64x64x64, 4 warps, 2 stages (BLOCK_M by pairs per expert)
OLD = MoeConfig(block_m=64, block_n=64, block_k=64, group_m=1, num_warps=4, num_stages=2)
CANDIDATES = [
    MoeConfig(16, 32, 128, 1, 4, 4),
    MoeConfig(16, 64, 64, 1, 4, 4),
    MoeConfig(16, 64, 128, 1, 4, 4),
    MoeConfig(16, 64, 256, 1, 4, 3),
    MoeConfig(16, 128, 128, 1, 4, 3),
    MoeConfig(32, 64, 128, 8, 4, 4),
    MoeConfig(32, 128, 64, 8, 4, 3),
    MoeConfig(64, 64, 128, 8, 4, 4),
    MoeConfig(64, 128, 64, 8, 4, 3),
    MoeConfig(64, 128, 64, 8, 8, 3),
    MoeConfig(64, 256, 64, 8, 8, 3),
    MoeConfig(128, 128, 64, 8, 8, 3),
]


def old_config(num_tokens: int, top_k: int, num_experts: int) -> MoeConfig:
    per_expert = num_tokens * top_k / num_experts
    return replace(OLD, block_m=16 if per_expert <= 16 else 32 if per_expert <= 64 else 64)


def make_inputs(num_tokens: int, num_experts: int, top_k: int, hidden: int, inter: int) -> tuple:
    gen = torch.Generator(device="cuda").manual_seed(num_tokens)
    x = torch.randn(num_tokens, hidden, device="cuda", generator=gen).bfloat16()
    w13 = (torch.randn(num_experts, 2 * inter, hidden, device="cuda", generator=gen) * 0.03).bfloat16()
    w2 = (torch.randn(num_experts, hidden, inter, device="cuda", generator=gen) * 0.03).bfloat16()
    logits = torch.randn(num_tokens, num_experts, device="cuda", generator=gen)
    weights, ids = route(logits, top_k, renormalize=True)
    return x, w13, w2, weights, ids


def time_config(inputs: tuple, config: MoeConfig, expected: torch.Tensor | None) -> float | str:
    """Microseconds per call, or why the config was dropped."""
    import triton.testing

    try:
        out = fused_moe(*inputs, config=config)
        torch.cuda.synchronize()
    except Exception as e:  # e.g. out of shared memory for this tile
        return f"failed: {type(e).__name__}"
    if expected is not None:
        rel = ((out.float() - expected).norm() / expected.norm().clamp_min(1e-30)).item()
        if rel > 1e-2:
            return f"wrong: relative error {rel:.3g}"
    return 1e3 * triton.testing.do_bench_cudagraph(lambda: fused_moe(*inputs, config=config), rep=10)


def sweep(tokens: list[int], num_experts: int, top_k: int, hidden: int, inter: int) -> dict:
    expert_bytes = 3 * hidden * inter * 2
    rows, table = [], {}
    for num_tokens in tokens:
        inputs = make_inputs(num_tokens, num_experts, top_k, hidden, inter)
        default = default_config(num_tokens, top_k, num_experts)
        expected = fused_moe(*inputs, config=default).float()
        active = int(inputs[4].unique().numel())
        times = {}
        for config in dict.fromkeys([default, old_config(num_tokens, top_k, num_experts), *CANDIDATES]):
            times[config] = time_config(inputs, config, expected)
        ok = {c: t for c, t in times.items() if isinstance(t, float)}
        best = min(ok, key=ok.__getitem__)
        table[str(num_tokens)] = best.to_dict()
        us = ok[best]
        rows.append(
            dict(
                num_tokens=num_tokens,
                best=best.to_dict(),
                best_us=round(us, 2),
                default_us=round(ok[default], 2) if default in ok else times[default],
                old_us=round(ok.get(old_config(num_tokens, top_k, num_experts), float("nan")), 2),
                active_experts=active,
                weight_gbps=round(active * expert_bytes / us / 1e3, 1),
                tflops=round(2 * num_tokens * top_k * 3 * hidden * inter / us / 1e6, 1),
                all_us={
                    json.dumps(c.to_dict()): round(t, 2) if isinstance(t, float) else t
                    for c, t in times.items()
                },
            )
        )
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "all_us"}), file=sys.stderr, flush=True)
    return dict(
        device=torch.cuda.get_device_name(),
        shape=dict(
            hidden=hidden, moe_intermediate=inter, num_experts=num_experts, top_k=top_k, dtype="bfloat16"
        ),
        results=rows,
        teecube_moe_config=table,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", default="1,2,4,8,16,32,64,128,256,4096")
    parser.add_argument("--experts", type=int, default=128)
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--intermediate", type=int, default=768)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    tokens = [int(t) for t in args.tokens.split(",")]
    result = sweep(tokens, args.experts, args.top_k, args.hidden, args.intermediate)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
