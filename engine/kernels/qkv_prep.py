"""One launch from the QKV projection to attention: per-head q/k RMSNorm (Qwen3), rotary embedding
and the K/V cache store, fused.

The unfused path runs, per layer: q_norm and k_norm (each first copying its strided slice of the qkv
output into a contiguous tensor), the rotary kernel, and store_kvcache: six launches, and a decode
step of a 28-layer model spends ~0.4 ms of an H200 on them. Here one program per token reads its
q, k and v heads from the qkv row, normalizes and rotates q in place (attention reads it through the
qkv row's stride), and writes the rotated k and the v into the cache slot (slot -1: not stored).

Numerics follow the unfused kernels step for step: the normed value is rounded to the model dtype
before the weight multiply and again after it (RMSNorm's output tensor), the rotation is done in fp32
and rounded, and an FP8 cache stores clamp(k_rounded / k_scale) as e4m3 codes (store_kvcache).
The rotation is neox rotate-half over the first rot_dim dims; the rest of a head (partial rotary,
Phi-3 / Phi-4-mini) is only normed.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _norm_rope_heads(
    src_ptr, stride_h, w_ptr, cos, sin, eps,
    NUM_HEADS: tl.constexpr, HEAD_DIM: tl.constexpr, HALF: tl.constexpr, REST: tl.constexpr,
    QK_NORM: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_REST: tl.constexpr,
):
    """[heads, HEAD_DIM] at src_ptr (head stride stride_h) -> (first half, second half, rest) in fp32,
    each rounded to the model dtype as the unfused kernels store them."""
    dt = src_ptr.dtype.element_ty
    heads = tl.arange(0, BLOCK_H)[:, None]
    cols = tl.arange(0, BLOCK_R)[None, :]
    mask = (heads < NUM_HEADS) & (cols < HALF)
    p1 = src_ptr + heads * stride_h + cols
    x1 = tl.load(p1, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(p1 + HALF, mask=mask, other=0.0).to(tl.float32)
    rcols = tl.arange(0, BLOCK_REST)[None, :]
    rmask = (heads < NUM_HEADS) & (rcols < REST)
    xr = tl.load(src_ptr + heads * stride_h + 2 * HALF + rcols, mask=rmask, other=0.0).to(tl.float32)
    if QK_NORM:
        ss = tl.sum(x1 * x1, axis=1) + tl.sum(x2 * x2, axis=1) + tl.sum(xr * xr, axis=1)
        rstd = (1.0 / tl.sqrt(ss / HEAD_DIM + eps))[:, None]
        w1 = tl.load(w_ptr + cols, mask=cols < HALF, other=0.0).to(tl.float32)
        w2 = tl.load(w_ptr + HALF + cols, mask=cols < HALF, other=0.0).to(tl.float32)
        wr = tl.load(w_ptr + 2 * HALF + rcols, mask=rcols < REST, other=0.0).to(tl.float32)
        x1 = ((x1 * rstd).to(dt).to(tl.float32) * w1).to(dt).to(tl.float32)
        x2 = ((x2 * rstd).to(dt).to(tl.float32) * w2).to(dt).to(tl.float32)
        xr = ((xr * rstd).to(dt).to(tl.float32) * wr).to(dt).to(tl.float32)
    o1 = (x1 * cos - x2 * sin).to(dt).to(tl.float32)
    o2 = (x2 * cos + x1 * sin).to(dt).to(tl.float32)
    return o1, o2, xr, mask, rmask


@triton.jit
def _qkv_prep_kernel(
    qkv_ptr, pos_ptr, cos_sin_ptr, qw_ptr, kw_ptr, cache_ptr, slot_ptr,
    eps, k_scale, v_scale,
    stride_t, stride_cos, stride_ckv, stride_cb, stride_cs, stride_ch, BLOCK_SIZE: tl.constexpr,
    Q_HEADS: tl.constexpr, K_HEADS: tl.constexpr, HEAD_DIM: tl.constexpr,
    HALF: tl.constexpr, REST: tl.constexpr, QK_NORM: tl.constexpr, FP8: tl.constexpr,
    BLOCK_QH: tl.constexpr, BLOCK_KH: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_REST: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    t = tl.program_id(0).to(tl.int64)
    dt = qkv_ptr.dtype.element_ty
    row = qkv_ptr + t * stride_t
    pos = tl.load(pos_ptr + t).to(tl.int64)
    cols = tl.arange(0, BLOCK_R)[None, :]
    cos = tl.load(cos_sin_ptr + pos * stride_cos + cols, mask=cols < HALF, other=0.0).to(tl.float32)
    sin = tl.load(cos_sin_ptr + pos * stride_cos + HALF + cols, mask=cols < HALF, other=0.0).to(tl.float32)

    # q: normed and rotated in place in the qkv row
    q1, q2, qr, qmask, qrmask = _norm_rope_heads(
        row, HEAD_DIM, qw_ptr, cos, sin, eps,
        Q_HEADS, HEAD_DIM, HALF, REST, QK_NORM, BLOCK_QH, BLOCK_R, BLOCK_REST,
    )
    qheads = tl.arange(0, BLOCK_QH)[:, None]
    rcols = tl.arange(0, BLOCK_REST)[None, :]
    tl.store(row + qheads * HEAD_DIM + cols, q1.to(dt), mask=qmask)
    tl.store(row + qheads * HEAD_DIM + HALF + cols, q2.to(dt), mask=qmask)
    if QK_NORM:
        tl.store(row + qheads * HEAD_DIM + 2 * HALF + rcols, qr.to(dt), mask=qrmask)

    # k and v: to the cache slot only (nothing reads them from the qkv row afterwards)
    slot = tl.load(slot_ptr + t).to(tl.int64)
    if slot >= 0:
        k_row = row + Q_HEADS * HEAD_DIM
        k1, k2, kr, kmask, krmask = _norm_rope_heads(
            k_row, HEAD_DIM, kw_ptr, cos, sin, eps,
            K_HEADS, HEAD_DIM, HALF, REST, QK_NORM, BLOCK_KH, BLOCK_R, BLOCK_REST,
        )
        kheads = tl.arange(0, BLOCK_KH)[:, None]
        block_off = (slot // BLOCK_SIZE) * stride_cb + (slot % BLOCK_SIZE) * stride_cs
        dst = cache_ptr + block_off + kheads * stride_ch
        if FP8:
            k1 = tl.clamp(k1 / k_scale, -448.0, 448.0)
            k2 = tl.clamp(k2 / k_scale, -448.0, 448.0)
            kr = tl.clamp(kr / k_scale, -448.0, 448.0)
        ct = cache_ptr.dtype.element_ty
        tl.store(dst + cols, k1.to(ct), mask=kmask)
        tl.store(dst + HALF + cols, k2.to(ct), mask=kmask)
        tl.store(dst + 2 * HALF + rcols, kr.to(ct), mask=krmask)
        dims = tl.arange(0, BLOCK_D)[None, :]
        vmask = (kheads < K_HEADS) & (dims < HEAD_DIM)
        v = tl.load(k_row + K_HEADS * HEAD_DIM + kheads * HEAD_DIM + dims, mask=vmask, other=0.0)
        if FP8:
            v = tl.clamp(v.to(tl.float32) / v_scale, -448.0, 448.0)
        tl.store(dst + stride_ckv + dims, v.to(ct), mask=vmask)


def qkv_prep(
    qkv: torch.Tensor,
    positions: torch.Tensor,
    cos_sin_cache: torch.Tensor,
    kv_cache: torch.Tensor,
    slot_mapping: torch.Tensor,
    num_heads: int,
    num_kv_heads: int,
    head_dim: int,
    q_norm_weight: torch.Tensor | None = None,
    k_norm_weight: torch.Tensor | None = None,
    eps: float = 1e-6,
    k_scale: float = 1.0,
    v_scale: float = 1.0,
) -> torch.Tensor:
    """qkv [T, (Hq + 2 Hkv) * D] (the projection's output, q part modified in place); returns q as a
    [T, Hq, D] view of it, normed (when q_norm_weight is given) and rotated. k (normed, rotated) and v
    go to kv_cache [2, blocks, block_size, Hkv, D] (any strides but D's) at slot_mapping (-1 = skip); an
    FP8 cache gets e4m3 codes of k / k_scale and v / v_scale. The norm weights, when given, are both [D]."""
    num_tokens = qkv.shape[0]
    rot_dim = cos_sin_cache.shape[-1]
    assert qkv.shape[1] == (num_heads + 2 * num_kv_heads) * head_dim and qkv.stride(1) == 1
    assert kv_cache.shape[3:] == (num_kv_heads, head_dim) and kv_cache.stride(4) == 1
    assert positions.shape == (num_tokens,) and slot_mapping.shape == (num_tokens,)
    assert rot_dim % 2 == 0 and rot_dim <= head_dim and cos_sin_cache.stride(-1) == 1
    qk_norm = q_norm_weight is not None
    assert qk_norm == (k_norm_weight is not None)
    if qk_norm:
        assert q_norm_weight.shape == (head_dim,) and k_norm_weight.shape == (head_dim,)
    weights = (q_norm_weight, k_norm_weight) if qk_norm else (cos_sin_cache, cos_sin_cache)
    rest = head_dim - rot_dim
    if num_tokens > 0:
        _qkv_prep_kernel[(num_tokens,)](
            qkv, positions, cos_sin_cache, weights[0], weights[1], kv_cache, slot_mapping,
            float(eps), float(k_scale), float(v_scale),
            qkv.stride(0), cos_sin_cache.stride(0),
            kv_cache.stride(0), kv_cache.stride(1), kv_cache.stride(2), kv_cache.stride(3),
            BLOCK_SIZE=kv_cache.shape[2], Q_HEADS=num_heads, K_HEADS=num_kv_heads, HEAD_DIM=head_dim,
            HALF=rot_dim // 2, REST=rest, QK_NORM=qk_norm, FP8=kv_cache.dtype == torch.float8_e4m3fn,
            BLOCK_QH=triton.next_power_of_2(num_heads), BLOCK_KH=triton.next_power_of_2(num_kv_heads),
            BLOCK_R=triton.next_power_of_2(rot_dim // 2), BLOCK_REST=max(1, triton.next_power_of_2(rest)),
            BLOCK_D=triton.next_power_of_2(head_dim), num_warps=4,
        )
    return qkv[:, : num_heads * head_dim].view(num_tokens, num_heads, head_dim)
