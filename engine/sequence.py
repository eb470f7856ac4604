"""A sequence (one sample of a request) and the request that fans out into n of them: what the engine
core tracks (token ids, KV blocks, tokens in flight). Text, stop strings and streaming offsets live in
the output processor (engine/output_processor.py)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from enum import Enum, auto
from itertools import count
from typing import Any

import numpy as np
import torch

from engine.outputs import RequestMetrics
from engine.sampling_params import SamplingParams


class SequenceStatus(Enum):
    WAITING = auto()
    RUNNING = auto()
    FINISHED = auto()  # out of the scheduler, blocks freed (its last token may still be in flight)


_seq_ids = count()


@dataclass(slots=True, eq=False)
class Sequence:
    request_id: str
    index: int
    # prompt + the output tokens that reached the host (tenant content: kept out of repr())
    token_ids: list[int] = field(repr=False)
    params: SamplingParams
    num_prompt_tokens: int = 0
    seq_id: int = field(default_factory=lambda: next(_seq_ids))
    status: SequenceStatus = SequenceStatus.WAITING
    num_inflight: int = 0  # sampled tokens still on the device (the async loop's placeholders)
    num_computed_tokens: int = 0
    num_cached_tokens: int = 0
    block_table: list[int] = field(default_factory=list)
    block_hashes: list[bytes] = field(default_factory=list)
    num_hashed_blocks: int = 0
    generator: torch.Generator | None = None
    logits_processor: Any = None  # engine/logits_process.py's LogitsProcessor, one per sequence
    metrics: RequestMetrics | None = None  # the request's (shared by its n sequences)
    finish_reason: str | None = None  # set once: later tokens in flight are discarded
    stop_reason: int | str | None = None
    # the prompt as int64 (EngineCore.add, shared by a request's n sequences): converted once, then
    # sliced for prefix hashing and model inputs instead of converting token_ids on every step
    prompt_array: np.ndarray | None = field(default=None, repr=False)
    # SamplingParams.prompt_logprobs (engine/prompt_logprobs.py): the next prompt position to compute, and
    # the computed chunks until the first token is collected
    prompt_logprobs_next: int = 0
    prompt_logprobs_chunks: list[Any] | None = field(default=None, repr=False)
    # a pooled sequence split by chunked prefill: its partial on the device (engine/pooling/runner.py)
    pool_partial: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if not self.num_prompt_tokens:
            self.num_prompt_tokens = len(self.token_ids)

    @property
    def num_tokens(self) -> int:
        """Tokens the scheduler counts: known ones plus those in flight."""
        return len(self.token_ids) + self.num_inflight

    @property
    def num_output_tokens(self) -> int:
        return self.num_tokens - self.num_prompt_tokens

    @property
    def output_token_ids(self) -> list[int]:
        return self.token_ids[self.num_prompt_tokens :]

    @property
    def is_finished(self) -> bool:
        return self.status is SequenceStatus.FINISHED

    def token_array(self, start: int, end: int) -> np.ndarray:
        """token_ids[start:end] (known tokens only) as int64: a view of prompt_array where it covers them."""
        end = min(end, len(self.token_ids))
        if start >= end:
            return np.zeros(0, dtype=np.int64)
        prompt = self.prompt_array
        if prompt is not None and start < len(prompt):
            if end <= len(prompt):
                return prompt[start:end]
            return np.concatenate([prompt[start:], int64_array(self.token_ids[len(prompt) : end])])
        return int64_array(self.token_ids[start:end])


def int64_array(values: list[int]) -> np.ndarray:
    """A list of ints as an int64 array (array('q') converts about twice as fast as np.array)."""
    return np.frombuffer(array("q", values), dtype=np.int64) if values else np.zeros(0, dtype=np.int64)


@dataclass(slots=True, eq=False)
class Request:
    request_id: str
    prompt_token_ids: list[int] = field(repr=False)  # tenant content: kept out of repr()
    params: SamplingParams
    seqs: list[Sequence]
    metrics: RequestMetrics

    @property
    def finished(self) -> bool:
        return all(s.finish_reason is not None for s in self.seqs)
