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
        try:
            for request_id, prompt, p in zip(ids, prompts, param_list, strict=True):
                self.add_request(request_id, prompt, p)
            results: dict[str, RequestOutput] = {}
            with tqdm(total=len(ids), desc="Processed prompts", disable=not use_tqdm) as bar:
                while self.has_unfinished():
                    for out in self.step(stream=False):
                        results[out.request_id] = out
                        bar.update(1)
        except BaseException:
            for request_id in ids:
                self.abort_request(request_id)
            raise
        return [results[i] for i in ids]

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
