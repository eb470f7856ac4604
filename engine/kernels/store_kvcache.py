"""Write new K/V rows into the paged cache by slot mapping (slot -1 = skip).

An FP8 cache (float8_e4m3fn) gets clamp(k / k_scale, -448, 448) as e4m3 codes (V likewise)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _store_kvcache_kernel(
    k_ptr, v_ptr, cache_ptr, slot_ptr, k_scale, v_scale,
    stride_kt, stride_kh, stride_vt, stride_vh,
    stride_ckv, stride_cb, stride_cs, stride_ch,
    NUM_HEADS: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_SIZE: tl.constexpr,
    BLOCK_H: tl.constexpr, BLOCK_D: tl.constexpr, FP8: tl.constexpr,
):
    # One program per token: copy its [heads, head_dim] K and V tiles to `slot`.
    t = tl.program_id(0)
    slot = tl.load(slot_ptr + t).to(tl.int64)
    heads = tl.arange(0, BLOCK_H)[:, None]
    dims = tl.arange(0, BLOCK_D)[None, :]
    num_heads = tl.where(slot >= 0, NUM_HEADS, 0)  # slot -1: nothing to copy
    mask = (heads < num_heads) & (dims < HEAD_DIM)
    slot = tl.maximum(slot, 0)
    dst = (slot // BLOCK_SIZE) * stride_cb + (slot % BLOCK_SIZE) * stride_cs + heads * stride_ch + dims
    k = tl.load(k_ptr + t * stride_kt + heads * stride_kh + dims, mask=mask)
    v = tl.load(v_ptr + t * stride_vt + heads * stride_vh + dims, mask=mask)
    if FP8:
        k = tl.clamp(k.to(tl.float32) / k_scale, -448.0, 448.0)
        v = tl.clamp(v.to(tl.float32) / v_scale, -448.0, 448.0)
    k = k.to(cache_ptr.dtype.element_ty)
    v = v.to(cache_ptr.dtype.element_ty)
    tl.store(cache_ptr + dst, k, mask=mask)
    tl.store(cache_ptr + stride_ckv + dst, v, mask=mask)


def store_kvcache(
    k: torch.Tensor,
    v: torch.Tensor,
    kv_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
) -> None:
    """k, v: [T, kv_heads, head_dim]; kv_cache: [2, blocks, block_size, kv_heads, head_dim] (in place; any
    strides but head_dim's: a head-major cache is a permuted view, engine/kv_layout.py).
    k_scale, v_scale: an FP8 cache's scales (ignored otherwise)."""
    num_tokens, num_heads, head_dim = k.shape
    assert v.shape == k.shape and kv_cache.shape[3:] == (num_heads, head_dim), (k.shape, kv_cache.shape)
    assert k.stride(2) == 1 and v.stride(2) == 1 and kv_cache.stride(4) == 1
    assert slot_mapping.shape == (num_tokens,)
    if num_tokens == 0:
        return
    # A slot indexes the flattened (block, offset) pair: block = slot // block_size.
    _store_kvcache_kernel[(num_tokens,)](
        k, v, kv_cache, slot_mapping, float(k_scale), float(v_scale),
        k.stride(0), k.stride(1), v.stride(0), v.stride(1),
        kv_cache.stride(0), kv_cache.stride(1), kv_cache.stride(2), kv_cache.stride(3),
        NUM_HEADS=num_heads, HEAD_DIM=head_dim, BLOCK_SIZE=kv_cache.shape[2],
        BLOCK_H=triton.next_power_of_2(num_heads), BLOCK_D=triton.next_power_of_2(head_dim),
        FP8=kv_cache.dtype == torch.float8_e4m3fn,
    )
