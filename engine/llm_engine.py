"""`LLMEngine`: add requests, `step()` them through scheduler, model runner and sampler."""

from __future__ import annotations

import time
from collections import Counter

import torch

from engine.block_manager import BlockManager
from engine.config import EngineConfig
from engine.distributed.workers import ModelLoader, start_workers
from engine.errors import ContextLengthExceeded, InvalidParam
from engine.loader import LoadedModel
from engine.model_runner import ModelRunner
from engine.outputs import CompletionOutput, EngineStats, RequestMetrics, RequestOutput
from engine.sampling_params import SamplingParams
from engine.scheduler import Scheduler
from engine.sequence import Request, Sequence
from engine.stop_checker import append_token, stop_buffer_length


class LLMEngine:
    def __init__(self, config: EngineConfig, loaded: LoadedModel | ModelLoader | None = None) -> None:
        """loaded: an already loaded model to serve (shared between engines in tests and benchmarks), or a
        picklable `loader(config) -> LoadedModel` that every tensor-parallel rank calls (random weights)."""
        self.config = config
        self.workers = start_workers(config, loaded)  # tensor-parallel ranks 1..N-1, or None
        try:
            if callable(loaded):
                loaded = loaded(config)
            self.model_runner = ModelRunner(config, loaded)
        except BaseException:
            self.shutdown()
            raise
        self.spec = self.model_runner.spec
        self.tokenizer = self.model_runner.tokenizer
        self.max_model_len = config.max_model_len = self.model_runner.max_model_len
        self.eos_token_ids = list(self.spec.eos_token_ids)
        self.block_manager = BlockManager(
            self.model_runner.num_blocks, config.block_size, config.enable_prefix_caching
        )
        self.scheduler = Scheduler(self.block_manager, config.max_num_seqs, config.max_num_batched_tokens)
        self.requests: dict[str, Request] = {}
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.request_success: Counter[str] = Counter()

    def encode(self, prompt: str | list[int], add_special_tokens: bool = True) -> list[int]:
        if isinstance(prompt, str):
            return list(self.tokenizer.encode(prompt, add_special_tokens=add_special_tokens))
        return list(prompt)

    def check_request(self, prompt_token_ids: list[int], params: SamplingParams) -> int:
        """Validate before scheduling; returns the resolved max_tokens."""
        params.validate()
        n = len(prompt_token_ids)
        if n == 0:
            raise InvalidParam("prompt", "the prompt is empty")
        if min(prompt_token_ids) < 0 or max(prompt_token_ids) >= self.spec.vocab_size:
            raise InvalidParam("prompt", f"token ids must be in [0, {self.spec.vocab_size})")
        max_tokens = params.max_tokens if params.max_tokens is not None else self.max_model_len - n
        if n + max(max_tokens, 1) > self.max_model_len:
            raise ContextLengthExceeded(n, max_tokens, self.max_model_len)
        return max_tokens

    def add_request(
        self,
        request_id: str,
        prompt: str | list[int],
        params: SamplingParams,
        arrival_time: float | None = None,
    ) -> Request:
        from engine.detokenizer import IncrementalDetokenizer

        if request_id in self.requests:
            raise InvalidParam("request_id", f"request {request_id!r} is already running")
        prompt_ids = self.encode(prompt)
        max_tokens = self.check_request(prompt_ids, params)
        seqs = []
        for i in range(params.n):
            p = params.for_child(i) if params.n > 1 else params.for_child(0)
            p.max_tokens = max_tokens
            seq = Sequence(request_id, i, list(prompt_ids), p)
            if p.seed is not None:
                seq.generator = torch.Generator(device=self.model_runner.device).manual_seed(p.seed)
            seq.detokenizer = IncrementalDetokenizer(self.tokenizer, prompt_ids, p.skip_special_tokens)
            seqs.append(seq)
        metrics = RequestMetrics(arrival_time if arrival_time is not None else time.monotonic())
        req = Request(request_id, prompt_ids, params, seqs, metrics)
        self.requests[request_id] = req
        for seq in seqs:
            self.scheduler.add(seq)
        self.prompt_tokens += len(prompt_ids)
        return req

    def abort_request(self, request_id: str) -> RequestOutput | None:
        """Stop a request and free its blocks now; returns its final (empty) delta."""
        req = self.requests.pop(request_id, None)
        if req is None:
            return None
        for seq in req.seqs:
            if not seq.is_finished:
                self.scheduler.finish(seq)
                seq.finish_reason = "abort"
        req.metrics.finished_time = time.monotonic()
        self.request_success["abort"] += 1
        return self._output(req, req.seqs, stream=True)

    def shutdown(self) -> None:
        """Stop the tensor-parallel workers, if any (idempotent); no step runs afterwards."""
        if self.workers is not None:
            self.workers.shutdown()

    def has_unfinished(self) -> bool:
        return self.scheduler.has_unfinished()

    def step(self, stream: bool = True) -> list[RequestOutput]:
        """One scheduling + model step. stream=True: deltas of every request that advanced;
        stream=False: whole outputs of the requests that finished."""
        sched = self.scheduler.schedule()
        if not sched.seqs:
            return []
        if self.workers is not None:
            self.workers.check_alive()
        now = time.monotonic()
        for seq in sched.seqs:
            metrics = self.requests[seq.request_id].metrics
            if metrics.first_scheduled_time is None:
                metrics.first_scheduled_time = now
        seqs, sampled = self.model_runner.execute(sched)
        self.scheduler.update_after_step(sched)
        now = time.monotonic()
        touched: dict[str, list[Sequence]] = {}
        for seq, token_id, logprob in zip(seqs, sampled.token_ids, sampled.logprobs, strict=True):
            append_token(seq, token_id, self.eos_token_ids, self.max_model_len)
            if logprob is not None and seq.logprobs is not None:
                seq.logprobs.append(logprob)
            self.generation_tokens += 1
            if seq.finish_reason is not None:
                self.scheduler.finish(seq)
            touched.setdefault(seq.request_id, []).append(seq)
        outputs = []
        for request_id, changed in touched.items():
            req = self.requests[request_id]
            m = req.metrics
            m.first_token_time = m.first_token_time or now
            m.last_token_time = now
            if req.finished:
                m.finished_time = now
                self.request_success[changed[-1].finish_reason or "stop"] += 1
                del self.requests[request_id]
            if stream:
                outputs.append(self._output(req, changed, stream=True))
            elif req.finished:
                outputs.append(self._output(req, req.seqs, stream=False))
        return outputs

    def _output(self, req: Request, seqs: list[Sequence], stream: bool) -> RequestOutput:
        outs = []
        for seq in seqs:
            if not stream:
                text, ids, lps = seq.text, seq.output_token_ids, seq.logprobs
            else:
                end = len(seq.text) if seq.is_finished else max(len(seq.text) - stop_buffer_length(seq), 0)
                text = seq.text[seq.num_emitted_chars : max(end, seq.num_emitted_chars)]
                ids = seq.token_ids[seq.num_prompt_tokens + seq.num_emitted_tokens :]
                lps = seq.logprobs[seq.num_emitted_tokens :] if seq.logprobs is not None else None
                seq.num_emitted_chars += len(text)
                seq.num_emitted_tokens += len(ids)
            outs.append(CompletionOutput(seq.index, text, ids, lps, seq.finish_reason, seq.stop_reason))
        cached = max(s.num_cached_tokens for s in req.seqs)
        return RequestOutput(req.request_id, req.prompt_token_ids, outs, req.finished, cached, req.metrics)

    def stats(self) -> EngineStats:
        bm = self.block_manager
        return EngineStats(
            num_running=len(self.scheduler.running),
            num_waiting=len(self.scheduler.waiting),
            kv_cache_usage=bm.usage(),
            total_blocks=bm.num_blocks,
            free_blocks=bm.num_free_blocks,
            prompt_tokens=self.prompt_tokens,
            generation_tokens=self.generation_tokens,
            num_preemptions=self.scheduler.num_preemptions,
            prefix_cache_queries=bm.prefix_cache_queries,
            prefix_cache_hits=bm.prefix_cache_hits,
            request_success=dict(self.request_success),
        )
