"""Token ids from the engine core → `RequestOutput`s (vLLM V1's output processor).

Per request it keeps each sequence's detokenizer, text, logprobs and streaming offsets; it checks stop
strings, trims the text exactly as a synchronous check would (tokens up to the one that completed the
stop string; everything the core sampled after it is dropped) and reports the stopped sequences so the
core frees them. It also counts what reached clients: generation tokens and finished requests.
`LLMEngine` runs it after each step on the step's thread; `AsyncEngine` runs it on the event loop, off
the step thread.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.detokenizer import IncrementalDetokenizer
from engine.outputs import CompletionOutput, RequestMetrics, RequestOutput, TokenOutput
from engine.sampling_params import SamplingParams
from engine.stop_checker import find_stop_string, stop_buffer_length
from engine.tokenizer import Tokenizer


@dataclass(slots=True)
class SeqState:
    index: int
    detokenizer: IncrementalDetokenizer | None
    logprobs: list[dict[str, Any]] | None
    token_ids: list[int] = field(default_factory=list, repr=False)  # tenant content: kept out of repr()
    text: str = field(default="", repr=False)
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    num_emitted_tokens: int = 0
    num_emitted_chars: int = 0


@dataclass(slots=True)
class RequestState:
    request_id: str
    prompt_token_ids: list[int] = field(repr=False)  # tenant content: kept out of repr()
    params: SamplingParams
    seqs: list[SeqState]
    metrics: RequestMetrics
    num_cached_tokens: int = 0
    holdback: int = 0  # stop_buffer_length(params)
    num_unfinished: int = 0
    stream: bool = True  # False: one whole output when it finishes, no per-step deltas
    prompt_logprobs: list[dict[str, Any] | None] | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.num_unfinished == 0


class OutputProcessor:
    def __init__(self, tokenizer: Tokenizer | None, eos_token_ids: Iterable[int] = ()) -> None:
        """eos_token_ids: the engine core's, whose text (as a stop token's) is left out of outputs."""
        self.tokenizer = tokenizer
        self.eos_token_ids = frozenset(eos_token_ids)
        self.requests: dict[str, RequestState] = {}
        self.generation_tokens = 0
        self.request_success: Counter[str] = Counter()

    def add_request(
        self,
        request_id: str,
        prompt_ids: list[int],
        params: SamplingParams,
        metrics: RequestMetrics,
        stream: bool = True,
    ) -> None:
        """stream=False (a whole response): `process(stream=True)` reports it once, finished and whole."""
        seqs = []
        for i in range(params.n):
            detok = None
            if params.detokenize and self.tokenizer is not None:
                detok = IncrementalDetokenizer(self.tokenizer, prompt_ids, params.skip_special_tokens)
            seqs.append(SeqState(i, detok, [] if params.logprobs is not None else None))
        self.requests[request_id] = RequestState(
            request_id, prompt_ids, params, seqs, metrics, 0, stop_buffer_length(params), len(seqs), stream
        )
        if not stream:
            metrics.token_times = []

    def process(
        self, outputs: list[TokenOutput], stream: bool
    ) -> tuple[list[RequestOutput], list[tuple[str, int]]]:
        """(request outputs, sequences stopped here on a stop string that the core must free).
        stream=True: deltas of every streamed request that advanced; whole outputs of finished requests
        (all with stream=False, and those added with stream=False otherwise)."""
        touched: dict[str, tuple[RequestState, list[SeqState]]] = {}
        stopped: list[tuple[str, int]] = []
        last_reason: dict[str, str] = {}
        for out in outputs:
            req = self.requests.get(out.request_id)
            if req is None:
                continue  # aborted
            seq = req.seqs[out.index]
            if seq.finish_reason is not None:
                continue  # sampled after its stop string: dropped
            self._append(req, seq, out)
            if seq.finish_reason is not None:
                req.num_unfinished -= 1
                last_reason[req.request_id] = seq.finish_reason
                if out.finish_reason is None:
                    stopped.append((req.request_id, seq.index))
            entry = touched.get(req.request_id)
            if entry is None:
                touched[req.request_id] = (req, [seq])
            elif seq not in entry[1]:
                entry[1].append(seq)
        now = time.monotonic()
        results = []
        for request_id, (req, changed) in touched.items():
            m = req.metrics
            m.first_token_time = m.first_token_time or now
            m.last_token_time = now
            if m.token_times is not None:
                m.token_times.append(now)
            if req.finished:
                m.finished_time = now
                self.request_success[last_reason.get(request_id, "stop")] += 1
                del self.requests[request_id]
            if stream and req.stream:
                results.append(self._output(req, changed, stream=True))
            elif req.finished:
                results.append(self._output(req, req.seqs, stream=False))
        return results, stopped

    def _append(self, req: RequestState, seq: SeqState, out: TokenOutput) -> None:
        seq.token_ids.append(out.token_id)
        self.generation_tokens += 1
        if out.prompt_logprobs is not None:
            req.prompt_logprobs = out.prompt_logprobs
        if seq.logprobs is not None and out.logprobs is not None:
            seq.logprobs.append(out.logprobs)
        req.num_cached_tokens = max(req.num_cached_tokens, out.num_cached_tokens)
        p = req.params
        # vLLM: the token that stopped the sequence (EOS or a stop token id) is not part of the text
        stop_token = out.finish_reason == "stop" and (
            out.token_id in self.eos_token_ids or out.stop_reason == out.token_id
        )
        new_text = ""
        if seq.detokenizer is not None and not (stop_token and not p.include_stop_str_in_output):
            new_text = seq.detokenizer.step(out.token_id)
        seq.text += new_text
        seq.finish_reason, seq.stop_reason = out.finish_reason, out.stop_reason
        # stop strings come after EOS and stop ids (those end with "stop" in the core), before length
        stoppable = out.finish_reason is None or out.finish_reason == "length"
        if p.stop_strs and new_text and stoppable and len(seq.token_ids) >= p.min_tokens:
            hit = find_stop_string(seq.text, len(new_text), p)
            if hit is not None:
                seq.text = hit[0]
                seq.finish_reason, seq.stop_reason = "stop", hit[1]

    def discard(self, request_id: str) -> None:
        """Forget a request the core refused (nothing ran, nothing is counted)."""
        self.requests.pop(request_id, None)

    def abort(self, request_id: str) -> RequestOutput | None:
        """Forget a request; its final delta (finish_reason "abort" for what had not finished)."""
        req = self.requests.pop(request_id, None)
        if req is None:
            return None
        for seq in req.seqs:
            if seq.finish_reason is None:
                seq.finish_reason = "abort"
        req.num_unfinished = 0
        req.metrics.finished_time = time.monotonic()
        self.request_success["abort"] += 1
        return self._output(req, req.seqs, stream=True)

    def _output(self, req: RequestState, seqs: list[SeqState], stream: bool) -> RequestOutput:
        outs = []
        for seq in seqs:
            if not stream:
                text, ids, lps = seq.text, seq.token_ids, seq.logprobs
            else:
                end = len(seq.text)
                if req.holdback and seq.finish_reason is None:
                    end -= req.holdback
                start = seq.num_emitted_chars
                if end > start:
                    text = seq.text[start:end]
                    seq.num_emitted_chars = end
                else:
                    text = ""
                first = seq.num_emitted_tokens
                ids = seq.token_ids[first:]
                lps = seq.logprobs[first:] if seq.logprobs is not None else None
                seq.num_emitted_tokens = len(seq.token_ids)
            outs.append(CompletionOutput(seq.index, text, ids, lps, seq.finish_reason, seq.stop_reason))
        return RequestOutput(
            req.request_id,
            req.prompt_token_ids,
            outs,
            req.finished,
            req.num_cached_tokens,
            req.metrics,
            req.prompt_logprobs,
        )
