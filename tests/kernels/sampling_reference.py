"""The fused sampler's first kernel (one program per row, a loop over the whole vocabulary), kept as the
oracle for engine/kernels/sampling.py: the split-vocabulary kernels must return the same tokens for the
same seed, bit for bit. Used by tests/kernels/test_sampling.py (interpreter) and tests/gpu (CUDA)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _reference_kernel(logits_ptr, inv_temp_ptr, out_ptr, seed, stride_row, vocab, BLOCK: tl.constexpr):
    """One program per row, column by column in order (a [BLOCK] tile), the same noise per column."""
    row = tl.program_id(0)
    inv_t = tl.load(inv_temp_ptr + row)
    greedy = inv_t == 0.0
    best_val = tl.full([BLOCK], float("-inf"), dtype=tl.float32)
    best_idx = tl.zeros([BLOCK], dtype=tl.int32)
    base = logits_ptr + row.to(tl.int64) * stride_row
    for start in range(0, vocab, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < vocab
        x = tl.load(base + cols, mask=mask, other=float("-inf")).to(tl.float32)
        # column c: number (c % 64) // 16 of Philox counter row * 16 * groups + 16 * (c // 64) + c % 16
        counters = row * (tl.cdiv(vocab, 64) * 16) + (cols // 64) * 16 + cols % 16
        u0, u1, u2, u3 = tl.rand4x(seed, counters)
        which = (cols % 64) // 16
        u = tl.where(which == 0, u0, tl.where(which == 1, u1, tl.where(which == 2, u2, u3)))
        gumbel = -tl.log(-tl.log(u))
        y = tl.where(greedy, x, x * inv_t + gumbel)
        y = tl.where(mask, y, float("-inf"))
        better = y > best_val
        best_val = tl.where(better, y, best_val)
        best_idx = tl.where(better, cols, best_idx)
    top = tl.max(best_val, axis=0)
    idx = tl.min(tl.where(best_val == top, best_idx, vocab), axis=0)
    tl.store(out_ptr + row, idx.to(tl.int64))


def reference_sample_tokens(logits: torch.Tensor, inv_temperature: torch.Tensor, seed: int) -> torch.Tensor:
    rows, vocab = logits.shape
    out = torch.empty(rows, dtype=torch.int64, device=logits.device)
    if rows:
        _reference_kernel[(rows,)](
            logits, inv_temperature, out, seed, logits.stride(0), vocab, BLOCK=1024, num_warps=8
        )
    return out
