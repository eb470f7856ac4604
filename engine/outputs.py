"""What the engine hands back: request outputs (whole or deltas), per-request metrics, engine stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass(slots=True)
class RequestMetrics:
    arrival_time: float
    first_scheduled_time: float | None = None
    first_token_time: float | None = None
    last_token_time: float | None = None
    finished_time: float | None = None
    # A request delivered whole (not streamed): when each of its steps produced tokens, for the
    # latency histograms, since its consumer is woken only once.
    token_times: list[float] | None = None


@dataclass(slots=True)
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    logprobs: list[dict[str, Any]] | None
    finish_reason: str | None
    stop_reason: int | str | None = None


@dataclass(slots=True)
class RequestOutput:
    request_id: str
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool
    num_cached_tokens: int
    metrics: RequestMetrics
    # SamplingParams.prompt_logprobs: None for the first prompt token, then one entry per prompt token
    # (token_id, logprob, top), as CompletionOutput.logprobs; set from the first output on
    prompt_logprobs: list[dict[str, Any] | None] | None = field(default=None, repr=False)


@dataclass(slots=True)
class EngineStats:
    num_running: int
    num_waiting: int
    kv_cache_usage: float
    total_blocks: int
    free_blocks: int
    prompt_tokens: int
    generation_tokens: int
    num_preemptions: int
    prefix_cache_queries: int
    prefix_cache_hits: int
    request_success: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class PoolingOutput:
    """A pooled request's embedding (float32 [H], on the host): it finishes after its prefill."""

    request_id: str
    embedding: torch.Tensor
    num_cached_tokens: int = 0


@dataclass(slots=True)
class TokenOutput:
    """What the engine core reports for one sampled token: ids only, no text (the output processor
    detokenizes, checks stop strings and builds RequestOutputs)."""

    request_id: str
    index: int  # which of the request's n sequences
    token_id: int
    logprobs: dict[str, Any] | None
    finish_reason: str | None  # EOS, stop token id, length or a logits processor's end; never stop strings
    stop_reason: int | str | None
    num_cached_tokens: int
    # with a request's first token, when it asked for prompt logprobs (RequestOutput.prompt_logprobs)
    prompt_logprobs: list[dict[str, Any] | None] | None = field(default=None, repr=False)
