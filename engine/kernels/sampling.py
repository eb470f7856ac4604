"""Fused sampling: one pass over each row of logits picks argmax(logits / T + Gumbel noise).

That is an exact draw from softmax(logits / T) (the Gumbel-max trick, equivalent to the sampler's
exponential race), and a row with inv_temperature 0 takes the plain argmax (greedy; ties go to the
lowest index, as torch.argmax). It replaces the divide, softmax, noise, divide and argmax passes over a
[rows, vocab] float32 tensor with one read. Noise comes from Triton's Philox `tl.rand(seed, offset)`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _sample_kernel(logits_ptr, inv_temp_ptr, out_ptr, seed, stride_row, vocab, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    inv_t = tl.load(inv_temp_ptr + row)
    greedy = inv_t == 0.0
    best_val = tl.full([BLOCK], float("-inf"), dtype=tl.float32)
    best_idx = tl.zeros([BLOCK], dtype=tl.int32)
    base = logits_ptr + row.to(tl.int64) * stride_row
    noise_base = row * vocab  # int32 Philox counters: rows * vocab < 2**31 (checked by the caller)
    for start in range(0, vocab, BLOCK):
        cols = start + tl.arange(0, BLOCK)
        mask = cols < vocab
        x = tl.load(base + cols, mask=mask, other=float("-inf")).to(tl.float32)
        u = tl.rand(seed, noise_base + cols)
        gumbel = -tl.log(-tl.log(u))
        y = tl.where(greedy, x, x * inv_t + gumbel)
        y = tl.where(mask, y, float("-inf"))
        better = y > best_val  # strict: a lane keeps its first maximum
        best_val = tl.where(better, y, best_val)
        best_idx = tl.where(better, cols, best_idx)
    top = tl.max(best_val, axis=0)
    idx = tl.min(tl.where(best_val == top, best_idx, vocab), axis=0)
    tl.store(out_ptr + row, idx.to(tl.int64))


def sample_tokens(logits: torch.Tensor, inv_temperature: torch.Tensor, seed: int) -> torch.Tensor:
    """logits [rows, vocab] (any float dtype, unit stride in vocab); inv_temperature [rows] float32
    (0 = greedy). Returns int64 token ids [rows]. Rows of all -inf return index 0."""
    rows, vocab = logits.shape
    assert logits.stride(1) == 1 and inv_temperature.shape == (rows,) and rows * vocab < 2**31
    out = torch.empty(rows, dtype=torch.int64, device=logits.device)
    if rows:
        _sample_kernel[(rows,)](
            logits, inv_temperature, out, seed, logits.stride(0), vocab, BLOCK=1024, num_warps=8
        )
    return out
