"""Batched sampling: penalties, temperature, top-k / top-p / min-p, per-request seeds, logprobs.

Logprobs are vLLM's default "raw" ones: log_softmax of the model's logits before any processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.fast_sampling import FastSampler
from engine.logits_process import apply_bitmask
from engine.sequence import Sequence


@dataclass(slots=True)
class SamplerOutput:
    token_ids: list[int]
    logprobs: list[dict[str, Any] | None]


@dataclass(slots=True)
class SampledTokens:
    """One step's samples, still on the logits' device: nothing here has waited for the GPU."""

    token_ids: torch.Tensor  # int64 [rows]
    logprobs: (
        tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None
    )  # chosen [rows], top ids/values [rows, k]
    num_logprobs: list[int | None]  # per row: how many alternatives were asked for (None: no logprobs)

    def host_tensors(self) -> list[torch.Tensor]:
        return [self.token_ids, *(self.logprobs or ())]

    @staticmethod
    def to_lists(
        tensors: list[list[Any]], num_logprobs: list[int | None]
    ) -> tuple[list[int], list[dict[str, Any] | None]]:
        """(token ids, logprob entries) from the .tolist() of host_tensors()."""
        tokens = tensors[0]
        if len(tensors) == 1:
            return tokens, [None] * len(tokens)
        chosen, top_ids, top_vals = tensors[1:]
        entries: list[dict[str, Any] | None] = []
        for i, k in enumerate(num_logprobs):
            if k is None:
                entries.append(None)
                continue
            top = list(zip(top_ids[i][:k], top_vals[i][:k], strict=True))
            entries.append({"token_id": tokens[i], "logprob": chosen[i], "top": top})
        return tokens, entries


def to_device(values: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A host list or array on device without waiting for the GPU (CUDA: pinned, non-blocking; a pageable
    copy would synchronize the stream, and with it the step still running)."""
    t = torch.as_tensor(values, dtype=dtype)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _padded(rows: list[list[int]], pad: int) -> np.ndarray:
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), max(width, 1)), pad, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def has_penalties(seq: Sequence) -> bool:
    p = seq.params
    return p.repetition_penalty != 1.0 or p.presence_penalty != 0.0 or p.frequency_penalty != 0.0


def _token_matrix(
    rows: list[list[int]], pending: torch.Tensor | None, vocab: int, dev: torch.device
) -> torch.Tensor:
    """[rows, width] token ids padded with vocab (a column past the vocabulary), plus each row's token
    still in flight (pending, -1 for none) as a last column."""
    ids = to_device(_padded(rows, vocab), torch.int64, dev)
    if pending is None:
        return ids
    return torch.cat([ids, torch.where(pending >= 0, pending, vocab).unsqueeze(1)], dim=1)


def apply_penalties(
    logits: torch.Tensor, seqs: list[Sequence], pending: torch.Tensor | None = None
) -> torch.Tensor:
    """vLLM semantics: repetition over prompt + output, presence and frequency over the output.
    pending: int64 [rows] on the device, each row's last token when it is still in flight (-1: none)."""
    num_rows, vocab = logits.shape
    dev = logits.device
    rep = [s.params.repetition_penalty for s in seqs]
    if any(r != 1.0 for r in rep):
        ids = _token_matrix([s.token_ids for s in seqs], pending, vocab, dev)
        seen = torch.zeros(num_rows, vocab + 1, dtype=torch.bool, device=dev)
        seen = seen.scatter_(1, ids, True)[:, :vocab]
        r = to_device(rep, logits.dtype, dev).unsqueeze(1).expand_as(logits)
        logits = torch.where(seen, torch.where(logits > 0, logits / r, logits * r), logits)
    freq = [s.params.frequency_penalty for s in seqs]
    pres = [s.params.presence_penalty for s in seqs]
    if any(freq) or any(pres):
        ids = _token_matrix([s.output_token_ids for s in seqs], pending, vocab, dev)
        counts = torch.zeros(num_rows, vocab + 1, dtype=logits.dtype, device=dev)
        counts.scatter_add_(1, ids, torch.ones_like(ids, dtype=logits.dtype))
        counts = counts[:, :vocab]
        f = to_device(freq, logits.dtype, dev).unsqueeze(1)
        p = to_device(pres, logits.dtype, dev).unsqueeze(1)
        logits = logits - f * counts - p * (counts > 0).to(logits.dtype)
    return logits


