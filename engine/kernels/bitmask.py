"""Grammar masks on the GPU: logits[r, t] = -inf where bit t of xgrammar's packed int32 bitmask row r
is clear, in place, in one pass over the batch (rows without a grammar are all ones and stay as they are).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK = 4096


@triton.jit
def _mask_kernel(logits_ptr, mask_ptr, stride_logits, stride_mask, vocab, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    inside = cols < vocab
    words = tl.load(mask_ptr + row * stride_mask + cols // 32, mask=inside, other=-1)
    allowed = ((words >> (cols % 32)) & 1) != 0
    tl.store(logits_ptr + row * stride_logits + cols, float("-inf"), mask=inside & ~allowed)


def apply_bitmask_(logits: torch.Tensor, bitmask: torch.Tensor) -> torch.Tensor:
    """logits [rows, vocab] (unit stride in vocab), bitmask int32 [rows, >= ceil(vocab / 32)] on the
    same device; returns logits, masked in place."""
    rows, vocab = logits.shape
    assert logits.stride(1) == 1 and bitmask.dtype == torch.int32 and bitmask.shape[0] == rows
    assert bitmask.shape[1] * 32 >= vocab and bitmask.stride(1) == 1
    if rows:
        grid = (rows, triton.cdiv(vocab, BLOCK))
        _mask_kernel[grid](logits, bitmask, logits.stride(0), bitmask.stride(0), vocab, BLOCK=BLOCK)
    return logits
