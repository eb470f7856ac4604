"""One sequence's grammar state (xgrammar GrammarMatcher) behind the step loop's LogitsProcessor hook:
fill_bitmask before sampling, accept after, is_terminated to finish the sequence with "stop"."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np
import torch
import xgrammar as xgr


class LogitsProcessor(Protocol):
    """The hook of engine/logits_process.py (same shape: the engine calls the factory per sequence)."""

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None: ...

    def accept(self, token_id: int) -> bool: ...

    def is_terminated(self) -> bool: ...


class GrammarProcessor:
    fills_whole_rows = True  # xgrammar writes every word of a row: the staging buffer needs no reset there

    def __init__(
        self,
        compiled: xgr.CompiledGrammar,
        and_mask: torch.Tensor | None = None,
        stop_ids: frozenset[int] | None = None,
    ) -> None:
        self.matcher = xgr.GrammarMatcher(compiled)
        self.and_mask = and_mask  # tokens never allowed (bits clear), whatever the grammar says
        self.rejected = False
        # the matcher terminates exactly when it accepts a stop token (terminate_without_stop_token is
        # off): tracked here, so the step loop asks no foreign call per row
        self.stop_ids = frozenset(self.matcher.stop_token_ids) if stop_ids is None else stop_ids
        self.terminated = False

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        """Row `row` of an int32 (batch, ceil(vocab/32)) bitmask: a set bit is an allowed token."""
        self.matcher.fill_next_token_bitmask(bitmask, row)
        if self.and_mask is not None:
            bitmask[row] &= self.and_mask

    def accept(self, token_id: int) -> bool:
        """Advance by the sampled token; False if the grammar does not allow it (then it stays put)."""
        if self.terminated:
            return False
        ok = self.matcher.accept_token(token_id)
        self._advanced(token_id, ok)
        return ok

    def _advanced(self, token_id: int, ok: bool) -> None:
        self.rejected |= not ok
        self.terminated = ok and token_id in self.stop_ids

    def is_terminated(self) -> bool:
        return self.terminated

    @staticmethod
    def accept_batch(processors: list[GrammarProcessor], tokens: list[int]) -> list[bool]:
        """accept() for each processor, with one xgrammar call for the matchers still running."""
        return [ok for ok, _ in GrammarProcessor.accept_rows(processors, tokens)]

    @staticmethod
    def accept_rows(processors: list[GrammarProcessor], tokens: list[int]) -> list[tuple[bool, bool]]:
        """(accepted, terminated) per processor after one batched accept. Per-row Python only where a row
        had ended, refused its token or took a stop token (rare): a step of 256 rows costs the xgrammar
        call and a few list passes, all on the step loop's critical path."""
        n = len(processors)
        if any(p.terminated for p in processors):
            live = [i for i, p in enumerate(processors) if not p.terminated]
            got = accept_matchers([processors[i].matcher for i in live], [tokens[i] for i in live])
            oks = [False] * n
            for i, ok in zip(live, got, strict=True):
                oks[i] = ok
        else:
            oks = accept_matchers([p.matcher for p in processors], tokens)
        stops = processors[0].stop_ids if n else frozenset()
        same_stops = all(p.stop_ids is stops for p in processors)
        if same_stops and all(oks) and stops.isdisjoint(tokens):
            return [(True, False)] * n  # the usual step: every row advanced, none ended
        out = []
        for p, token_id, ok in zip(processors, tokens, oks, strict=True):
            if not p.terminated:
                p._advanced(token_id, ok)
                out.append((ok, p.terminated))
            else:
                out.append((False, True))
        return out

    @staticmethod
    def fill_batch(
        processors: list[GrammarProcessor], bitmask: torch.Tensor, rows: list[int], skip_and: bool = False
    ) -> None:
        fill_batch(processors, bitmask, rows, skip_and)


def processor_factory(
    compiled: xgr.CompiledGrammar, and_mask: torch.Tensor | None = None
) -> Callable[[], GrammarProcessor]:
    """What SamplingParams.logits_processor_factory holds: a fresh matcher per sequence (n > 1 too)."""
    stop_ids: frozenset[int] | None = None

    def make() -> GrammarProcessor:
        nonlocal stop_ids
        p = GrammarProcessor(compiled, and_mask, stop_ids)
        stop_ids = p.stop_ids
        return p

    return make


def allocate_bitmask(batch: int, vocab_size: int) -> torch.Tensor:
    return xgr.allocate_token_bitmask(batch, vocab_size)


