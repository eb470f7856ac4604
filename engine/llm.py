"""Offline inference: `LLM(model=...).generate(prompts, params)` and `.chat(messages, params)`."""

from __future__ import annotations

from itertools import count
from typing import Any

from tqdm.auto import tqdm

from engine.config import EngineConfig
from engine.distributed.workers import ModelLoader
from engine.llm_engine import LLMEngine
from engine.loader import LoadedModel
from engine.outputs import RequestOutput
from engine.sampling_params import SamplingParams

Prompt = str | list[int]
Messages = list[dict[str, Any]]


class LLM(LLMEngine):
    def __init__(
        self,
        model: str,
        *,
        loaded: LoadedModel | ModelLoader | None = None,
        async_scheduling: bool | None = None,
        **config: Any,
    ) -> None:
        super().__init__(EngineConfig(model=model, **config), loaded, async_scheduling)
        self._ids = count()

    def generate(
        self,
        prompts: Prompt | list[Prompt],
        params: SamplingParams | list[SamplingParams] | None = None,
        use_tqdm: bool = True,
    ) -> list[RequestOutput]:
        if isinstance(prompts, str) or (prompts and isinstance(prompts[0], int)):
            prompts = [prompts]  # type: ignore[list-item]
        params = params or SamplingParams()
        param_list = params if isinstance(params, list) else [params] * len(prompts)
        ids = [f"offline-{next(self._ids)}" for _ in prompts]
        requests = list(zip(ids, prompts, param_list, strict=True))
        try:
            first = self._add_first_step(requests)
            results: dict[str, RequestOutput] = {}
            with tqdm(total=len(ids), desc="Processed prompts", disable=not use_tqdm) as bar:
                if first < len(requests):  # the rest are added while the device runs the first step
                    results.update((o.request_id, o) for o in self.step(stream=False))
                    for request in requests[first:]:
                        self.add_request(*request)
                    bar.update(len(results))
                while self.has_unfinished():
                    for out in self.step(stream=False):
                        results[out.request_id] = out
                        bar.update(1)
        except BaseException:
            for request_id in ids:
                self.abort_request(request_id)
            raise
        return [results[i] for i in ids]

    def _add_first_step(self, requests: list[tuple[str, Prompt, SamplingParams]]) -> int:
        """Add requests in order until their prompts fill a step (the token budget or the sequence
        limit); returns how many. With a step in flight (async scheduling) generate launches that step
        before adding the rest, so their validation and bookkeeping (~0.1 ms each) overlap the device's
        first step instead of delaying it: the first step is the one the whole list would have made.
        Without async scheduling every request is added first."""
        if not self.core.async_scheduling:
            for request in requests:
                self.add_request(*request)
            return len(requests)
        config, tokens, seqs, added = self.core.config, 0, 0, 0
        budget = config.max_num_batched_tokens or 0
        while added < len(requests) and tokens < budget and seqs < config.max_num_seqs:
            req = self.add_request(*requests[added])
            tokens += len(req.prompt_token_ids) * len(req.seqs)
            seqs += len(req.seqs)
            added += 1
        return added

    def chat(
        self,
        messages: Messages | list[Messages],
        params: SamplingParams | list[SamplingParams] | None = None,
        use_tqdm: bool = True,
    ) -> list[RequestOutput]:
        conversations = [messages] if messages and isinstance(messages[0], dict) else messages
        template = self.tokenizer.apply_chat_template
        prompts: list[Prompt] = [
            self.encode(template(c, add_generation_prompt=True), add_special_tokens=False)
            for c in conversations  # type: ignore[union-attr]
        ]
        return self.generate(prompts, params, use_tqdm=use_tqdm)
