"""`SamplingParams`: vLLM's fields and their validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from engine.errors import InvalidParam

if TYPE_CHECKING:
    from engine.logits_process import LogitsProcessor

GREEDY_EPS = 1e-5
MAX_N = 128
MAX_LOGPROBS = 20
MAX_CACHE_SALT = 256
MAX_LOGIT_BIAS = 300  # entries (OpenAI's limit)
LOGIT_BIAS_RANGE = 100.0


@dataclass(slots=True)
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: str | list[str] | None = None
    stop_token_ids: list[int] | None = None
    ignore_eos: bool = False
    max_tokens: int | None = 16
    min_tokens: int = 0
    logprobs: int | None = None
    # per prompt token: its logprob given the tokens before it, and this many alternatives (vLLM's
    # prompt_logprobs; the completions API's echo with logprobs)
    prompt_logprobs: int | None = None
    include_stop_str_in_output: bool = False
    skip_special_tokens: bool = True
    cache_salt: str | None = None  # prefix-cache isolation: only requests with the same salt share blocks
    logit_bias: dict[int, float] | None = None  # token id -> added to its logit before sampling (OpenAI)
    detokenize: bool = True  # False: token ids only (no text, no stop strings)
    # one engine/logits_process.py LogitsProcessor per sequence (grammar-constrained decoding)
    logits_processor_factory: Callable[[], LogitsProcessor] | None = field(
        default=None, compare=False, repr=False
    )
    stop_strs: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.stop is None:
            self.stop_strs = []
        else:
            self.stop_strs = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        if self.stop_token_ids is None:
            self.stop_token_ids = []
        if self.top_k == -1:
            self.top_k = 0

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_EPS

    def validate(self) -> None:
        if not 1 <= self.n <= MAX_N:
            raise InvalidParam("n", f"must be in [1, {MAX_N}], got {self.n}")
        if self.temperature < 0:
            raise InvalidParam("temperature", f"must be non-negative, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise InvalidParam("top_p", f"must be in (0, 1], got {self.top_p}")
        if not 0 <= self.top_k < 2**31:  # a huge k reached the sampler and stopped the engine loop
            raise InvalidParam("top_k", f"must be -1 (off), 0 (off) or in [1, 2**31), got {self.top_k}")
        if not 0.0 <= self.min_p <= 1.0:
            raise InvalidParam("min_p", f"must be in [0, 1], got {self.min_p}")
        if not -2.0 <= self.presence_penalty <= 2.0:
            raise InvalidParam("presence_penalty", f"must be in [-2, 2], got {self.presence_penalty}")
        if not -2.0 <= self.frequency_penalty <= 2.0:
            raise InvalidParam("frequency_penalty", f"must be in [-2, 2], got {self.frequency_penalty}")
        if not 0.0 < self.repetition_penalty <= 2.0:
            raise InvalidParam("repetition_penalty", f"must be in (0, 2], got {self.repetition_penalty}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InvalidParam("max_tokens", f"must be at least 1, got {self.max_tokens}")
        if self.min_tokens < 0:
            raise InvalidParam("min_tokens", f"must be non-negative, got {self.min_tokens}")
        if self.max_tokens is not None and self.min_tokens > self.max_tokens:
            raise InvalidParam("min_tokens", "must not exceed max_tokens")
        if self.logprobs is not None and not 0 <= self.logprobs <= MAX_LOGPROBS:
            raise InvalidParam("logprobs", f"must be in [0, {MAX_LOGPROBS}], got {self.logprobs}")
        if self.prompt_logprobs is not None and not 0 <= self.prompt_logprobs <= MAX_LOGPROBS:
            got = self.prompt_logprobs
            raise InvalidParam("prompt_logprobs", f"must be in [0, {MAX_LOGPROBS}], got {got}")
        if any(not s for s in self.stop_strs):
            raise InvalidParam("stop", "stop strings must be non-empty")
        if self.stop_strs and not self.detokenize:
            raise InvalidParam("stop", "stop strings need detokenize")
        if any(not 0 <= t < 2**31 for t in self.stop_token_ids):
            raise InvalidParam("stop_token_ids", "token ids must be in [0, 2**31)")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise InvalidParam("seed", "must be in [0, 2**63)")
        if self.logit_bias is not None:
            self._validate_logit_bias(self.logit_bias)
        if self.cache_salt is not None and not 0 < len(self.cache_salt) <= MAX_CACHE_SALT:
            raise InvalidParam(
                "cache_salt", f"must be a non-empty string of at most {MAX_CACHE_SALT} characters"
            )

    @staticmethod
    def _validate_logit_bias(bias: dict[int, float]) -> None:
        if len(bias) > MAX_LOGIT_BIAS:
            raise InvalidParam("logit_bias", f"at most {MAX_LOGIT_BIAS} tokens, got {len(bias)}")
        for token, value in bias.items():
            if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < 2**31:
                raise InvalidParam("logit_bias", "keys must be token ids in [0, 2**31)")
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not (number and -LOGIT_BIAS_RANGE <= value <= LOGIT_BIAS_RANGE):  # NaN fails too
                raise InvalidParam("logit_bias", "values must be numbers in [-100, 100]")

    def for_child(self, index: int) -> SamplingParams:
        """The params of the index-th of n parallel samples (vLLM: seed + index)."""
        child = replace(self, n=1)
        if self.seed is not None:
            child.seed = self.seed + index
        return child
