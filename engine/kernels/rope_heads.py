"""Per-head RMSNorm (Qwen3's q_norm / k_norm) and neox rotary embedding of whole head rows in registers:
the arithmetic of engine/kernels/qkv_prep.py (the norm's output rounded to the model dtype before and
after the weight multiply, the rotation in fp32 then rounded), laid out as full [rows, BLOCK_D] tiles so
a consumer (the decode kernel's prologue) can feed them to tl.dot. Each dim d < 2 * HALF pairs with its
rotate-half partner d +- HALF, loaded a second time; dims past 2 * HALF (partial rotary) are only
normed."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def prep_heads(
    src_ptr, offs, row_mask, w_ptr, cos_sin_ptr, pos, stride_cos, eps,
    HEAD_DIM: tl.constexpr, HALF: tl.constexpr, QK_NORM: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """Heads at src_ptr + offs ([R, 1] element offsets, row_mask [R, 1]) -> [R, BLOCK_D] fp32 holding
    model-dtype values: normed with w_ptr (when QK_NORM) and rotated at position `pos` (cos_sin_ptr
    rows: HALF cosines then HALF sines). Masked rows and dims are 0."""
    dt = src_ptr.dtype.element_ty
    d = tl.arange(0, BLOCK_D)[None, :]
    in_head = d < HEAD_DIM
    in_rot = d < 2 * HALF
    first = d < HALF
    partner = tl.where(first, d + HALF, d - HALF)
    x = tl.load(src_ptr + offs + d, mask=row_mask & in_head, other=0.0).to(tl.float32)
    xp = tl.load(src_ptr + offs + partner, mask=row_mask & in_rot, other=0.0).to(tl.float32)
    if QK_NORM:
        rstd = (1.0 / tl.sqrt(tl.sum(x * x, axis=1) / HEAD_DIM + eps))[:, None]
        w = tl.load(w_ptr + d, mask=in_head, other=0.0).to(tl.float32)
        wp = tl.load(w_ptr + partner, mask=in_rot, other=0.0).to(tl.float32)
        x = ((x * rstd).to(dt).to(tl.float32) * w).to(dt).to(tl.float32)
        xp = ((xp * rstd).to(dt).to(tl.float32) * wp).to(dt).to(tl.float32)
    col = tl.where(first, d, d - HALF)
    cos = tl.load(cos_sin_ptr + pos * stride_cos + col, mask=in_rot, other=0.0).to(tl.float32)
    sin = tl.load(cos_sin_ptr + pos * stride_cos + HALF + col, mask=in_rot, other=0.0).to(tl.float32)
    rot = tl.where(first, x * cos - xp * sin, x * cos + xp * sin)
    return tl.where(in_rot, rot.to(dt).to(tl.float32), x)
