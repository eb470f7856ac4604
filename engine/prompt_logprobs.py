"""Prompt logprobs (vLLM's `prompt_logprobs`, the completions API's echo with logprobs): for each prompt
token, its logprob given the tokens before it, and the top alternatives.

The prefill steps compute them from the hidden states they already have (position p predicts prompt token
p + 1), chunk by chunk as chunked prefill schedules the prompt; the chunks wait on the host side of an
asynchronous copy and are handed out with the sequence's first sampled token. Only a request's first
sequence computes them (its n samples share the prompt), and it takes no prefix-cache hit until they are
done: a cached block's tokens are never run through the model. A sequence preempted and recomputed does
not compute a position twice. Logprobs are raw, like the sampler's: log_softmax of the model's logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from engine.sampler import to_device
from engine.sequence import Sequence

# Logits rows at a time: a 16k-token chunk over a 152k vocabulary would be 10 GB of float32. 256 rows is
# what the sampler meets at max_num_seqs 256 (~160 MB of float32 logprobs on top of the logits).
ROWS_PER_SLICE = 256


@dataclass(slots=True)
class PromptLogprobChunk:
    """Positions [start, start + len(chosen)) of one prefill step, on their way to the host."""

    start: int
    chosen: torch.Tensor  # float32 [rows]: the logprob of the prompt token each position predicts
    top_ids: torch.Tensor  # int64 [rows, k]
    top_vals: torch.Tensor  # float32 [rows, k]
    ranks: torch.Tensor  # int64 [rows]: the prompt token's rank in the vocabulary (1: the most likely)
    copied: torch.cuda.Event | None = None


@dataclass(slots=True)
class PromptSlice:
    """What one step computes for one sequence: flat rows [flat, flat + count) of the step's hidden states
    are prompt positions [position, position + count)."""

    seq: Sequence
    flat: int
    position: int
    count: int


def wants(seq: Sequence) -> bool:
    """Whether seq still has prompt positions to compute (its request's first sequence only)."""
    return (
        seq.params.prompt_logprobs is not None
        and seq.index == 0
        and seq.prompt_logprobs_next < seq.num_prompt_tokens - 1
    )


def plan(seq: Sequence, start: int, num_tokens: int, flat: int) -> PromptSlice | None:
    """The prompt positions a step scheduling seq's tokens [start, start + num_tokens) (at flat row flat of
    the step) computes, or None. The last prompt token predicts the first output token: not a prompt's."""
    lo = max(start, seq.prompt_logprobs_next)
    hi = min(start + num_tokens, seq.num_prompt_tokens - 1)
    if hi <= lo:
        return None
    return PromptSlice(seq, flat + lo - start, lo, hi - lo)


def compute(
    slices: list[PromptSlice], hidden: torch.Tensor, logits_of: Callable[[torch.Tensor], torch.Tensor | None]
) -> None:
    """Each slice's logprobs from the step's hidden states, queued on the device and copied to the host
    without a wait; kept on the sequence until its first token is collected."""
    for s in slices:
        seq, k = s.seq, s.seq.params.prompt_logprobs or 0
        assert seq.prompt_array is not None
        following = seq.prompt_array[s.position + 1 : s.position + 1 + s.count].copy()  # (read-only view)
        targets = to_device(following, torch.int64, hidden.device)
        chosen, ids, vals, ranks = [], [], [], []
        for lo in range(0, s.count, ROWS_PER_SLICE):
            hi = min(lo + ROWS_PER_SLICE, s.count)
            logits = logits_of(hidden[s.flat + lo : s.flat + hi])
            assert logits is not None  # rank 0 (prompt logprobs are refused with tensor parallelism)
            logprobs = torch.log_softmax(logits, dim=-1, dtype=torch.float32)
            picked = logprobs.gather(1, targets[lo:hi, None])
            chosen.append(picked.squeeze(1))
            ranks.append((logprobs > picked).sum(dim=-1) + 1)
            top_vals, top_ids = logprobs.topk(k, dim=-1)
            ids.append(top_ids)
            vals.append(top_vals)
        chunk = PromptLogprobChunk(
            s.position, torch.cat(chosen), torch.cat(ids), torch.cat(vals), torch.cat(ranks)
        )
        if hidden.is_cuda:
            chunk.chosen, chunk.top_ids = _to_pinned(chunk.chosen), _to_pinned(chunk.top_ids)
            chunk.top_vals, chunk.ranks = _to_pinned(chunk.top_vals), _to_pinned(chunk.ranks)
            chunk.copied = torch.cuda.Event()
            chunk.copied.record()
        if seq.prompt_logprobs_chunks is None:
            seq.prompt_logprobs_chunks = []
        seq.prompt_logprobs_chunks.append(chunk)
        seq.prompt_logprobs_next = s.position + s.count


def _to_pinned(t: torch.Tensor) -> torch.Tensor:
    host = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
    host.copy_(t, non_blocking=True)
    return host


def take_entries(seq: Sequence) -> list[dict[str, Any] | None] | None:
    """The sequence's prompt logprobs as entries (None for the first prompt token); None when it asked
    for none. Called once, when its first token reaches the host: every chunk was queued before it."""
    if seq.params.prompt_logprobs is None or seq.index != 0:
        return None
    chunks, seq.prompt_logprobs_chunks = seq.prompt_logprobs_chunks, None
    prompt = seq.token_ids
    entries: list[dict[str, Any] | None] = [None]
    for chunk in sorted(chunks or [], key=lambda c: c.start):
        if chunk.copied is not None:
            chunk.copied.synchronize()
        top = zip(chunk.top_ids.tolist(), chunk.top_vals.tolist(), strict=True)
        rows = zip(chunk.chosen.tolist(), chunk.ranks.tolist(), top, strict=True)
        for j, (value, rank, (ids, vals)) in enumerate(rows):
            entries.append(
                {
                    "token_id": prompt[chunk.start + j + 1],
                    "logprob": value,
                    "rank": rank,
                    "top": list(zip(ids, vals, strict=True)),
                }
            )
    return entries
