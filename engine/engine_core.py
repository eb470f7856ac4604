"""`EngineCore`: requests as token ids through the engine's one step loop (vLLM V1's async scheduling).

Each `step()` schedules and launches step N+1 before it reads step N's sampled tokens, so the host
prepares the next step while the GPU runs the previous one:
- When a step is launched, each sequence it samples gets a token in flight (`num_inflight`): it counts
  in the sequence's length, so the scheduler hands it its next decode step at once, whose input id is
  read on the device from this step's samples (ModelRunner.prepare). Blocks holding a token in flight are
  not hashed for the prefix cache until the token is known.
- A sequence that reaches max_tokens or the context with the launched token leaves the scheduler at
  launch (no step is wasted on it); its blocks may go to the next step, which the GPU runs after this one.
- Then step N's tokens reach the host (one wait, for a copy queued right after N's sampler) and stop on
  EOS, stop token ids or a logits processor's end. Rows with a logits processor (grammars) overlap too:
  step N+1's launch queues its forward, waits for step N's tokens and hands them to the processors
  (StepRun.accept_processors, reused by the collect), then the masks are filled while the GPU runs the
  forward: on a thread while step N is collected and its outputs processed when the sampler reads no
  sequence state (then the next launch queues N+1's sampler: StepRun.complete), else before the launch
  returns.
  A sequence that stopped (or was aborted, or stopped by a
  stop string the output processor found) discards the token it still has in flight.
An embedding engine (--task embed, vLLM's pooling runner) serves pooling requests only: each is one
sequence prefilled through the same scheduler (token budget, chunked prefill), pooled on the device by
the step that completes its prompt, and finished at that step's launch (its blocks are free at once);
its vector reaches the host when the step is collected, as sampled tokens do.
Only token ids move here: text, stop strings and streaming offsets are the output processor's
(engine/output_processor.py). Without CUDA (nothing runs asynchronously) and with tensor parallelism
each step's tokens are read right after its launch: the same loop, no placeholders left between steps.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from engine import gc_heap, prompt_logprobs
from engine.block_manager import BlockManager
from engine.config import EngineConfig
from engine.distributed.workers import ModelLoader, start_workers
from engine.errors import ContextLengthExceeded, InvalidParam
from engine.loader import LoadedModel
from engine.model_runner import ModelRunner, StepRun
from engine.outputs import EngineStats, PoolingOutput, RequestMetrics, TokenOutput
from engine.pooling.runner import PoolRun
from engine.sampling_params import SamplingParams
from engine.scheduler import Scheduler, SchedulerOutput
from engine.sequence import Request, Sequence, int64_array


class EngineCore:
    def __init__(
        self,
        config: EngineConfig,
        loaded: LoadedModel | ModelLoader | None = None,
        async_scheduling: bool | None = None,
    ) -> None:
        """loaded: an already loaded model to serve (shared between engines in tests and benchmarks), or a
        picklable `loader(config) -> LoadedModel` that every tensor-parallel rank calls (random weights).
        async_scheduling: keep one step in flight (default: on CUDA without tensor parallelism)."""
        self.config = config
        if config.task == "embed" and config.tensor_parallel_size > 1:
            raise InvalidParam("tensor_parallel_size", "embedding models run without tensor parallelism")
        # a CUDA engine's loop must not stall on full collections over the imports (engine/gc_heap.py)
        self._gc_held = str(config.device).startswith("cuda") and gc_heap.hold(self)
        self.workers = start_workers(config, loaded)  # tensor-parallel ranks 1..N-1, or None
        try:
            if callable(loaded):
                loaded = loaded(config)
            self.model_runner = ModelRunner(config, loaded)
        except BaseException:
            self.shutdown()
            raise
        self.spec = self.model_runner.spec
        self.pooling = self.model_runner.pooling  # set: an embedding engine (no generation)
        self.tokenizer = self.model_runner.tokenizer
        self.max_model_len = config.max_model_len = self.model_runner.max_model_len
        self.eos_token_ids = list(self.spec.eos_token_ids)
        # a prefix hit skips its tokens' hidden states: only last-token pooling can use one
        prefix_caching = config.enable_prefix_caching and (
            self.pooling is None or self.pooling.pooling_type == "last"
        )
        self.block_manager = BlockManager(self.model_runner.num_blocks, config.block_size, prefix_caching)
        self.scheduler = Scheduler(self.block_manager, config.max_num_seqs, config.max_num_batched_tokens)
        if async_scheduling is None:
            async_scheduling = self.model_runner.device.type == "cuda"
        self.async_scheduling = async_scheduling and self.model_runner.tp_size == 1
        self.inflight: StepRun | PoolRun | None = None
        self.requests: dict[str, Request] = {}
        self.prompt_tokens = 0

    def encode(self, prompt: str | list[int], add_special_tokens: bool = True) -> list[int]:
        return encode_prompt(self.tokenizer, prompt, add_special_tokens)

    def check_request(self, prompt_token_ids: list[int], params: SamplingParams) -> int:
        """Validate before scheduling; returns the resolved max_tokens."""
        return check_request(prompt_token_ids, params, self.spec.vocab_size, self.max_model_len)

    def check_pooling(self, prompt_token_ids: list[int]) -> None:
        check_pooling_request(prompt_token_ids, self.spec.vocab_size, self.max_model_len)

    def add(
        self, request_id: str, prompt_ids: list[int], params: SamplingParams, metrics: RequestMetrics
    ) -> Request:
        """Queue a request's n sequences (each with its own generator and logits processor)."""
        if self.pooling is not None:
            raise InvalidParam("task", "this model serves embeddings only (--task embed)")
        if request_id in self.requests:
            raise InvalidParam("request_id", f"request {request_id!r} is already running")
        max_tokens = self.check_request(prompt_ids, params)
        if params.prompt_logprobs is not None and self.model_runner.tp_size > 1:
            raise InvalidParam("prompt_logprobs", "prompt logprobs are not supported with tensor parallelism")
        seqs = []
        prompt_array = int64_array(prompt_ids)
        prompt_array.flags.writeable = False  # shared by the n sequences
        for i in range(params.n):
            p = params.for_child(i)
            p.max_tokens = max_tokens
            seq = Sequence(request_id, i, list(prompt_ids), p, metrics=metrics, prompt_array=prompt_array)
            if p.seed is not None:
                seq.generator = torch.Generator(device=self.model_runner.device).manual_seed(p.seed)
            if p.logits_processor_factory is not None:
                seq.logits_processor = p.logits_processor_factory()
            seqs.append(seq)
        req = Request(request_id, list(prompt_ids), params, seqs, metrics)
        self.requests[request_id] = req
        for seq in seqs:
            self.scheduler.add(seq)
        self.prompt_tokens += len(prompt_ids)
        return req

    def add_pooling(self, request_id: str, prompt_ids: list[int], metrics: RequestMetrics) -> Request:
        """Queue a pooling request: one sequence, prefilled and pooled, never sampled."""
        if self.pooling is None:
            raise InvalidParam("task", "this model does not serve embeddings (start it with --task embed)")
        if request_id in self.requests:
            raise InvalidParam("request_id", f"request {request_id!r} is already running")
        self.check_pooling(prompt_ids)
        params = SamplingParams(max_tokens=0)
        prompt_array = int64_array(prompt_ids)
        seq = Sequence(request_id, 0, list(prompt_ids), params, metrics=metrics, prompt_array=prompt_array)
        req = Request(request_id, list(prompt_ids), params, [seq], metrics)
        self.requests[request_id] = req
        self.scheduler.add(seq)
        self.prompt_tokens += len(prompt_ids)
        return req

    def abort(self, request_id: str) -> bool:
        """Stop a request and free its blocks now (tokens still in flight are discarded)."""
        req = self.requests.pop(request_id, None)
        if req is None:
            return False
        for seq in req.seqs:
            if seq.finish_reason is None:
                self._finish(seq, "abort", None)
        return True

    def finish_stopped(self, stopped: list[tuple[str, int]]) -> None:
        """(request id, sequence index) pairs the output processor stopped on a stop string."""
        for request_id, index in stopped:
            req = self.requests.get(request_id)
            if req is None or req.seqs[index].finish_reason is not None:
                continue
            self._finish(req.seqs[index], "stop", None)
            if req.finished:
                del self.requests[request_id]

    def shutdown(self) -> None:
        """Stop the tensor-parallel workers, if any, and unfreeze the collector's heap if this engine froze
        it (idempotent); no step runs afterwards."""
        if self._gc_held:
            gc_heap.release(self)
        if self.workers is not None:
            self.workers.shutdown()

    def has_unfinished(self) -> bool:
        return self.scheduler.has_unfinished() or self.inflight is not None

    def step(self) -> list[TokenOutput] | list[PoolingOutput]:
        """Launch the next step, then collect the one before it (or, without async scheduling, this one).
        An embedding engine's steps return PoolingOutputs, a generating one's TokenOutputs.
        A step that raises (a logits processor's error, say) leaves its sequences half advanced: every
        request is aborted and the prefix cache emptied before the error propagates (`_reset`)."""
        try:
            return self._step()
        except BaseException:
            self._reset()
            raise

    def _reset(self) -> None:
        """After a failed step: abort every request, drop the step in flight (its tokens, or its deferred
        sampler, may never be read) and forget the prefix cache, since a launch that failed before its
        forward leaves blocks published (at allocation) that were never written."""
        self.inflight = None
        for request_id in list(self.requests):  # every sequence belongs to a request
            self.abort(request_id)
        self.block_manager.reset_prefix_cache()

    def _step(self) -> list[TokenOutput] | list[PoolingOutput]:
        launched: StepRun | PoolRun | None = None
        if self.scheduler.has_unfinished():
            sched = self.scheduler.schedule()
            if sched.seqs:
                launched = self._launch(sched) if self.pooling is None else self._launch_pooling(sched)
        if not self.async_scheduling:
            return self._collect_any(launched) if launched is not None else []
        previous, self.inflight = self.inflight, launched
        # a launched step whose grammar masks are being filled on a thread gets its sampler queued by the
        # next launch (or collect): the fill overlaps this collect and the output processor's work too
        return self._collect_any(previous) if previous is not None else []

    def _collect_any(self, run: StepRun | PoolRun) -> list[TokenOutput] | list[PoolingOutput]:
        return self._collect_pooled(run) if isinstance(run, PoolRun) else self._collect(run)

    def _mark_scheduled(self, sched: SchedulerOutput) -> None:
        now = time.monotonic()
        for seq in sched.seqs:
            if seq.metrics is not None and seq.metrics.first_scheduled_time is None:
                seq.metrics.first_scheduled_time = now

    def _launch_pooling(self, sched: SchedulerOutput) -> PoolRun | None:
        self._mark_scheduled(sched)
        run = self.model_runner.launch_pooling(sched)
        self.scheduler.update_after_step(sched)
        if run is not None:
            for seq in run.seqs:
                self._finish(seq, "stop", None)  # pooled at launch: its blocks may go to the next step
        return run

    def _collect_pooled(self, run: PoolRun) -> list[PoolingOutput]:
        vectors = run.result()
        outputs = []
        for seq, vector in zip(run.seqs, vectors, strict=True):
            if self.requests.pop(seq.request_id, None) is not None:  # else aborted after the launch
                outputs.append(PoolingOutput(seq.request_id, vector, seq.num_cached_tokens))
        return outputs

    def _launch(self, sched: SchedulerOutput) -> StepRun | None:
        if self.workers is not None:
            self.workers.check_alive()
        self._mark_scheduled(sched)
        prev = self.inflight if isinstance(self.inflight, StepRun) else None
        run = self.model_runner.launch(sched, prev, defer=self.async_scheduling)
        self.scheduler.update_after_step(sched)
        if run is None:
            return None
        limit = self.max_model_len
        for seq in run.seqs:
            seq.num_inflight += 1
            num_tokens = len(seq.token_ids) + seq.num_inflight  # seq.num_tokens, inlined (every row)
            done = num_tokens - seq.num_prompt_tokens >= seq.params.max_tokens  # type: ignore[operator]
            if done or num_tokens >= limit:
                self.scheduler.finish(seq)  # its last token is in flight: out of the scheduler now
        return run

    def _collect(self, run: StepRun) -> list[TokenOutput]:
        tokens, logprobs = run.result()
        accepted = run.accept_processors()
        outputs = []
        for seq, token_id, entry, acc in zip(run.seqs, tokens, logprobs, accepted, strict=True):
            seq.num_inflight -= 1
            if seq.finish_reason is not None:
                continue  # stopped or aborted after this token was launched
            seq.token_ids.append(token_id)
            reason, stop_reason = self._check_stop(seq, token_id, acc)
            if reason is not None:
                self._finish(seq, reason, stop_reason)
            out = TokenOutput(
                seq.request_id, seq.index, token_id, entry, reason, stop_reason, seq.num_cached_tokens
            )
            if seq.params.prompt_logprobs is not None and len(seq.token_ids) == seq.num_prompt_tokens + 1:
                out.prompt_logprobs = prompt_logprobs.take_entries(seq)
            outputs.append(out)
            if reason is not None:
                req = self.requests.get(seq.request_id)
                if req is not None and req.finished:
                    del self.requests[seq.request_id]
        return outputs

    def _check_stop(
        self, seq: Sequence, token_id: int, accepted: tuple[bool, bool] | None = None
    ) -> tuple[str | None, int | str | None]:
        """vLLM's order: a logits processor's end, then (past min_tokens) EOS and stop ids, then length.
        accepted: (accepted, terminated) from the processor, which has already seen token_id."""
        p = seq.params
        if accepted is not None:
            ok, terminated = accepted
            if not ok:
                return "abort", None  # a token its own mask forbade (e.g. min_tokens held EOS back)
            if terminated:
                return "stop", None
        num_output = len(seq.token_ids) - seq.num_prompt_tokens
        if num_output >= p.min_tokens:
            if not p.ignore_eos and token_id in self.eos_token_ids:
                return "stop", None
            if token_id in p.stop_token_ids:  # type: ignore[operator]
                return "stop", token_id
        if num_output >= p.max_tokens or len(seq.token_ids) >= self.max_model_len:  # type: ignore[operator]
            return "length", None
        return None, None

    def _finish(self, seq: Sequence, reason: str, stop_reason: int | str | None) -> None:
        seq.finish_reason, seq.stop_reason = reason, stop_reason
        self.scheduler.finish(seq)

    def stats(self) -> EngineStats:
        """The core's gauges and counters; generation tokens and finished requests are the output
        processor's (it alone knows which tokens were kept)."""
        bm = self.block_manager
        return EngineStats(
            num_running=len(self.scheduler.running),
            num_waiting=len(self.scheduler.waiting),
            kv_cache_usage=bm.usage(),
            total_blocks=bm.num_blocks,
            free_blocks=bm.num_free_blocks,
            prompt_tokens=self.prompt_tokens,
            generation_tokens=0,
            num_preemptions=self.scheduler.num_preemptions,
            prefix_cache_queries=bm.prefix_cache_queries,
            prefix_cache_hits=bm.prefix_cache_hits,
        )


