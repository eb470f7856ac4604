"""Walk a compiled grammar without a model: fill the mask, pick an allowed token, accept, repeat.

Picks at random for `budget` steps, then prefers what closes things (EOS, `"`, then `]` / `}` half the
time, else a random one-character token), so every walk ends. The processor is used as the step loop uses it.
"""

from __future__ import annotations

import random
from typing import Any

import torch

from engine.structured.processor import GrammarProcessor, allocate_bitmask

_SHIFTS = torch.arange(32, dtype=torch.int32)


def allowed_ids(bitmask: torch.Tensor, vocab_size: int) -> list[int]:
    bits = (bitmask[0].unsqueeze(-1) >> _SHIFTS) & 1
    return torch.nonzero(bits.flatten()[:vocab_size]).flatten().tolist()


class Walker:
    def __init__(self, tokenizer: Any, vocab_size: int, seed: int = 0) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.rng = random.Random(seed)
        self.eos = set(tokenizer.eos_token_ids)
        self.quote = tokenizer.token_to_id('"')
        self.brackets = [tokenizer.token_to_id(c) for c in "]}"]
        self.chars = {i for c in map(chr, range(33, 127)) if (i := tokenizer.token_to_id(c)) is not None}

    def walk(self, processor: GrammarProcessor, budget: int = 16, limit: int = 600) -> list[int]:
        """Token ids up to and including the stop token; raises if the grammar never terminates."""
        mask = allocate_bitmask(1, self.vocab_size)
        out: list[int] = []
        for step in range(limit):
            processor.fill_bitmask(mask, 0)
            allowed = allowed_ids(mask, self.vocab_size)
            assert allowed, "the grammar allows no token"
            token = self._pick(allowed, step >= budget)
            assert processor.accept(token)
            out.append(token)
            if processor.is_terminated():
                return out
        raise AssertionError("walk did not terminate")

    def _pick(self, allowed: list[int], closing: bool) -> int:
        if not closing:
            return self.rng.choice(allowed)
        allowed_set = set(allowed)
        for t in [*self.eos, self.quote]:
            if t in allowed_set:
                return t
        if self.rng.random() < 0.5:
            for t in self.brackets:
                if t in allowed_set:
                    return t
        chars = sorted(self.chars & allowed_set)
        return self.rng.choice(chars or allowed)

    def text(self, ids: list[int]) -> str:
        return self.tokenizer.decode([i for i in ids if i not in self.eos], skip_special_tokens=False)
