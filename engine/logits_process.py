"""Per-sequence logits processors (grammar-constrained decoding) and xgrammar's token bitmask.

A processor is created once per sequence (`SamplingParams.logits_processor_factory`). Before each of its
sequence's samples the engine asks it for the allowed tokens (`fill_bitmask`), masks everything else to
-inf, samples with the usual parameters, then hands it the token (`accept`). `is_terminated()` ends the
sequence with finish_reason "stop". With a step in flight (engine/engine_core.py) the next step's forward
is queued first, then the previous step's tokens are read and accepted (`accept_tokens`), then the mask is
filled while the GPU runs the forward: a processor always sees every token before it fills a mask.
A processor class may offer `accept_rows(processors, tokens)` (per row: accepted, terminated) and
`fill_batch(processors, bitmask, rows, skip_and)` (static): one call for all its rows of a step
(xgrammar's batched matcher) instead of one per row, and
`fills_whole_rows = True` when fill_bitmask writes every word of its row (the engine then skips resetting
that row to all ones first). A processor's `and_mask` (int32 words, or None) is a fixed set of tokens it
never allows: fill_bitmask applies it; on CUDA the engine applies it in the mask kernel instead
(fill_batch(..., skip_and=True) then leaves it out of the host fill).

The bitmask is xgrammar's layout: int32 [batch, ceil(vocab / 32)], bit j of word i allows token 32 * i + j;
rows the engine does not hand to a processor stay all ones (everything allowed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence as Seq
from functools import cache
from types import ModuleType
from typing import Any, Protocol

import torch

BITS = 32


class LogitsProcessor(Protocol):
    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        """Write the allowed next tokens into bitmask[row] (clear the bits of disallowed tokens)."""

    def accept(self, token_id: int) -> bool:
        """Advance past the sampled token; False: the token was not allowed."""

    def is_terminated(self) -> bool:
        """Whether the constrained output is complete (the sequence stops)."""


def bitmask_words(vocab_size: int) -> int:
    return -(-vocab_size // BITS)


def allocate_bitmask(rows: int, vocab_size: int) -> torch.Tensor:
    """All ones: every token allowed (host memory, where processors fill it)."""
    return torch.full((rows, bitmask_words(vocab_size)), -1, dtype=torch.int32)


def unpack_bitmask(bitmask: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """bool [rows, vocab_size]: True where the token is allowed (on the bitmask's device)."""
    shifts = torch.arange(BITS, dtype=torch.int32, device=bitmask.device)
    bits = (bitmask.unsqueeze(-1) >> shifts) & 1  # arithmetic shift: bit 31 of a negative word still reads 1
    return bits.reshape(bitmask.shape[0], -1)[:, :vocab_size].bool()


@cache
def _kernel() -> ModuleType | None:
    try:
        import engine.kernels.bitmask as kernel
    except ImportError:
        return None
    return kernel


def apply_bitmask(
    logits: torch.Tensor,
    bitmask: torch.Tensor,
    and_mask: torch.Tensor | None = None,
    and_rows: torch.Tensor | None = None,
) -> torch.Tensor:
    """logits with -inf where the bitmask disallows a token (bitmask on logits' device). and_mask: one
    packed row also ANDed into every row, or into the rows set in and_rows (bool/int8 [rows]). CUDA: in
    place, one Triton pass over the batch; elsewhere a masked copy."""
    kernel = _kernel() if logits.is_cuda else None
    if kernel is not None and logits.stride(1) == 1:
        return kernel.apply_bitmask_(logits, bitmask, and_mask, and_rows)
    vocab = logits.shape[1]
    allowed = unpack_bitmask(bitmask, vocab)
    if and_mask is not None:
        extra = unpack_bitmask(and_mask.reshape(1, -1), vocab)
        if and_rows is not None:
            extra = extra | ~and_rows.bool().unsqueeze(1)
        allowed &= extra
    return logits.masked_fill(~allowed, float("-inf"))


def _by_class(processors: Seq[Any]) -> dict[type, list[int]]:
    classes = set(map(type, processors))
    if len(classes) == 1:  # the usual step (C-speed: no per-row Python)
        return {classes.pop(): list(range(len(processors)))}
    groups: dict[type, list[int]] = defaultdict(list)
    for i, p in enumerate(processors):
        groups[type(p)].append(i)
    return groups


def accept_tokens(processors: Seq[Any], tokens: Seq[int]) -> list[tuple[bool, bool]]:
    """Hand each processor its sampled token: per processor (accepted, terminated afterwards)."""
    groups = _by_class(processors)
    if len(groups) == 1:  # the usual step: one class, every row in order
        ((cls, _),) = groups.items()
        return _accept_class(cls, list(processors), list(tokens))
    done: list[tuple[bool, bool]] = [(False, False)] * len(processors)
    for cls, idx in groups.items():
        got = _accept_class(cls, [processors[i] for i in idx], [tokens[i] for i in idx])
        for i, d in zip(idx, got, strict=True):
            done[i] = d
    return done


def _accept_class(cls: type, procs: list[Any], tokens: list[int]) -> list[tuple[bool, bool]]:
    rows = getattr(cls, "accept_rows", None)
    if rows is not None:
        return rows(procs, tokens)
    return [(p.accept(t), p.is_terminated()) for p, t in zip(procs, tokens, strict=True)]


def fill_rows(processors: Seq[Any], bitmask: torch.Tensor, rows: Seq[int], skip_and: bool = False) -> None:
    """processors[i].fill_bitmask(bitmask, rows[i]) for every i: one batched call per processor class
    that has one (xgrammar's thread pool), one call per row otherwise. skip_and: the caller applies the
    processors' `and_mask` itself (on the device), so fill_batch leaves it out (fill_bitmask applies it
    anyway: twice is harmless)."""
    for cls, idx in _by_class(processors).items():
        if len(idx) == len(processors):  # the usual step: one class, every row in order
            procs, at = list(processors), list(rows)
        else:
            procs, at = [processors[i] for i in idx], [rows[i] for i in idx]
        batch = getattr(cls, "fill_batch", None)
        if batch is not None:
            batch(procs, bitmask, at, skip_and)
        else:
            for p, r in zip(procs, at, strict=True):
                p.fill_bitmask(bitmask, r)
