"""`LLMEngine`: add requests, `step()` them: the engine core's loop (token ids, one step in flight) and the
output processor (text, stop strings, outputs) on one thread."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from engine.config import EngineConfig
from engine.distributed.workers import ModelLoader
from engine.engine_core import EngineCore
from engine.loader import LoadedModel
from engine.output_processor import OutputProcessor
from engine.outputs import EngineStats, RequestMetrics, RequestOutput
from engine.sampling_params import SamplingParams
from engine.sequence import Request


class LLMEngine:
    def __init__(
        self,
        config: EngineConfig,
        loaded: LoadedModel | ModelLoader | None = None,
        async_scheduling: bool | None = None,
    ) -> None:
        """See EngineCore (async_scheduling: None = on CUDA)."""
        self.config = config
        self.core = EngineCore(config, loaded, async_scheduling)
        self.output_processor = OutputProcessor(self.core.tokenizer, self.core.eos_token_ids)

    # the core's parts, as before the split
    @property
    def model_runner(self) -> Any:
        return self.core.model_runner

    @property
    def scheduler(self) -> Any:
        return self.core.scheduler

    @property
    def block_manager(self) -> Any:
        return self.core.block_manager

    @property
    def workers(self) -> Any:
        return self.core.workers

    @property
    def requests(self) -> dict[str, Request]:
        return self.core.requests

    @property
    def tokenizer(self) -> Any:
        return self.core.tokenizer

    @property
    def spec(self) -> Any:
        return self.core.spec

    @property
    def max_model_len(self) -> int:
        return self.core.max_model_len

    @property
    def eos_token_ids(self) -> list[int]:
        return self.core.eos_token_ids

    def encode(self, prompt: str | list[int], add_special_tokens: bool = True) -> list[int]:
        return self.core.encode(prompt, add_special_tokens)

    def check_request(self, prompt_token_ids: list[int], params: SamplingParams) -> int:
        return self.core.check_request(prompt_token_ids, params)

    def add_request(
        self,
        request_id: str,
        prompt: str | list[int],
        params: SamplingParams,
        arrival_time: float | None = None,
        cache_salt: str | None = None,
    ) -> Request:
        """cache_salt: share prefix-cache blocks only with requests of the same salt (overrides params')."""
        if cache_salt is not None:
            params = replace(params, cache_salt=cache_salt)
        prompt_ids = self.encode(prompt)
        metrics = RequestMetrics(arrival_time if arrival_time is not None else time.monotonic())
        req = self.core.add(request_id, prompt_ids, params, metrics)
        self.output_processor.add_request(request_id, req.prompt_token_ids, params, metrics)
        return req

    def abort_request(self, request_id: str) -> RequestOutput | None:
        """Stop a request and free its blocks now; returns its final delta."""
        self.core.abort(request_id)
        return self.output_processor.abort(request_id)

    def shutdown(self) -> None:
        self.core.shutdown()

    def has_unfinished(self) -> bool:
        return self.core.has_unfinished()

    def step(self, stream: bool = True) -> list[RequestOutput]:
        """One step of the loop. stream=True: deltas of every request that advanced; stream=False: whole
        outputs of the requests that finished."""
        try:
            tokens = self.core.step()
        except BaseException:
            # the core aborted every request (EngineCore.step): forget them here too
            for request_id in list(self.output_processor.requests):
                self.output_processor.abort(request_id)
            raise
        outputs, stopped = self.output_processor.process(tokens, stream)
        if stopped:
            self.core.finish_stopped(stopped)
        return outputs

    def stats(self) -> EngineStats:
        return with_output_counters(self.core.stats(), self.output_processor)


def with_output_counters(stats: EngineStats, processor: OutputProcessor) -> EngineStats:
    """The core's stats with the output processor's counts of generated tokens and finished requests."""
    return replace(
        stats, generation_tokens=processor.generation_tokens, request_success=dict(processor.request_success)
    )
