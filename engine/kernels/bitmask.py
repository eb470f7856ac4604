"""Grammar masks on the GPU: logits[r, t] = -inf where bit t of xgrammar's packed int32 bitmask row r
is clear, in place, in one pass over the batch (rows without a grammar are all ones and stay as they are).
An AND mask (one packed row: tokens no grammar row may take, e.g. raw control characters in JSON) can
be applied in the same pass, to every row or to the rows flagged in `and_rows`: the host then leaves
it out of its fill.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK = 4096


@triton.jit
def _mask_kernel(
    logits_ptr,
    mask_ptr,
    and_ptr,
    flags_ptr,
    stride_logits,
    stride_mask,
    vocab,
    BLOCK: tl.constexpr,
    HAS_AND: tl.constexpr,
    HAS_FLAGS: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    inside = cols < vocab
    words = tl.load(mask_ptr + row * stride_mask + cols // 32, mask=inside, other=-1)
    if HAS_AND:
        extra = tl.load(and_ptr + cols // 32, mask=inside, other=-1)
        if HAS_FLAGS:
            extra = tl.where(tl.load(flags_ptr + row) != 0, extra, -1)
        words = words & extra
    allowed = ((words >> (cols % 32)) & 1) != 0
    tl.store(logits_ptr + row * stride_logits + cols, float("-inf"), mask=inside & ~allowed)


def apply_bitmask_(
    logits: torch.Tensor,
    bitmask: torch.Tensor,
    and_mask: torch.Tensor | None = None,
    and_rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """logits [rows, vocab] (unit stride in vocab), bitmask int32 [rows, >= ceil(vocab / 32)] on the
    same device; and_mask: int32 [>= ceil(vocab / 32)] ANDed into every row, or only into the rows where
    and_rows (int8/bool [rows]) is set. Returns logits, masked in place."""
    rows, vocab = logits.shape
    assert logits.stride(1) == 1 and bitmask.dtype == torch.int32 and bitmask.shape[0] == rows
    assert bitmask.shape[1] * 32 >= vocab and bitmask.stride(1) == 1
    if and_mask is not None:
        assert and_mask.dtype == torch.int32 and and_mask.numel() * 32 >= vocab and and_mask.is_contiguous()
        assert and_rows is None or and_rows.shape == (rows,)
    if rows:
        grid = (rows, triton.cdiv(vocab, BLOCK))
        _mask_kernel[grid](
            logits,
            bitmask,
            and_mask if and_mask is not None else bitmask,
            and_rows if and_rows is not None else bitmask,
            logits.stride(0),
            bitmask.stride(0),
            vocab,
            BLOCK=BLOCK,
            HAS_AND=and_mask is not None,
            HAS_FLAGS=and_rows is not None,
        )
    return logits
