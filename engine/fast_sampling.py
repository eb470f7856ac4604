"""The sampler's fast path on CUDA: when every row needs only greedy or temperature sampling (no
penalties, top-k/p, min-p, seeds, logprobs or min_tokens), one fused Triton pass over the logits
(engine/kernels/sampling.py) replaces the generic sampler's passes and its per-row Python. Rows with a
logits processor (grammars) qualify: their mask is already applied to the logits (Sampler.sample)."""

from __future__ import annotations

import random
from functools import cache
from types import ModuleType

import torch

from engine.sequence import Sequence


@cache
def _kernels() -> ModuleType | None:
    try:
        import engine.kernels.sampling as sampling
    except ImportError:
        return None
    return sampling


def is_plain(seq: Sequence) -> bool:
    p = seq.params
    return (
        p.logprobs is None
        and p.seed is None
        and p.top_k == 0
        and p.top_p >= 1.0
        and p.min_p == 0.0
        and p.repetition_penalty == 1.0
        and p.presence_penalty == 0.0
        and p.frequency_penalty == 0.0
        and not p.logit_bias
        and len(seq.token_ids) + seq.num_inflight - seq.num_prompt_tokens >= p.min_tokens  # num_output_tokens
    )


class FastSampler:
    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (per-step Philox seeds, not secrets)

    def __call__(self, logits: torch.Tensor, seqs: list[Sequence]) -> list[int] | None:
        """Sampled token ids, or None when this batch needs the generic sampler (or is not on CUDA)."""
        return self.sample(logits, seqs) if logits.is_cuda else None

    def sample(self, logits: torch.Tensor, seqs: list[Sequence]) -> list[int] | None:
        tokens = self.sample_device(logits, seqs)
        return None if tokens is None else tokens.tolist()

    def sample_device(self, logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor | None:
        """The token ids as a tensor on logits' device (no host sync), or None (generic sampler needed)."""
        if not seqs or not all(map(is_plain, seqs)):
            return None
        kernels = _kernels()
        if kernels is None:
            return None
        inv = [0.0 if s.params.greedy else 1.0 / s.params.temperature for s in seqs]
        inv_t = torch.tensor(inv, dtype=torch.float32)
        # pinned and non-blocking: a pageable copy would synchronize the stream before the kernel launch
        if logits.is_cuda:
            inv_t = inv_t.pin_memory().to(logits.device, non_blocking=True)
        return kernels.sample_tokens(logits, inv_t, self.rng.getrandbits(31))
