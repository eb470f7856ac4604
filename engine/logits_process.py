"""Per-sequence logits processors (grammar-constrained decoding) and xgrammar's token bitmask.

A processor is created once per sequence (`SamplingParams.logits_processor_factory`). Before each of its
sequence's samples the engine asks it for the allowed tokens (`fill_bitmask`), masks everything else to
-inf, samples with the usual parameters, then hands it the token (`accept`). `is_terminated()` ends the
sequence with finish_reason "stop". Such a sequence is never scheduled while its previous token is still
in flight (engine/engine_core.py), so the processor always sees every token before it fills a mask.

The bitmask is xgrammar's layout: int32 [batch, ceil(vocab / 32)], bit j of word i allows token 32 * i + j;
rows the engine does not hand to a processor stay all ones (everything allowed).
"""

from __future__ import annotations

from typing import Protocol

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


def apply_bitmask(logits: torch.Tensor, bitmask: torch.Tensor) -> torch.Tensor:
    """logits with -inf where the bitmask disallows a token (bitmask on logits' device)."""
    allowed = unpack_bitmask(bitmask, logits.shape[1])
    return logits.masked_fill(~allowed, float("-inf"))
