"""Rotary embedding (neox rotate-half, as HF Llama/Qwen), applied in place to q and k.

cos_sin_cache: [max_position, rot_dim] = [cos | sin], each rot_dim / 2 wide (llama3 / linear scaling
live in its frequencies, so the kernel is the same for every rope type). One program per token
rotates all its q and k heads at once: a [heads, rot_dim / 2] tile for each half, math in fp32.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rotate_heads(ptr, stride_h, cos, sin, NUM_HEADS: tl.constexpr, HALF: tl.constexpr,
                  BLOCK_H: tl.constexpr, BLOCK_R: tl.constexpr):
    heads = tl.arange(0, BLOCK_H)[:, None]
    cols = tl.arange(0, BLOCK_R)[None, :]
    mask = (heads < NUM_HEADS) & (cols < HALF)
    p1 = ptr + heads * stride_h + cols
    x1 = tl.load(p1, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(p1 + HALF, mask=mask, other=0.0).to(tl.float32)
    tl.store(p1, (x1 * cos - x2 * sin).to(ptr.dtype.element_ty), mask=mask)
    tl.store(p1 + HALF, (x2 * cos + x1 * sin).to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def _rotary_kernel(
    pos_ptr, q_ptr, k_ptr, cache_ptr,
    stride_qt, stride_qh, stride_kt, stride_kh, stride_cache,
    Q_HEADS: tl.constexpr, K_HEADS: tl.constexpr, HALF: tl.constexpr,
    BLOCK_QH: tl.constexpr, BLOCK_KH: tl.constexpr, BLOCK_R: tl.constexpr,
):
    t = tl.program_id(0).to(tl.int64)
    pos = tl.load(pos_ptr + t).to(tl.int64)
    cols = tl.arange(0, BLOCK_R)[None, :]
    cos = tl.load(cache_ptr + pos * stride_cache + cols, mask=cols < HALF, other=0.0).to(tl.float32)
    sin = tl.load(cache_ptr + pos * stride_cache + HALF + cols, mask=cols < HALF, other=0.0).to(tl.float32)
    _rotate_heads(q_ptr + t * stride_qt, stride_qh, cos, sin, Q_HEADS, HALF, BLOCK_QH, BLOCK_R)
    _rotate_heads(k_ptr + t * stride_kt, stride_kh, cos, sin, K_HEADS, HALF, BLOCK_KH, BLOCK_R)


def rotary_embedding(
    positions: torch.Tensor, query: torch.Tensor, key: torch.Tensor, cos_sin_cache: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """positions [T]; query [T, Hq, D], key [T, Hkv, D] rotated in place (first rot_dim dims) and returned."""
    num_tokens, q_heads, head_dim = query.shape
    k_heads = key.shape[1]
    rot_dim = cos_sin_cache.shape[-1]
    assert key.shape == (num_tokens, k_heads, head_dim) and positions.shape == (num_tokens,)
    assert rot_dim % 2 == 0 and rot_dim <= head_dim and cos_sin_cache.stride(-1) == 1
    assert query.stride(2) == 1 and key.stride(2) == 1
    if num_tokens > 0:
        _rotary_kernel[(num_tokens,)](
            positions, query, key, cos_sin_cache,
            query.stride(0), query.stride(1), key.stride(0), key.stride(1), cos_sin_cache.stride(0),
            Q_HEADS=q_heads, K_HEADS=k_heads, HALF=rot_dim // 2,
            BLOCK_QH=triton.next_power_of_2(q_heads), BLOCK_KH=triton.next_power_of_2(k_heads),
            BLOCK_R=triton.next_power_of_2(rot_dim // 2), num_warps=4,
        )
    return query, key
