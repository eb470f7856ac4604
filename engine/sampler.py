"""Batched sampling: penalties, temperature, top-k / top-p / min-p, per-request seeds, logprobs.

Logprobs are vLLM's default "raw" ones: log_softmax of the model's logits before any processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.fast_sampling import FastSampler
from engine.sequence import Sequence


@dataclass(slots=True)
class SamplerOutput:
    token_ids: list[int]
    logprobs: list[dict[str, Any] | None]


def _padded(rows: list[list[int]], pad: int) -> np.ndarray:
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), max(width, 1)), pad, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def apply_penalties(logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor:
    """vLLM semantics: repetition over prompt + output, presence and frequency over the output."""
    num_rows, vocab = logits.shape
    dev = logits.device
    rep = [s.params.repetition_penalty for s in seqs]
    if any(r != 1.0 for r in rep):
        ids = torch.from_numpy(_padded([s.token_ids for s in seqs], vocab)).to(dev)
        seen = torch.zeros(num_rows, vocab + 1, dtype=torch.bool, device=dev)
        seen = seen.scatter_(1, ids, True)[:, :vocab]
        r = torch.tensor(rep, dtype=logits.dtype, device=dev).unsqueeze(1).expand_as(logits)
        logits = torch.where(seen, torch.where(logits > 0, logits / r, logits * r), logits)
    freq = [s.params.frequency_penalty for s in seqs]
    pres = [s.params.presence_penalty for s in seqs]
    if any(freq) or any(pres):
        ids = torch.from_numpy(_padded([s.output_token_ids for s in seqs], vocab)).to(dev)
        counts = torch.zeros(num_rows, vocab + 1, dtype=logits.dtype, device=dev)
        counts.scatter_add_(1, ids, torch.ones_like(ids, dtype=logits.dtype))
        counts = counts[:, :vocab]
        f = torch.tensor(freq, dtype=logits.dtype, device=dev).unsqueeze(1)
        p = torch.tensor(pres, dtype=logits.dtype, device=dev).unsqueeze(1)
        logits = logits - f * counts - p * (counts > 0).to(logits.dtype)
    return logits


def apply_top_k_top_p(logits: torch.Tensor, top_k: list[int], top_p: list[float]) -> torch.Tensor:
    vocab = logits.shape[1]
    dev = logits.device
    sorted_logits, sorted_idx = logits.sort(dim=-1, descending=True)
    if any(top_k):
        k = torch.tensor([k if k > 0 else vocab for k in top_k], device=dev).unsqueeze(1)
        sorted_logits = sorted_logits.masked_fill(torch.arange(vocab, device=dev) >= k, -float("inf"))
    if any(p < 1.0 for p in top_p):
        p = torch.tensor(top_p, dtype=logits.dtype, device=dev).unsqueeze(1)
        probs = sorted_logits.softmax(dim=-1)
        sorted_logits = sorted_logits.masked_fill(probs.cumsum(dim=-1) - probs > p, -float("inf"))
    return torch.empty_like(logits).scatter_(1, sorted_idx, sorted_logits)


def apply_min_p(logits: torch.Tensor, min_p: list[float]) -> torch.Tensor:
    probs = logits.softmax(dim=-1)
    threshold = torch.tensor(min_p, dtype=probs.dtype, device=probs.device).unsqueeze(1)
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
        fast = self.fast(logits, seqs)
        if fast is not None:
            return SamplerOutput(fast, [None] * len(seqs))
        logits = logits.float()
        raw_logprobs = None
        want_logprobs = [s.params.logprobs for s in seqs]
        if any(k is not None for k in want_logprobs):
            raw_logprobs = torch.log_softmax(logits, dim=-1)
        logits = apply_penalties(logits, seqs)
        suppress = [
            (i, self.stop_token_ids(s))
            for i, s in enumerate(seqs)
            if s.num_output_tokens < s.params.min_tokens
        ]
        if suppress:
            logits = logits.clone()
            for i, ids in suppress:
                logits[i, [t for t in ids if t < logits.shape[1]]] = -float("inf")
        greedy = [s.params.greedy for s in seqs]
        tokens = logits.argmax(dim=-1)
        if not all(greedy):
            is_greedy = torch.tensor(greedy, device=logits.device)
            tokens = torch.where(is_greedy, tokens, self._sample(logits, seqs))
        token_list = tokens.tolist()
        logprobs: list[dict[str, Any] | None] = [None] * len(seqs)
        if raw_logprobs is not None:
            logprobs = self._logprobs(raw_logprobs, token_list, want_logprobs)
        return SamplerOutput(token_list, logprobs)

    def _sample(self, logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor:
        params = [s.params for s in seqs]
        temps = [p.temperature if not p.greedy else 1.0 for p in params]
        temps = torch.tensor(temps, device=logits.device)
        logits = logits / temps.unsqueeze(1)
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

    @staticmethod
    def _logprobs(raw: torch.Tensor, tokens: list[int], ks: list[int | None]) -> list[dict[str, Any] | None]:
        max_k = max(k or 0 for k in ks)
        rows = torch.arange(raw.shape[0], device=raw.device)
        chosen = raw[rows, torch.tensor(tokens, device=raw.device)].tolist()
        top_vals, top_ids = raw.topk(max_k, dim=-1) if max_k else (raw[:, :0], raw[:, :0].long())
        top_vals, top_ids = top_vals.tolist(), top_ids.tolist()
        out: list[dict[str, Any] | None] = []
        for i, k in enumerate(ks):
            if k is None:
                out.append(None)
                continue
            top = list(zip(top_ids[i][:k], top_vals[i][:k], strict=True))
            out.append({"token_id": tokens[i], "logprob": chosen[i], "top": top})
        return out
