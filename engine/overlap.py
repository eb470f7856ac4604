"""Offline generation with the host overlapped on the GPU (vLLM V1's async scheduling, narrowed).

`LLMEngine.step` waits for step N's tokens before it schedules and prepares step N+1, so the GPU idles
while Python works. Here step N+1 is scheduled and launched first, and step N's tokens are read after:
- When step N is launched, each sequence it samples gets a placeholder token (-1) and its bookkeeping
  (computed tokens) moves on, so the scheduler sees it as ready to decode. A -1 never matches a prompt
  (prompt ids are >= 0), so blocks hashed with it can never give a false prefix-cache hit.
- Step N+1's input ids for those rows are taken on the device from step N's sampled tokens.
- Step N's tokens then replace the placeholders; the GPU has step N+1 queued meanwhile.
Stopping must be decidable without the token values, so this loop takes only requests that are
count-based (ignore_eos, no stop strings or stop token ids), n == 1, without logprobs and with the
fused sampler's parameters (engine/fast_sampling.py); `generate_overlapped` falls back to
`LLM.generate` otherwise. A sequence that reaches max_tokens is finished when its last step is launched;
its blocks may be reused by the next step, which the GPU runs after the one still writing them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.outputs import RequestOutput
from engine.sampling_params import SamplingParams
from engine.scheduler import SchedulerOutput
from engine.sequence import Sequence

PLACEHOLDER = -1


def can_overlap(params: SamplingParams) -> bool:
    return (
        params.n == 1
        and params.ignore_eos
        and not params.stop_strs
        and not params.stop_token_ids
        and params.logprobs is None
        and params.seed is None
        and params.top_k == 0
        and params.top_p >= 1.0
        and params.min_p == 0.0
        and params.repetition_penalty == 1.0
        and params.presence_penalty == 0.0
        and params.frequency_penalty == 0.0
        and params.min_tokens == 0
    )


@dataclass(slots=True)
class InFlight:
    seqs: list[Sequence]  # the sampled sequences, in the order of `tokens`
    slots: list[int]  # where each one's placeholder sits in its token_ids
    tokens: torch.Tensor  # int64 [len(seqs)] on the device (step N+1 reads it there)
    last: list[bool]  # whether this step gives the sequence its last token
    host: torch.Tensor  # pinned copy of tokens, queued right after the sampler
    copied: torch.cuda.Event | None  # recorded after that copy: waiting on it does not wait for N+1


class OverlappedLoop:
    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.runner = llm.model_runner
        self.scheduler = llm.scheduler
        self.pending: InFlight | None = None

    def sample(self, logits: torch.Tensor, seqs: list[Sequence]) -> torch.Tensor:
        """Token ids on the device without a host sync (CUDA: the fused kernel); elsewhere the sampler."""
        fast = self.runner.sampler.fast
        if logits.is_cuda:
            tokens = fast.sample_device(logits, seqs)
            if tokens is not None:
                return tokens
        return torch.tensor(self.runner.sampler(logits, seqs).token_ids, device=logits.device)

    def launch(self, sched: SchedulerOutput) -> InFlight | None:
        """Prepare and queue one step; returns its sampled rows (tokens still on the device)."""
        runner, prev = self.runner, self.pending
        inp = runner.prepare(sched)
        if prev is not None:
            # rows whose input token is step N's placeholder read it from step N's device tokens
            rows = {id(s): i for i, s in enumerate(prev.seqs)}
            src = np.full(inp.input_ids.shape[0], -1, dtype=np.int64)
            offset = 0
            for seq, num in zip(sched.seqs, sched.num_scheduled_tokens, strict=True):
                end = seq.num_computed_tokens + num
                if seq.token_ids[end - 1] == PLACEHOLDER:
                    src[offset + num - 1] = rows[id(seq)]
                offset += num
            if (src >= 0).any():
                src_t = torch.from_numpy(src)
                if inp.input_ids.is_cuda:  # pinned + non-blocking: a pageable copy would wait for step N
                    src_t = src_t.pin_memory()
                src_d = src_t.to(inp.input_ids.device, non_blocking=True)
                gathered = prev.tokens[src_d.clamp(min=0)]
                inp.input_ids = torch.where(src_d >= 0, gathered, inp.input_ids)
        logits = runner.run_model(inp)
        self.scheduler.update_after_step(sched)
        if logits is None:
            return None
        tokens = self.sample(logits, inp.sample_seqs)
        slots, last = [], []
        for seq in inp.sample_seqs:
            seq.token_ids.append(PLACEHOLDER)
            slots.append(len(seq.token_ids) - 1)
            done = seq.num_output_tokens >= seq.params.max_tokens or seq.num_tokens >= self.llm.max_model_len
            last.append(done)
            if done:
                seq.finish_reason = "length"
                self.scheduler.finish(seq)
        # Queue the copy to the host now: a .tolist() at collect time would be ordered after step N+1.
        host = torch.empty(tokens.shape, dtype=tokens.dtype, pin_memory=tokens.is_cuda)
        host.copy_(tokens, non_blocking=True)
        copied = None
        if tokens.is_cuda:
            copied = torch.cuda.Event()
            copied.record()
        return InFlight(inp.sample_seqs, slots, tokens, last, host, copied)

    def collect(self, step: InFlight) -> list[RequestOutput]:
        llm = self.llm
        now = time.monotonic()
        finished = []
        if step.copied is not None:
            step.copied.synchronize()  # step N's tokens only; step N+1 keeps the GPU busy
        tokens = step.host.tolist()
        for seq, slot, token, last in zip(step.seqs, step.slots, tokens, step.last, strict=True):
            seq.token_ids[slot] = token
            llm.generation_tokens += 1
            req = llm.requests[seq.request_id]
            req.metrics.first_token_time = req.metrics.first_token_time or now
            req.metrics.last_token_time = now
            if last:
                req.metrics.finished_time = now
                llm.request_success["length"] += 1
                del llm.requests[seq.request_id]
                finished.append(llm._output(req, req.seqs, stream=False))
        return finished

    def run(self) -> list[RequestOutput]:
        outputs: list[RequestOutput] = []
        while self.scheduler.has_unfinished() or self.pending is not None:
            sched = self.scheduler.schedule() if self.scheduler.has_unfinished() else None
            launched = None
            if sched is not None and sched.seqs:
                now = time.monotonic()
                for seq in sched.seqs:
                    metrics = self.llm.requests[seq.request_id].metrics
                    metrics.first_scheduled_time = metrics.first_scheduled_time or now
                launched = self.launch(sched)
            elif self.pending is None:
                raise RuntimeError("the scheduler made no progress with nothing in flight")
            if self.pending is not None:
                outputs += self.collect(self.pending)
            self.pending = launched
        return outputs


def generate_overlapped(
    llm: Any, prompts: list[list[int]], params: list[SamplingParams]
) -> list[RequestOutput]:
    """`LLM.generate` for token-id prompts with the host overlapped on the GPU (no incremental
    detokenization); falls back to `LLM.generate` when a request does not qualify (see above)."""
    if llm.model_runner.tp_size > 1 or not all(can_overlap(p) for p in params):
        return llm.generate(prompts, params, use_tqdm=False)
    ids = [f"overlap-{i}-{time.monotonic_ns()}" for i in range(len(prompts))]
    for request_id, prompt, p in zip(ids, prompts, params, strict=True):
        for seq in llm.add_request(request_id, prompt, p).seqs:
            seq.detokenizer = None
    outs = {o.request_id: o for o in OverlappedLoop(llm).run()}
    return [outs[i] for i in ids]