def apply_bitmask(logits: torch.Tensor, bitmask: torch.Tensor) -> None:
    """Masked-out tokens to -inf, in place (xgrammar's kernel: CPU or CUDA)."""
    xgr.apply_token_bitmask_inplace(logits, bitmask.to(logits.device, non_blocking=True))


def cpu_count() -> int:
    """CPUs this process may run on (a container's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


MAX_FILL_THREADS = 8


def fill_threads() -> int:
    """xgrammar threads for a batch fill: TEECUBE_GRAMMAR_THREADS, else the CPUs of the process up to
    MAX_FILL_THREADS. On an H200 host (16 CPUs, grammar_loop, 256 rows) 8 threads gave the shortest
    host step over both bench vocabularies: BPE 4.2 ms (16 threads: 5.6, 1: 5.3), random-ASCII 6.5 ms
    (16: 6.9); past that, waking threads costs more than the rows they take. On a 2-CPU host, one CPU
    fewer measured slower (the fill bounds the step there). xgrammar's "auto" is half of the host's
    cores, which in a container can be far more than the CPUs it has."""
    return max(1, int(os.environ.get("TEECUBE_GRAMMAR_THREADS") or min(cpu_count(), MAX_FILL_THREADS)))


_batch_matcher: xgr.BatchGrammarMatcher | None = None
_accept_pool: ThreadPoolExecutor | None = None
ACCEPT_CHUNK = 32  # rows per accept thread at least: below that a thread's wake-up costs more than it saves


def accept_threads() -> int:
    """Threads for a step's accepts: TEECUBE_GRAMMAR_ACCEPT_THREADS, else one. Measured on an H200
    host (16 CPUs, `bench structured`, 256 rows): 8 chunks of 32 rows gave 29,859 tok/s with a schema,
    one thread 38,333 (the chunks contend with the fill threads), and on a 2-CPU host one was faster too."""
    return max(1, int(os.environ.get("TEECUBE_GRAMMAR_ACCEPT_THREADS") or 1))


def accept_matchers(matchers: list[xgr.GrammarMatcher], tokens: list[int]) -> list[bool]:
    """xgrammar's batch accept, split over up to accept_threads() threads (C++ without the GIL; each
    matcher is touched by one thread): the step loop waits for these tokens before it fills the masks."""
    global _accept_pool
    threads = accept_threads()
    chunks = min(threads, len(matchers) // ACCEPT_CHUNK)
    accept = xgr.BatchGrammarMatcher.batch_accept_token
    if chunks < 2:
        return accept(matchers, tokens)
    if _accept_pool is None:  # threads - 1 workers: chunks - 1 never exceeds that
        _accept_pool = ThreadPoolExecutor(threads - 1, thread_name_prefix="grammar-accept")
    bounds = [len(matchers) * c // chunks for c in range(chunks + 1)]
    futures = [
        _accept_pool.submit(accept, matchers[a:b], tokens[a:b]) for a, b in itertools.pairwise(bounds[1:])
    ]
    out = accept(matchers[: bounds[1]], tokens[: bounds[1]])  # the first chunk on this thread
    for f in futures:
        out += f.result()
    return out


def fill_batch(
    processors: list[GrammarProcessor], bitmask: torch.Tensor, rows: list[int], skip_and: bool = False
) -> None:
    """The same as processors[i].fill_bitmask(bitmask, rows[i]) for every i, on xgrammar's thread pool
    (C++ threads, without the GIL): a step loop with many constrained rows calls this once. skip_and:
    the and_masks are the caller's (the engine ANDs them on the device, in the mask kernel)."""
    global _batch_matcher
    if _batch_matcher is None:
        _batch_matcher = xgr.BatchGrammarMatcher(fill_threads())
    _batch_matcher.batch_fill_next_token_bitmask([p.matcher for p in processors], bitmask, rows)
    if not skip_and:
        and_masks(processors, bitmask, rows)


def and_masks(processors: list[GrammarProcessor], bitmask: torch.Tensor, rows: list[int]) -> None:
    """bitmask[rows[i]] &= processors[i].and_mask, in place, one op per run of consecutive rows that
    share a mask (a batch of one schema: one op), with no gather or scatter copy."""
    start = 0
    n = len(rows)
    for i in range(1, n + 1):
        if i < n and rows[i] == rows[i - 1] + 1 and processors[i].and_mask is processors[start].and_mask:
            continue
        mask = processors[start].and_mask
        if mask is not None:  # numpy: one thread without the GIL (torch would start an OpenMP team here)
            view = bitmask.numpy()[rows[start] : rows[i - 1] + 1]
            np.bitwise_and(view, mask.numpy(), out=view)
        start = i
