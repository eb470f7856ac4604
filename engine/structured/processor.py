"""One sequence's grammar state (xgrammar GrammarMatcher) behind the step loop's LogitsProcessor hook:
fill_bitmask before sampling, accept after, is_terminated to finish the sequence with "stop"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
import xgrammar as xgr


class LogitsProcessor(Protocol):
    """The hook of engine/logits_process.py (same shape: the engine calls the factory per sequence)."""

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None: ...

    def accept(self, token_id: int) -> bool: ...

    def is_terminated(self) -> bool: ...


class GrammarProcessor:
    def __init__(self, compiled: xgr.CompiledGrammar, and_mask: torch.Tensor | None = None) -> None:
        self.matcher = xgr.GrammarMatcher(compiled)
        self.and_mask = and_mask  # tokens never allowed (bits clear), whatever the grammar says
        self.rejected = False

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        """Row `row` of an int32 (batch, ceil(vocab/32)) bitmask: a set bit is an allowed token."""
        self.matcher.fill_next_token_bitmask(bitmask, row)
        if self.and_mask is not None:
            bitmask[row] &= self.and_mask

    def accept(self, token_id: int) -> bool:
        """Advance by the sampled token; False if the grammar does not allow it (then it stays put)."""
        if self.matcher.is_terminated():
            return False
        ok = self.matcher.accept_token(token_id)
        self.rejected |= not ok
        return ok

    def is_terminated(self) -> bool:
        return self.matcher.is_terminated()

    @staticmethod
    def accept_batch(processors: list[GrammarProcessor], tokens: list[int]) -> list[bool]:
        """accept() for each processor, with one xgrammar call for the matchers still running."""
        live = [i for i, p in enumerate(processors) if not p.matcher.is_terminated()]
        oks = [False] * len(processors)
        if live:
            got = xgr.BatchGrammarMatcher.batch_accept_token(
                [processors[i].matcher for i in live], [tokens[i] for i in live]
            )
            for i, ok in zip(live, got, strict=True):
                oks[i] = ok
                processors[i].rejected |= not ok
        return oks

    @staticmethod
    def fill_batch(processors: list[GrammarProcessor], bitmask: torch.Tensor, rows: list[int]) -> None:
        fill_batch(processors, bitmask, rows)


def processor_factory(
    compiled: xgr.CompiledGrammar, and_mask: torch.Tensor | None = None
) -> Callable[[], GrammarProcessor]:
    """What SamplingParams.logits_processor_factory holds: a fresh matcher per sequence (n > 1 too)."""

    def make() -> GrammarProcessor:
        return GrammarProcessor(compiled, and_mask)

    return make


def allocate_bitmask(batch: int, vocab_size: int) -> torch.Tensor:
    return xgr.allocate_token_bitmask(batch, vocab_size)


def apply_bitmask(logits: torch.Tensor, bitmask: torch.Tensor) -> None:
    """Masked-out tokens to -inf, in place (xgrammar's kernel: CPU or CUDA)."""
    xgr.apply_token_bitmask_inplace(logits, bitmask.to(logits.device, non_blocking=True))


_batch_matcher: xgr.BatchGrammarMatcher | None = None


def fill_batch(processors: list[GrammarProcessor], bitmask: torch.Tensor, rows: list[int]) -> None:
    """The same as processors[i].fill_bitmask(bitmask, rows[i]) for every i, on xgrammar's thread pool
    (a step loop with many constrained rows calls this once instead of one fill per row)."""
    global _batch_matcher
    if _batch_matcher is None:
        _batch_matcher = xgr.BatchGrammarMatcher("auto")
    _batch_matcher.batch_fill_next_token_bitmask([p.matcher for p in processors], bitmask, rows)
    masks: dict[int, tuple[torch.Tensor, list[int]]] = {}  # one &= per distinct and_mask, not per row
    for p, row in zip(processors, rows, strict=True):
        if p.and_mask is not None:
            masks.setdefault(id(p.and_mask), (p.and_mask, []))[1].append(row)
    for and_mask, at in masks.values():
        index = torch.tensor(at, dtype=torch.int64)
        bitmask[index] &= and_mask
