"""Eager steps (prefill, chunked prefill, mixed) padded to a multiple of PREFILL_PAD tokens on CUDA, with
every linear layer called once at each padded size at start-up.

Why: cuBLAS's first GEMM at a row count it has not met blocks the host until the GPU drains its queue
(`gpu/first_call_probe.py` on an H200: 9-11 % of new row counts for qwen3-0.6b's qkv and o, ~3 ms
each; never on the second call). The engine keeps one step in flight, so such a stall idles the GPU
for about a step: the last prefill chunk of a qwen3-0.6b run waited ~37-54 ms that way. A step's token
count is arbitrary, so it cannot be warmed; a padded one can.

The padded tokens are token 0 at position 0 with slot -1: the KV store skips them, no sequence owns
them (query_start_loc stops at the real count, so the extend kernel writes them zeros), and nothing
samples them. TEECUBE_PREFILL_PAD=1 (or 0) turns padding off.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

PREFILL_PAD = max(1, int(os.environ.get("TEECUBE_PREFILL_PAD", "64")))


def padded_count(num_tokens: int, pad: int) -> int:
    """num_tokens rounded up to a multiple of pad."""
    return -(-num_tokens // pad) * pad


def pad_step(
    token_ids: np.ndarray, positions: np.ndarray, slots: np.ndarray, total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The step's int64 arrays grown to `total` tokens: id 0, position 0, slot -1 (not stored)."""
    extra = total - token_ids.shape[0]
    if extra <= 0:
        return token_ids, positions, slots
    zeros = np.zeros(extra, dtype=np.int64)
    return (
        np.concatenate([token_ids, zeros]),
        np.concatenate([positions, zeros]),
        np.concatenate([slots, np.full(extra, -1, dtype=np.int64)]),
    )


def bucket_sizes(max_tokens: int, pad: int) -> list[int]:
    """Every padded step size up to max_tokens (itself padded)."""
    return list(range(pad, padded_count(max_tokens, pad) + 1, pad))


def distinct_linears(model: nn.Module) -> list[nn.Module]:
    """One linear layer (engine/layers/linear.py) per weight shape, dtype and bias: the GEMMs a step runs."""
    from engine.layers.linear import LinearBase

    seen: dict[tuple, nn.Module] = {}
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, LinearBase) and isinstance(weight, torch.Tensor):
            key = (tuple(weight.shape), weight.dtype, getattr(module, "bias", None) is not None)
            seen.setdefault(key, module)
    return list(seen.values())


@torch.inference_mode()
def warm_linears(model: nn.Module, sizes: list[int], dtype: torch.dtype, device: torch.device) -> int:
    """Each distinct linear layer once at every size (rows of zeros); returns the number of calls. Every
    tensor-parallel rank runs the same calls in the same order (row-parallel layers all-reduce)."""
    calls = 0
    for layer in distinct_linears(model) if sizes else []:
        x = torch.zeros(sizes[-1], layer.input_size, dtype=dtype, device=device)  # contiguous, as in a step
        for n in sizes:
            layer(x[:n])
            calls += 1
    return calls