def encode_prompt(tokenizer: Any, prompt: str | list[int], add_special_tokens: bool = True) -> list[int]:
    if isinstance(prompt, str):
        return list(tokenizer.encode(prompt, add_special_tokens=add_special_tokens))
    return list(prompt)


def check_pooling_request(prompt_token_ids: list[int], vocab_size: int, max_model_len: int) -> None:
    """Validate a pooling request before it is scheduled (in the server process too)."""
    n = len(prompt_token_ids)
    if n == 0:
        raise InvalidParam("input", "the input is empty")
    if min(prompt_token_ids) < 0 or max(prompt_token_ids) >= vocab_size:
        raise InvalidParam("input", f"token ids must be in [0, {vocab_size})")
    if n > max_model_len:
        raise ContextLengthExceeded(n, 0, max_model_len)


def check_request(
    prompt_token_ids: list[int], params: SamplingParams, vocab_size: int, max_model_len: int
) -> int:
    """Validate a request before it is scheduled (in the server process too); returns its max_tokens."""
    params.validate()
    n = len(prompt_token_ids)
    if n == 0:
        raise InvalidParam("prompt", "the prompt is empty")
    if min(prompt_token_ids) < 0 or max(prompt_token_ids) >= vocab_size:
        raise InvalidParam("prompt", f"token ids must be in [0, {vocab_size})")
    if params.logit_bias and max(params.logit_bias) >= vocab_size:
        raise InvalidParam("logit_bias", f"token ids must be in [0, {vocab_size})")
    max_tokens = params.max_tokens if params.max_tokens is not None else max_model_len - n
    if n + max(max_tokens, 1) > max_model_len:
        raise ContextLengthExceeded(n, max_tokens, max_model_len)
    return max_tokens
