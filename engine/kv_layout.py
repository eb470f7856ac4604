"""The paged KV cache's physical layout. Every kernel sees one logical shape, [2, blocks, block_size,
kv_heads, head_dim], and reads and writes it through its strides, so the bytes can be stored either way:

- "nhd" (token-major, contiguous as seen): a block is block_size tokens of all KV heads. One head's
  token is head_dim values every kv_heads * head_dim, so a decode program (one sequence, one KV head)
  reads 256 bytes out of every 2 KB at 8 heads of 128 in bf16.
- "hnd" (head-major within a block): stored as [2, blocks, kv_heads, block_size, head_dim] and handed
  out as the permuted view, so one head's block is block_size * head_dim contiguous values (4 KB).
- "headfirst": stored as [2, kv_heads, blocks, block_size, head_dim]: each head's pool apart, so a
  sequence's consecutive blocks are adjacent for one head as well.

TEECUBE_KV_LAYOUT picks it for CUDA caches the Triton kernels serve (read at import); other caches stay
"nhd", the layout the torch reference path (engine/layers/attention.py) views flat."""

from __future__ import annotations

import os

import torch

LAYOUTS = ("nhd", "hnd", "headfirst")
KV_LAYOUT = os.environ.get("TEECUBE_KV_LAYOUT", "nhd")
if KV_LAYOUT not in LAYOUTS:
    raise ValueError(f"TEECUBE_KV_LAYOUT must be one of {LAYOUTS}, not {KV_LAYOUT!r}")


def layout_for(device: torch.device) -> str:
    from engine.layers.cuda_kernels import cuda_kernels

    return KV_LAYOUT if device.type == "cuda" and cuda_kernels() is not None else "nhd"


def allocate_kv_cache(
    num_blocks: int, block_size: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype,
    device: torch.device, layout: str | None = None,
) -> torch.Tensor:
    """A zeroed cache of logical shape [2, num_blocks, block_size, num_kv_heads, head_dim] stored in
    `layout` (default: layout_for(device))."""
    layout = layout or layout_for(device)
    if layout == "hnd":
        stored = torch.zeros((2, num_blocks, num_kv_heads, block_size, head_dim), dtype=dtype, device=device)
        return stored.permute(0, 1, 3, 2, 4)
    if layout == "headfirst":
        stored = torch.zeros((2, num_kv_heads, num_blocks, block_size, head_dim), dtype=dtype, device=device)
        return stored.permute(0, 2, 3, 1, 4)
    assert layout == "nhd", layout
    return torch.zeros((2, num_blocks, block_size, num_kv_heads, head_dim), dtype=dtype, device=device)
