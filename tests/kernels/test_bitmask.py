"""The in-place Triton grammar mask (engine/kernels/bitmask.py) against the reference unpacking, through
the Triton interpreter on the CPU."""

from __future__ import annotations

import torch

from engine.kernels.bitmask import apply_bitmask_
from engine.logits_process import unpack_bitmask


def test_mask_equals_unpacking() -> None:
    gen = torch.Generator().manual_seed(0)
    for rows, vocab in ((1, 77), (3, 4099), (2, 8192)):
        words = -(-vocab // 32)
        mask = torch.randint(-(2**31), 2**31 - 1, (rows, words), dtype=torch.int32, generator=gen)
        mask[0] = -1  # a row without a grammar: all ones
        logits = torch.randn(rows, vocab, generator=gen)
        expected = logits.masked_fill(~unpack_bitmask(mask, vocab), float("-inf"))
        got = apply_bitmask_(logits.clone(), mask)
        assert torch.equal(got, expected)
        assert torch.isfinite(got[0]).all()


def test_and_mask_in_the_same_pass_equals_anding_on_the_host() -> None:
    """The AND row applied by the kernel (to every row, or to flagged rows) equals ANDing it into the
    packed rows first; rows not flagged keep their own mask."""
    gen = torch.Generator().manual_seed(1)
    rows, vocab = 3, 4099
    words = -(-vocab // 32)
    mask = torch.randint(-(2**31), 2**31 - 1, (rows, words), dtype=torch.int32, generator=gen)
    mask[1] = -1
    extra = torch.randint(-(2**31), 2**31 - 1, (words,), dtype=torch.int32, generator=gen)
    logits = torch.randn(rows, vocab, generator=gen)
    for flags in (None, torch.tensor([1, 1, 0], dtype=torch.int8), torch.tensor([0, 1, 0], dtype=torch.int8)):
        anded = mask.clone()
        on = range(rows) if flags is None else [r for r in range(rows) if flags[r]]
        for r in on:
            anded[r] &= extra
        expected = logits.masked_fill(~unpack_bitmask(anded, vocab), float("-inf"))
        got = apply_bitmask_(logits.clone(), mask, extra, flags)
        assert torch.equal(got, expected), flags