def apply_logit_bias(logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor:
    """OpenAI's logit_bias: each row's bias added to its tokens' logits (fp32 logits, a copy), before
    penalties and sampling, as vLLM; greedy rows take it too (-100 all but bans a token)."""
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for i, s in enumerate(seqs):
        for token, bias in (s.params.logit_bias or {}).items():
            rows.append(i)
            cols.append(token)
            values.append(float(bias))
    index = to_device([rows, cols], torch.int64, logits.device)
    bias = to_device(values, logits.dtype, logits.device)
    return logits.index_put((index[0], index[1]), bias, accumulate=True)


def apply_top_k_top_p(logits: torch.Tensor, top_k: list[int], top_p: list[float]) -> torch.Tensor:
    vocab = logits.shape[1]
    dev = logits.device
    sorted_logits, sorted_idx = logits.sort(dim=-1, descending=True)
    if any(top_k):
        k = to_device([k if k > 0 else vocab for k in top_k], torch.int64, dev).unsqueeze(1)
        sorted_logits = sorted_logits.masked_fill(torch.arange(vocab, device=dev) >= k, -float("inf"))
    if any(p < 1.0 for p in top_p):
        p = to_device(top_p, logits.dtype, dev).unsqueeze(1)
        probs = sorted_logits.softmax(dim=-1)
        sorted_logits = sorted_logits.masked_fill(probs.cumsum(dim=-1) - probs > p, -float("inf"))
    return torch.empty_like(logits).scatter_(1, sorted_idx, sorted_logits)


def apply_min_p(logits: torch.Tensor, min_p: list[float]) -> torch.Tensor:
    probs = logits.softmax(dim=-1)
    threshold = to_device(min_p, probs.dtype, probs.device).unsqueeze(1)
    return logits.masked_fill(probs < threshold * probs.amax(dim=-1, keepdim=True), -float("inf"))


class Sampler:
    def __init__(self, eos_token_ids: list[int], seed: int = 0, device: torch.device | str = "cpu") -> None:
        self.eos_token_ids = list(eos_token_ids)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.fast = FastSampler(seed)  # CUDA: one fused kernel when rows need only greedy/temperature

    def stop_token_ids(self, seq: Sequence) -> list[int]:
        ids = list(seq.params.stop_token_ids or [])
        return ids if seq.params.ignore_eos else ids + self.eos_token_ids

    def __call__(self, logits: torch.Tensor, seqs: list[Sequence]) -> SamplerOutput:
        """Sample and wait for the result (tests and one-off use; the engine keeps `sample`'s tensors)."""
        sampled = self.sample(logits, seqs)
        tokens, entries = SampledTokens.to_lists(
            [t.tolist() for t in sampled.host_tensors()], sampled.num_logprobs
        )
        return SamplerOutput(tokens, entries)

    def sample(
        self,
        logits: torch.Tensor,
        seqs: list[Sequence],
        pending: torch.Tensor | None = None,
        bitmask: torch.Tensor | None = None,
        and_mask: tuple[torch.Tensor, torch.Tensor | None] | None = None,
    ) -> SampledTokens:
        """Token ids (and logprobs) on the device, without a host sync. pending: each row's token still
        in flight (-1: none), for penalties; bitmask: allowed tokens (engine/logits_process.py); and_mask:
        (one packed row, the rows it applies to or None for all) ANDed into the bitmask in the same pass."""
        want_logprobs = [s.params.logprobs for s in seqs]
        if bitmask is not None:
            logits = apply_bitmask(logits, bitmask, *(and_mask or (None, None)))
        fast = self.fast.sample_device(logits, seqs) if logits.is_cuda else None
        if fast is not None:
            return SampledTokens(fast, None, want_logprobs)
        logits = logits.float()
        raw_logprobs = None
        if any(k is not None for k in want_logprobs):
            raw_logprobs = torch.log_softmax(logits, dim=-1)
        if any(s.params.logit_bias for s in seqs):
            logits = apply_logit_bias(logits, seqs)
        if any(map(has_penalties, seqs)):
            logits = apply_penalties(logits, seqs, pending)
        logits = self._suppress_stops(logits, seqs)
        greedy = [s.params.greedy for s in seqs]
        tokens = logits.argmax(dim=-1)
        if not all(greedy):
            is_greedy = to_device(greedy, torch.bool, logits.device)
            tokens = torch.where(is_greedy, tokens, self._sample(logits, seqs))
        logprobs = None
        if raw_logprobs is not None:
            max_k = max(k or 0 for k in want_logprobs)
            chosen = raw_logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)
            top_vals, top_ids = raw_logprobs.topk(max_k, dim=-1)
            logprobs = (chosen, top_ids, top_vals)
        return SampledTokens(tokens, logprobs, want_logprobs)

    def _suppress_stops(self, logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor:
        """min_tokens: EOS and stop token ids get -inf until the row has produced enough tokens, except in
        a row where nothing else is allowed (a grammar that is complete: its end wins over min_tokens)."""
        vocab = logits.shape[1]
        rows: list[int] = []
        cols: list[int] = []
        for i, s in enumerate(seqs):
            if s.num_output_tokens < s.params.min_tokens:
                ids = [t for t in self.stop_token_ids(s) if t < vocab]
                rows += [i] * len(ids)
                cols += ids
        if not rows:
            return logits
        index = to_device([rows, cols], torch.int64, logits.device)
        minus_inf = torch.full((), float("-inf"), dtype=logits.dtype, device=logits.device)
        held = logits.index_put((index[0], index[1]), minus_inf)
        touched = to_device(sorted(set(rows)), torch.int64, logits.device)  # only the rows held back
        nothing_left = torch.isneginf(held[touched]).all(dim=1, keepdim=True)  # on the device: no sync
        held[touched] = torch.where(nothing_left, logits[touched], held[touched])
        return held

    def _sample(self, logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor:
        params = [s.params for s in seqs]
        temps = [p.temperature if not p.greedy else 1.0 for p in params]
        logits = logits / to_device(temps, logits.dtype, logits.device).unsqueeze(1)
        top_k = [p.top_k for p in params]
        top_p = [p.top_p for p in params]
        if any(top_k) or any(p < 1.0 for p in top_p):
            logits = apply_top_k_top_p(logits, top_k, top_p)
        min_p = [p.min_p for p in params]
        if any(min_p):
            logits = apply_min_p(logits, min_p)
        probs = logits.softmax(dim=-1)
        noise = torch.empty_like(probs).exponential_(generator=self.generator)
        for i, s in enumerate(seqs):
            if s.generator is not None and not s.params.greedy:
                noise[i] = torch.empty_like(probs[i]).exponential_(generator=s.generator)
        return (probs / noise).argmax(dim=-1)
