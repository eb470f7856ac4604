"""One API request in flight: where it answers, what it generates, what its choices hold so far."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from engine.outputs import CompletionOutput
from engine.server.generation import Generation
from engine.server.request_ids import request_id_of
from engine.server.responses import TokenTexts, usage
from engine.server.state import ServerState

log = logging.getLogger("engine.server")


@dataclass(slots=True)
class ChoiceState:
    text: list[str] = field(default_factory=list, repr=False)  # completion text: kept out of repr()
    logprobs: list[dict[str, Any]] = field(default_factory=list, repr=False)
    tokens: int = 0
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass(slots=True)
class Job:
    request: web.Request
    state: ServerState
    gen: Generation
    response_id: str
    prompts: list[list[int]] = field(repr=False)
    n: int
    created: int = field(default_factory=lambda: int(time.time()))
    choices: list[ChoiceState] = field(init=False)
    texts: TokenTexts = field(init=False)

    def __post_init__(self) -> None:
        self.choices = [ChoiceState() for _ in range(self.n * len(self.prompts))]
        self.texts = TokenTexts(self.state.engine.tokenizer)

    @property
    def request_id(self) -> str:
        return request_id_of(self.request)

    @property
    def model(self) -> str:
        return self.state.model_name

    def index(self, prompt_index: int, output: CompletionOutput) -> int:
        """Choice index: prompts in order, n samples each."""
        return prompt_index * self.n + output.index

    def accumulate(self, prompt_index: int, outputs: list[CompletionOutput], keep: bool) -> None:
        """Count tokens and finish reasons; keep: also keep text and logprobs (non-streaming)."""
        for o in outputs:
            c = self.choices[self.index(prompt_index, o)]
            c.tokens += len(o.token_ids)
            if keep:
                c.text.append(o.text)
                c.logprobs.extend(o.logprobs or ())
            if o.finish_reason is not None:
                c.finish_reason, c.stop_reason = o.finish_reason, o.stop_reason

    def usage(self) -> dict[str, int]:
        return usage(sum(len(p) for p in self.prompts), sum(c.tokens for c in self.choices))

    def log_done(self) -> None:
        u = self.usage()
        reasons = ",".join(sorted({c.finish_reason or "-" for c in self.choices}))
        log.info(
            "request %s (%s): prompt_tokens=%d completion_tokens=%d finish=%s",
            self.request_id,
            self.response_id,
            u["prompt_tokens"],
            u["completion_tokens"],
            reasons,
        )

    def log_disconnect(self) -> None:
        log.info("request %s (%s): client disconnected; aborted", self.request_id, self.response_id)
