"""Fused sampling: argmax(logits / T + Gumbel noise) per row of logits, in two small kernels.

That is an exact draw from softmax(logits / T) (the Gumbel-max trick, equivalent to the sampler's
exponential race), and a row with inv_temperature 0 takes the plain argmax (greedy; ties go to the
lowest index, as torch.argmax). It replaces the divide, softmax, noise, divide and argmax passes over a
[rows, vocab] float32 tensor with one read. Noise comes from Triton's Philox `tl.rand4x(seed, counter)`,
four numbers per counter: columns go in groups of 64, 16 counters a group (`_noise_counters`), and column
64 g + 16 k + lane takes the k-th number of its group's counter `lane`. That is a quarter of the Philox
rounds of one counter per column (the rounds, not the read, bounded the kernel), and a draw still
depends only on the seed and the logits, not on the split. Greedy rows skip the noise.

The vocabulary is split into chunks so that a small batch still fills the GPU: stage 1 runs one program
per (row, chunk) and writes the chunk's best (value, lowest index); stage 2, one program per row, keeps
the best chunk (lowest index among equal values). Both shapes follow from the logits' shape alone, so
the pair is CUDA-graph capturable. Both names keep `_sample_kernel`: engine/bench/profile.py files them
under sampling by it.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK = 1024  # columns per loop step of a stage-1 program (a multiple of NOISE_GROUP)
NOISE_GROUP: tl.constexpr = tl.constexpr(64)  # columns per 16 Philox counters (4 numbers each)
MAX_BLOCKS_PER_CHUNK = 8  # chunks of at most 8192 columns
MIN_PROGRAMS = 264  # ~2 stage-1 programs per SM on a 132-SM GPU (H100/H200)


@triton.jit
def _keep_max(y, cols, vocab, best_val, best_idx):
    """The running per-lane maximum of scores y over these columns (past the vocabulary: -inf); strict,
    so a lane keeps its first maximum, and NaN never wins."""
    y = tl.where(cols < vocab, y, float("-inf"))
    better = y > best_val
    return tl.where(better, y, best_val), tl.where(better, cols, best_idx)


@triton.jit
def _argmax_step(base, cols, vocab, best_val, best_idx):
    """Greedy: the logits themselves."""
    y = tl.load(base + cols, mask=cols < vocab, other=float("-inf")).to(tl.float32)
    return _keep_max(y, cols, vocab, best_val, best_idx)


@triton.jit
def _gumbel_step(base, cols, vocab, inv_t, u, best_val, best_idx):
    """Sampled: x / T + Gumbel(u)."""
    x = tl.load(base + cols, mask=cols < vocab, other=float("-inf")).to(tl.float32)
    return _keep_max(x * inv_t - tl.log(-tl.log(u)), cols, vocab, best_val, best_idx)


@triton.jit
def _noise_counters(row, vocab, group_start):
    """Philox counters of the 64-column groups starting at `group_start` [G, 1]: [G, 16]; the k-th of
    counter c's four numbers (tl.rand4x) is column group_start + 16 * k + lane's noise. int32: rows *
    per_row <= rows * (vocab / 4 + 16) stays under 2**31 (the caller checks rows * vocab < 2**31)."""
    per_row = tl.cdiv(vocab, NOISE_GROUP) * 16
    return row * per_row + (group_start // NOISE_GROUP) * 16 + tl.arange(0, 16)[None, :]


# `seed` is new every step (a random 31-bit draw) and the chunk counts follow the batch size: left
# unspecialised, or the first step whose seed was a multiple of 16 compiled a second kernel (~0.2 s on
# the clock, mid-run, measured by gpu/compile_watch.py on an H200). vocab and the row stride stay
# specialised: they are fixed per model and their alignment vectorises the loads.
@triton.jit(do_not_specialize=["seed", "chunk", "num_chunks"])
def _sample_kernel_partial(
    logits_ptr,
    inv_temp_ptr,
    part_val_ptr,
    part_idx_ptr,
    seed,
    stride_row,
    vocab,
    chunk,
    num_chunks,
    BLOCK: tl.constexpr,
):
    row = tl.program_id(0)
    piece = tl.program_id(1)
    inv_t = tl.load(inv_temp_ptr + row)
    lane = tl.arange(0, 16)[None, :]
    best_val = tl.full([BLOCK // NOISE_GROUP, 16], float("-inf"), dtype=tl.float32)
    best_idx = tl.zeros([BLOCK // NOISE_GROUP, 16], dtype=tl.int32)
    base = logits_ptr + row.to(tl.int64) * stride_row
    first = piece * chunk  # chunk is a multiple of BLOCK: only the last chunk's tail is masked
    for start in range(first, tl.minimum(first + chunk, vocab), BLOCK):
        groups = start + tl.arange(0, BLOCK // NOISE_GROUP)[:, None] * NOISE_GROUP  # [G, 1]
        if inv_t == 0.0:  # greedy: no noise
            for k in tl.static_range(4):
                best_val, best_idx = _argmax_step(base, groups + 16 * k + lane, vocab, best_val, best_idx)
        else:
            u0, u1, u2, u3 = tl.rand4x(seed, _noise_counters(row, vocab, groups))
            best_val, best_idx = _gumbel_step(base, groups + lane, vocab, inv_t, u0, best_val, best_idx)
            best_val, best_idx = _gumbel_step(base, groups + 16 + lane, vocab, inv_t, u1, best_val, best_idx)
            best_val, best_idx = _gumbel_step(base, groups + 32 + lane, vocab, inv_t, u2, best_val, best_idx)
            best_val, best_idx = _gumbel_step(base, groups + 48 + lane, vocab, inv_t, u3, best_val, best_idx)
    top = tl.max(tl.max(best_val, axis=1), axis=0)
    # a chunk of all -inf has no better lane: index 0, so an all -inf row returns 0 as before
    idx = tl.min(tl.min(tl.where(best_val == top, best_idx, vocab), axis=1), axis=0)
    tl.store(part_val_ptr + row * num_chunks + piece, top)
    tl.store(part_idx_ptr + row * num_chunks + piece, idx)


@triton.jit(do_not_specialize=["num_chunks"])
def _sample_kernel_reduce(part_val_ptr, part_idx_ptr, out_ptr, vocab, num_chunks, CHUNKS: tl.constexpr):
    row = tl.program_id(0)
    pieces = tl.arange(0, CHUNKS)
    mask = pieces < num_chunks
    val = tl.load(part_val_ptr + row * num_chunks + pieces, mask=mask, other=float("-inf"))
    idx = tl.load(part_idx_ptr + row * num_chunks + pieces, mask=mask, other=vocab)
    top = tl.max(val, axis=0)
    best = tl.min(tl.where(mask & (val == top), idx, vocab), axis=0)  # lowest index among equal maxima
    tl.store(out_ptr + row, best.to(tl.int64))


def chunk_columns(rows: int, vocab: int) -> int:
    """Columns per stage-1 program: whole BLOCKs, as many as keep >= MIN_PROGRAMS programs (at most
    MAX_BLOCKS_PER_CHUNK). Decode at 151,936 columns: 1024 at 1 row, 4096 at 8, 8192 from 16 rows."""
    blocks = triton.cdiv(vocab, BLOCK)
    return BLOCK * max(1, min(MAX_BLOCKS_PER_CHUNK, rows * blocks // MIN_PROGRAMS))


def sample_tokens(logits: torch.Tensor, inv_temperature: torch.Tensor, seed: int) -> torch.Tensor:
    """logits [rows, vocab] (any float dtype, unit stride in vocab); inv_temperature [rows] float32
    (0 = greedy). Returns int64 token ids [rows]. Rows of all -inf return index 0."""
    rows, vocab = logits.shape
    assert logits.stride(1) == 1 and inv_temperature.shape == (rows,) and rows * vocab < 2**31
    out = torch.empty(rows, dtype=torch.int64, device=logits.device)
    if rows:
        chunk = chunk_columns(rows, vocab)
        num_chunks = max(1, triton.cdiv(vocab, chunk))  # vocab 0: one empty chunk, index 0
        part_val = torch.empty(rows, num_chunks, dtype=torch.float32, device=logits.device)
        part_idx = torch.empty(rows, num_chunks, dtype=torch.int32, device=logits.device)
        _sample_kernel_partial[(rows, num_chunks)](
            logits,
            inv_temperature,
            part_val,
            part_idx,
            seed,
            logits.stride(0),
            vocab,
            chunk,
            num_chunks,
            BLOCK=BLOCK,
            num_warps=8,
        )
        _sample_kernel_reduce[(rows,)](
            part_val,
            part_idx,
            out,
            vocab,
            num_chunks,
            # the most chunks any batch of this vocabulary has (chunks are >= BLOCK): one compile per model
            # (per batch-size class it compiled mid-run, e.g. 5-8 rows at 128k columns)
            CHUNKS=max(32, triton.next_power_of_2(triton.cdiv(vocab, BLOCK))),
            num_warps=1,
        )
    return out
